"""The runtime every service is built on: broker, database, unit of work,
outbox relay, background jobs and the FastStream app, wired once."""

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLScram512
from faststream.specification import AsyncAPI
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import utc_now
from contracts.signing import load_private
from plumbing import audit, logs, metrics, quarantine, tracing, unit_of_work
from plumbing.consumer import BatchConsumer, Subscription
from plumbing.guard import ConsumerGuard, Delivery, InvalidHandler, RetryPolicy
from plumbing.outbox import InFlight, OutboxRelay
from plumbing.rebalance import RewindStaleOffsets
from plumbing.settings import ServiceSettings
from plumbing.unit_of_work import CHAIN, UnitOfWork, chain_name
from plumbing.wire import decode_json

READY_MARKER = "MASH-READY"
# After the broker restarted empty, every assignment for this long reads its
# partitions from the start: it covers a group's rejoin and a slow batch of
# the old broker committing its offsets late.
REWIND_SECONDS = 120.0

Job = Callable[[], Awaitable[Any]]


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """SASL/SCRAM-SHA-512 as the service's own principal, when configured; over
    TLS (SASL_SSL) with the settings' SSL context, which checks the broker."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    options = settings.kafka_client_options()
    return SASLScram512(options["sasl_plain_username"], options["sasl_plain_password"],
                        ssl_context=options.get("ssl_context"),
                        use_ssl=settings.kafka_security_protocol == "SASL_SSL")


class Broker(KafkaBroker):
    """FastStream's Kafka broker, starting its subscribers side by side.

    FastStream starts them one after another, and each consumer's start
    waits on the broker (about 2 s on the embedded tansu): decision, with
    eight subscribers, took 19.6 s to be ready where the others took 7.5 s.
    Started together, eight take 2.0 s instead of 16.1 s (measured alone on
    tansu). Each subscriber has a consumer of its own; none waits on another."""

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


class CommandCounter(monitoring.CommandListener):
    """Counts the commands a service sends its database (mash_db_commands_total)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        metrics.DB_COMMANDS.labels(command=event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def _no_body(msg: Any) -> list[Any]:
    """A batch's records are read from the raw message (plumbing.consumer);
    FastStream's own decoding of them would be wasted, and its JSON decoder
    fails on a list."""
    return []


class Service:
    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        database: str,
        *,
        description: str,
        on_invalid: dict[str, InvalidHandler] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        logs.configure(name, settings.log_level, settings.log_format)
        self.name = name
        self.settings = settings
        self.log = logging.getLogger(f"mash.{name}")
        self.guard = ConsumerGuard(name, retry, on_invalid)
        self.broker = Broker(
            settings.kafka_bootstrap_servers,
            client_id=f"mash-{name}",
            acks="all",
            enable_idempotence=settings.kafka_enable_idempotence,
            # Outermost first: the trace spans the metrics and the guard's
            # retries; the guard sits next to the handler.
            middlewares=[KafkaTelemetryMiddleware(tracer_provider=tracing.tracer_provider(name)),
                         KafkaPrometheusMiddleware(registry=REGISTRY, app_name=f"mash-{name}"),
                         self.guard],
            security=kafka_security(settings),
            decoder=decode_json,
            # Per-message lines go to DEBUG: a busy hub would drown its own log.
            log_level=logging.DEBUG,
            # Ours, not FastStream's own coloured handler: every line JSON.
            logger=logging.getLogger(f"mash.{name}.broker"),
        )
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_uri, appname=f"mash-{name}", tz_aware=True,
            event_listeners=[CommandCounter()])
        self.db: AsyncDatabase[dict[str, Any]] = self.client[database]
        self._committed = asyncio.Event()
        self.uow = UnitOfWork(
            self.client, self.db, name, self._committed,
            audit_key=audit.service_key(settings.audit_key_file),
            signing=(name, load_private(settings.signing_key_file))
            if settings.signing_key_file is not None else None)
        self.relay = OutboxRelay(self.db, self.broker, self._committed, settings.outbox_poll_seconds,
                                 redrive_window=timedelta(seconds=settings.redrive_window_seconds),
                                 watch=settings.outbox_change_stream, service=name)
        self.relay.on_rewind = self._rewind
        self.guard.keep = self._keep_dead_letter
        self.batches = BatchConsumer(self.uow, self.guard)
        self._startup: list[Job] = [lambda: audit.require_key(self.uow.audit_key, name),
                                    lambda: unit_of_work.ensure_indexes(self.db),
                                    lambda: audit.ensure_indexes(self.db),
                                    lambda: quarantine.ensure_indexes(self.db)]
        self._jobs: list[tuple[float, Job]] = [(settings.metrics_seconds, self._observe),
                                               (3600.0, self._purge_quarantine)]
        self._tasks: list[asyncio.Task[None]] = []
        # /metrics and /health listen on a socket bound here, so the port is
        # ours from the start (0: any free one, reported when ready).
        self.listener: socket.socket | None = None
        self.app = AsgiFastStream(
            self.broker,
            asgi_routes=list(metrics.routes({"broker": self._broker_up,
                                             "database": self._database_up},
                                            {"outbox": self._outbox_moving})),
            logger=logging.getLogger(f"mash.{name}.app"),
            specification=AsyncAPI(
                title=f"MASH {name}", version="0.1.0", description=description
            ),
            on_startup=[self._on_startup],
            after_startup=[self._after_startup],
            on_shutdown=[self._on_shutdown],
            after_shutdown=[self._after_shutdown],
        )

    def subscription(self, own_group: str | None = None) -> dict[str, Any]:
        """Subscriber options every consumer in the platform uses.

        ``own_group`` gives the subscriber a consumer group of its own (one
        member), ``mash-<service>.<own_group>``. Every join to a group
        rebalances all its members, and the embedded broker (tansu 0.6) takes
        seconds per rebalance: with six subscribers in one group a restart of
        the decision service once took over 120 s to become ready. Delivery is
        the same: each topic is read once by the service, and a new group
        re-reading a topic from the start is harmless (every message already
        handled is recognised and skipped by its processed record)."""
        return {
            "group_id": f"mash-{self.name}" + (f".{own_group}" if own_group else ""),
            # A new group must read what was published before it joined.
            "auto_offset_reset": "earliest",
            # Commit after the handler (the guard never lets a failure through
            # unhandled), never before: FastStream's default is at-most-once.
            "ack_policy": AckPolicy.ACK,
            "session_timeout_ms": self.settings.kafka_session_timeout_ms,
            "heartbeat_interval_ms": self.settings.kafka_heartbeat_interval_ms,
            "fetch_max_wait_ms": self.settings.kafka_fetch_max_wait_ms,
            # A restarted embedded broker must not leave a partition's start unread.
            "listener": RewindStaleOffsets(self._consumer_of),
        }

    def _consumer_of(self, listener: RewindStaleOffsets) -> AIOKafkaConsumer | None:
        for subscriber in self.broker.subscribers:
            if getattr(subscriber, "_listener", None) is listener:
                consumer = getattr(subscriber, "consumer", None)
                return consumer if isinstance(consumer, AIOKafkaConsumer) else None
        return None

    async def _rewind(self) -> None:
        """The broker restarted empty: every consumer reads again from the start."""
        for subscriber in self.broker.subscribers:
            listener = getattr(subscriber, "_listener", None)
            if not isinstance(listener, RewindStaleOffsets):
                continue
            try:
                await listener.rewind(REWIND_SECONDS)
            except Exception:
                # One consumer's failure must not keep the others, or the
                # re-drive, from their work.
                self.log.exception("could not rewind a consumer")

    def consume(self, subscription: Subscription[Any], topic_names: Sequence[str], *,
                group: str | None, title: str, description: str | None = None,
                schema: Any = None) -> None:
        """Handle ``topic_names`` in batches, one transaction each
        (``plumbing.consumer``), in the consumer group ``group`` of this
        service (``subscription``). ``schema`` names the events for the
        AsyncAPI document."""
        batches = self.batches

        async def on_batch(events: list[Any], message: KafkaMessage) -> None:
            await batches.run(subscription, message.raw_message)

        # The documented payload; the records themselves are read raw.
        on_batch.__annotations__["events"] = list[schema] if schema is not None else list[Any]
        on_batch.__name__ = f"on_{subscription.name.replace('-', '_').replace('.', '_')}"
        self.broker.subscriber(*topic_names, batch=True,
                               max_records=self.settings.kafka_max_records,
                               batch_timeout_ms=self.settings.kafka_batch_timeout_ms,
                               decoder=_no_body, **self.subscription(group), title=title,
                               description=description)(on_batch)

    def on_startup(self, job: Job) -> None:
        self._startup.append(job)

    def in_flight(self, ids: InFlight) -> None:
        """Name outbox events to re-drive whatever their age (see plumbing.outbox)."""
        self.relay.in_flight = ids

    def every(self, seconds: float, job: Job) -> None:
        """A background job that survives its own failures (e.g. a sweeper)."""
        self._jobs.append((seconds, job))

    async def _publish(
        self, topic: str, value: bytes, key: str | None, headers: dict[str, str]
    ) -> None:
        await self.broker.publish(
            value, topic, key=key.encode("utf-8") if key else None, headers=headers
        )

    async def _on_startup(self) -> None:
        self.guard.publish = self._publish
        for job in self._startup:
            await job()

    async def _after_startup(self) -> None:
        self.relay.start()
        for seconds, job in self._jobs:
            self._tasks.append(asyncio.create_task(self._repeat(seconds, job)))
        # `mash up` waits for this line before it calls the stack ready, and
        # reads from it the port this process listens on.
        port = self.listener.getsockname()[1] if self.listener is not None else ""
        print(f"{READY_MARKER} {self.name} {port}".rstrip(), flush=True)

    async def _on_shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.relay.stop()

    async def _after_shutdown(self) -> None:
        await self.client.close()
        tracing.flush()

    async def _keep_dead_letter(self, held_id: str, delivery: Delivery, why: str) -> str:
        return await quarantine.hold(self.db, delivery, held_id=held_id, kind="dead-letter",
                                     reason=why, at=utc_now())

    async def _purge_quarantine(self) -> None:
        purged = await quarantine.purge(self.db, utc_now())
        if purged:
            self.log.info("quarantine: %d message(s) past their retention deleted", purged)

    async def _outbox_moving(self) -> str | None:
        return await self.relay.stalled(self.settings.outbox_stall_seconds)

    async def _broker_up(self) -> bool:
        return await self.broker.ping(timeout=2.0)

    async def _database_up(self) -> bool:
        await self.db.command("ping")
        return True

    async def _observe(self) -> None:
        """Platform gauges: outbox backlog and age, consumer lag."""
        oldest = await self.db[unit_of_work.OUTBOX].find_one(
            {"sent_at": None}, sort=[("created_at", 1)], projection={"created_at": 1})
        metrics.observe_outbox(await self.relay.backlog(),
                               oldest["created_at"].timestamp() if oldest else None)
        lag: dict[str, int] = {}
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if isinstance(consumer, AIOKafkaConsumer):
                for topic, behind in (await _lag(consumer)).items():
                    lag[topic] = lag.get(topic, 0) + behind
        metrics.set_lag(lag)

    async def _repeat(self, seconds: float, job: Job) -> None:
        # A job's audit entries go on a chain of its own, not a partition's.
        CHAIN.set(chain_name(f"job:{getattr(job, '__name__', 'job')}"))
        failures = 0
        while True:
            try:
                await job()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                # Never a hot loop: a database that is down is waited out.
                pause = min(30.0, 0.5 * 2 ** min(failures - 1, 6))
                if failures == 1:
                    self.log.exception("background job failed; retrying with backoff")
                else:
                    self.log.warning("background job failed again (%s); next try in %.0fs",
                                     type(error).__name__, pause)
                await asyncio.sleep(pause)
                continue
            await asyncio.sleep(seconds)

    def bind(self) -> socket.socket:
        """The /metrics and /health socket, bound now: with port 0 the system
        picks a free port and no other process can take it before we listen
        (a launcher that picked one, closed it and passed it on once lost it
        to another process, and the service died with "address in use")."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.settings.metrics_host, self.settings.metrics_port))
        listener.listen(128)
        listener.set_inheritable(True)
        self.listener = listener
        return listener

    def run(self, asgi: Any = None) -> None:
        """Serve the subscribers, plus /metrics and /health on the metrics port;
        or ``asgi``, an app of the service's own that hands the lifespan and
        those two paths to this one (the desk's pages share its port)."""
        listener = self.bind()
        options: dict[str, Any] = {
            # Uvicorn serves on our bound socket; it reports nothing of its own.
            "fd": listener.fileno(),
            # Prometheus scrapes every few seconds: one line each would bury the log.
            "access_log": False,
            # Uvicorn's own log setup would replace the JSON lines.
            "log_config": None,
        }
        if asgi is None:
            asyncio.run(self.app.run(run_extra_options={
                **options, "access_log": "false"}))
            return
        uvicorn.Server(uvicorn.Config(asgi, lifespan="on", **options)).run()


async def _lag(consumer: AIOKafkaConsumer) -> dict[str, int]:
    """Messages not yet handled (end of partition minus committed offset)."""
    assigned: list[TopicPartition] = list(consumer.assignment())
    if not assigned:
        return {}
    ends = await consumer.end_offsets(assigned)
    lag: dict[str, int] = {}
    for tp in assigned:
        committed = await consumer.committed(tp)
        behind = max(0, ends[tp] - (committed or 0))
        lag[tp.topic] = lag.get(tp.topic, 0) + behind
    return lag
