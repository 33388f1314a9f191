"""The outbox relay: publishes what transactions committed, then marks it sent.

Waking. A commit in this process wakes the relay at once; polling (every
``MASH_OUTBOX_POLL_SECONDS``) finds documents written by anyone else (a second
instance, a re-drive) and events committed just before a crash, which the
next start publishes. A change stream on the outbox (inserts only) can wake
it for the former at once (``MASH_OUTBOX_CHANGE_STREAM``; off by default: on
SecantusDB it costs more database work than everything else together, and
without it a database whose change stream is unavailable loses nothing). Events are
published in commit order (``created_at``), so one key's events keep their
order. Each outbox document keeps the headers stored when it was emitted,
``traceparent`` included, so a trace continues across the relay.

Re-drive: the database is the source of truth, the broker is transport. The
embedded broker (tansu) keeps topics in memory only, so after it restarts
whatever was published but not yet consumed is gone. Every service therefore
keeps its outbox after sending, and on request (``mash reconcile``, which the
stack also runs after every start and every broker restart) marks unsent again:

- every outbox event created since a cut-off (``MASH_REDRIVE_WINDOW_SECONDS``,
  default 7 days: longer than any research deadline, 72 h for GREEN, so
  every case still gathering is covered), and
- whatever the service names as still in flight regardless of age (notify:
  outcomes not yet acknowledged, so receiving teams see them again and their
  acknowledgements, which a restarted broker forgot, are given again);

and the relay republishes them in their original order with their original
ids. Why this and not a per-service query ("enquiries without findings,
decisions without outcomes"): no service knows another's state (intake cannot
see which cases decision has decided), a replay needs no new code per event
kind, and it is correct because every consumer is idempotent by event id
(processed-message records, the research queue keyed by enquiry id, ids
derived from the consumed event), so a repeat is acknowledged and skipped.
The cost is bounded by the window: a week of a large hub's events is tens of
thousands of small messages, republished in batches.

Failures. Each event is marked sent as soon as the broker confirms it, so a
retry never sends again what was confirmed (one stuck event once had the
events ahead of it re-sent every second, 161 times each). An event that can
never be published (larger than the broker takes, a topic it refuses or that
no contract names, a document that cannot be read) is set aside: held whole
in the service's quarantine (``plumbing.quarantine``, kind ``unpublished``),
counted (``mash_outbox_set_aside_total``) and announced on ``mash.dlq``, and
the relay goes on with the rest in order. Anything else (the broker away) is
retried with a growing pause, never a hot loop; the oldest unsent event's
age is a gauge, ``/health`` says ``degraded`` when it passes
``MASH_OUTBOX_STALL_SECONDS``, and ``mash reconcile`` names the event, its
topic, size and error.

The request is a document ``{_id: "redrive"}`` in the service's own
``control`` collection, written by the operator; the relay checks it between
batches (so a re-drive never races a batch in flight), does it, and records
when and how many events it re-queued. A request made while the service is
down is done when it starts.

A request may also say the broker restarted empty (``rewind``): then every
process of the service, each replica too, has its consumers read their
partitions again from the start (``plumbing.rebalance``) before re-driving.
Each process does it once per request, and only while the request is fresh:
a process started a day later has nothing of the old broker to forget.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from bson import Binary
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from contracts import topics
from contracts.envelope import MAX_EVENT_BYTES, derived_id, utc_now
from contracts.events import DeadLetterData, DeadLettered
from plumbing import metrics, quarantine
from plumbing.original import describe
from plumbing.tracing import attached
from plumbing.unit_of_work import OUTBOX, entry

log = logging.getLogger("mash.outbox")

CONTROL = "control"
REDRIVE = "redrive"
# A record's headers and framing beside its value, under the broker's 1 MiB.
MAX_RECORD_BYTES = MAX_EVENT_BYTES + 100_000

# A rewind asked for longer ago than this is not done by a process that
# starts later: it has read nothing from the old broker.
REWIND_FRESH = timedelta(minutes=10)

# Ids of outbox events a service still needs delivered whatever their age.
InFlight = Callable[[], Awaitable[list[str]]]
Rewind = Callable[[], Awaitable[None]]


class Unpublishable(Exception):
    """An outbox event no retry will ever get onto the broker."""

    def __init__(self, reason: str, why: str) -> None:
        super().__init__(why)
        self.reason = reason  # a label value: too-large, unknown-topic, refused, unreadable


def unpublishable(error: BaseException) -> str | None:
    """Why a failed publish will fail however often it is tried, or None
    when it may pass (the broker away, a leader moving)."""
    if isinstance(error, MessageSizeTooLargeError | RecordTooLargeError | RecordListTooLargeError):
        return "too-large"
    if isinstance(error, TopicAuthorizationFailedError | InvalidTopicError):
        return "refused"
    if isinstance(error, CorruptRecordException | TypeError | UnicodeError):
        return "unreadable"
    return None


def stuck_line(doc: dict[str, Any]) -> str:
    """An unsent event as an operator needs it: which, where to, how big, why."""
    value = doc.get("value")
    size = f"{len(value):,} bytes" if isinstance(value, bytes | Binary) else "no value"
    tried = int(doc.get("attempts") or 0)
    error = doc.get("last_error") or "not tried yet"
    return (f"{doc.get('_id')} to {doc.get('topic')} ({size}, {tried} failed attempt(s)): "
            f"{error}")


class OutboxStore(Protocol):
    """Where the relay finds what to publish and records what happened."""

    async def unsent(self, limit: int) -> list[dict[str, Any]]: ...

    async def mark_sent(self, ids: list[Any], at: datetime) -> None: ...

    async def note_failure(self, event_id: Any, error: str, at: datetime) -> None: ...

    async def set_aside(self, doc: dict[str, Any], reason: str, why: str,
                        at: datetime) -> None: ...

    async def oldest_unsent(self) -> dict[str, Any] | None: ...

    async def backlog(self) -> int: ...


class MongoOutbox:
    """The outbox collection in the service's own database."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], service: str) -> None:
        self._db = db
        self._service = service

    async def unsent(self, limit: int) -> list[dict[str, Any]]:
        return await (self._db[OUTBOX].find({"sent_at": None}).sort("created_at", 1)
                      .limit(limit).to_list())

    async def mark_sent(self, ids: list[Any], at: datetime) -> None:
        await self._db[OUTBOX].update_many({"_id": {"$in": ids}}, {"$set": {"sent_at": at}})

    async def note_failure(self, event_id: Any, error: str, at: datetime) -> None:
        await self._db[OUTBOX].update_one(
            {"_id": event_id, "sent_at": None},
            {"$set": {"last_error": error[:500], "failed_at": at}, "$inc": {"attempts": 1}})

    async def oldest_unsent(self) -> dict[str, Any] | None:
        return await self._db[OUTBOX].find_one({"sent_at": None}, sort=[("created_at", 1)])

    async def backlog(self) -> int:
        return await self._db[OUTBOX].count_documents({"sent_at": None})

    async def set_aside(self, doc: dict[str, Any], reason: str, why: str, at: datetime) -> None:
        """Hold the event whole, take it out of the outbox and, unless it was
        itself a dead letter, announce it on mash.dlq: one transaction."""
        value = doc.get("value")
        raw = bytes(value) if isinstance(value, bytes | Binary) else repr(doc).encode()
        held_id = derived_id("unpublished", self._service, str(doc.get("_id")))
        topic = str(doc.get("topic"))
        key = str(doc.get("key") or "")[:200] or None
        headers = doc.get("headers") if isinstance(doc.get("headers"), dict) else {}

        async def move(session: AsyncClientSession) -> None:
            kept = await quarantine.keep(
                self._db, held_id=held_id, kind="unpublished", raw=raw, topic=topic,
                partition=-1, offset=-1, key=key, headers=headers or {}, reason=why, at=at,
                session=session)
            await self._db[OUTBOX].delete_one({"_id": doc["_id"]}, session=session)
            if topic == topics.DLQ:
                return  # a dead letter about a dead letter would never end
            dead = DeadLettered.new(
                DeadLetterData(consumer=self._service, topic=topic[:200], partition=-1,
                               offset=-1, key=key, error=why[:2000],
                               attempts=int(doc.get("attempts") or 0) + 1,
                               original=describe(raw, kept), stage="publish"),
                id=held_id, source=f"/mash/{self._service}", subject=key or held_id,
                correlation_id=key or held_id, time=at)
            await self._db[OUTBOX].insert_one(entry(topics.DLQ, dead), session=session)

        async with self._db.client.start_session() as session:
            await session.with_transaction(move)


class OutboxRelay:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        broker: KafkaBroker,
        wake: asyncio.Event,
        poll_seconds: float,
        batch: int = 200,
        *,
        redrive_window: timedelta = timedelta(days=7),
        control_seconds: float = 1.0,
        watch: bool = True,
        service: str = "mash",
        store: OutboxStore | None = None,
        known_topics: Callable[[], Collection[str]] = topics.all_topics,
        send_timeout: float = 10.0,
        max_backoff: float = 30.0,
    ) -> None:
        self._db = db
        self._broker = broker
        self._wake = wake
        self._poll = poll_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watch = watch
        self.redrive_window = redrive_window
        self._control_seconds = control_seconds
        self._control_checked = 0.0
        self.in_flight: InFlight | None = None
        # The service's consumers read again from the start (see rewind).
        self.on_rewind: Rewind | None = None
        self._rewound: str | None = None
        self.watching = False
        self.service = service
        self.store: OutboxStore = store or MongoOutbox(db, service)
        # Read once: the contracts' topics do not change while a service runs,
        # and every event the relay sends is checked against them.
        self._known = frozenset(known_topics())
        self._send_timeout = send_timeout
        self._max_backoff = max_backoff
        # Consecutive failed rounds; the pause before the next grows with it.
        self.failures = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        if self._watch:
            self._watcher = asyncio.create_task(self._follow_inserts(), name="outbox-watch")

    async def stop(self) -> None:
        for task in (self._watcher, self._task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def backlog(self) -> int:
        return await self.store.backlog()

    async def stalled(self, after_seconds: float) -> str | None:
        """Why the outbox is stuck, when its oldest unsent event has waited
        longer than ``after_seconds``; None while it moves."""
        oldest = await self.store.oldest_unsent()
        if oldest is None:
            return None
        age = (utc_now() - oldest["created_at"]).total_seconds()
        if age < after_seconds:
            return None
        return f"the oldest unsent event has waited {age:.0f}s: {stuck_line(oldest)}"

    async def _follow_inserts(self) -> None:
        """Wake the relay on every outbox insert, from any process."""
        failures = 0
        while True:
            try:
                stream = await self._db[OUTBOX].watch([{"$match": {"operationType": "insert"}}])
                async with stream:
                    self.watching = True
                    failures = 0
                    async for _change in stream:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.watching = False
                failures += 1
                if failures == 1:
                    log.warning("outbox change stream unavailable (%s: %s); polling every %.1fs "
                                "instead", type(error).__name__, error, self._poll)
                # Keep trying now and then: the database may come back.
                await asyncio.sleep(min(60.0, 1.0 * 2 ** min(failures, 6)))

    def pause(self) -> float:
        """How long to wait after ``failures`` failed rounds in a row."""
        return float(min(self._max_backoff, self._poll * 2 ** min(self.failures - 1, 10)))

    async def _run(self) -> None:
        while True:
            try:
                await self._check_control()
                done = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Database or broker away: keep the events, try again after a
                # pause that grows, saying so once and then now and then.
                self.failures += 1
                if self.failures == 1:
                    log.warning("outbox relay could not publish (%s: %s); retrying",
                                type(error).__name__, error)
                elif self.failures % 10 == 0:
                    log.warning("outbox relay still failing after %d attempts (%s: %s); "
                                "next in %.0fs", self.failures, type(error).__name__, error,
                                self.pause())
                await asyncio.sleep(self.pause())
                continue
            if self.failures:
                log.info("outbox relay publishing again after %d failed attempt(s)",
                         self.failures)
                self.failures = 0
            if done:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def _check_control(self) -> None:
        now = time.monotonic()
        if now - self._control_checked < self._control_seconds:
            return
        self._control_checked = now
        request = await self._db[CONTROL].find_one({"_id": REDRIVE})
        if request is None:
            return
        await self._rewind_if_asked(request)
        if request.get("done_at") is not None:
            return
        since = request.get("since") or utc_now() - self.redrive_window
        count = await self.redrive(since)
        # Only this request: a newer one written meanwhile stays to be done.
        await self._db[CONTROL].update_one(
            {"_id": REDRIVE, "requested_at": request.get("requested_at")},
            {"$set": {"done_at": utc_now(), "requeued": count}},
        )
        log.info("re-drive: %d outbox event(s) since %s queued to publish again", count,
                 f"{since:%Y-%m-%d %H:%M:%S}")

    async def _rewind_if_asked(self, request: dict[str, Any]) -> None:
        """Every process rewinds once per request (the re-drive itself is
        done once, by whichever replica sees it first)."""
        token, at = request.get("rewind_id"), request.get("requested_at")
        if not token or token == self._rewound or self.on_rewind is None:
            return
        self._rewound = token
        if isinstance(at, datetime) and utc_now() - at > REWIND_FRESH:
            return
        await self.on_rewind()

    async def redrive(self, since: datetime) -> int:
        """Mark unsent what may still be in flight; the relay republishes it."""
        scope: list[dict[str, Any]] = [{"created_at": {"$gte": since}}]
        if self.in_flight is not None:
            ids = await self.in_flight()
            if ids:
                scope.append({"_id": {"$in": ids}})
        result = await self._db[OUTBOX].update_many(
            {"sent_at": {"$ne": None}, "$or": scope},
            {"$set": {"sent_at": None, "redriven_at": utc_now()}},
        )
        return int(result.modified_count)

    def _check(self, doc: dict[str, Any]) -> None:
        """Refuse before sending what could never be sent."""
        value, topic = doc.get("value"), doc.get("topic")
        if not isinstance(value, bytes | Binary) or not isinstance(topic, str) or \
                not isinstance(doc.get("headers", {}), dict):
            raise Unpublishable("unreadable", "the outbox document has no value or topic")
        headers = doc.get("headers") or {}
        size = len(value) + sum(len(str(k)) + len(str(v)) for k, v in headers.items())
        if size > MAX_RECORD_BYTES:
            raise Unpublishable("too-large", f"{size:,} bytes with its headers, over the "
                                             f"{MAX_RECORD_BYTES:,} a record may be")
        if topic not in self._known:
            raise Unpublishable("unknown-topic", f"no contract names the topic {topic[:200]!r}")

    async def _set_aside(self, doc: dict[str, Any], failure: Unpublishable) -> None:
        why = f"{failure.reason}: {failure}"
        await self.store.set_aside(doc, failure.reason, why, utc_now())
        topic = str(doc.get("topic"))[:200]
        metrics.OUTBOX_SET_ASIDE.labels(topic=topic if topic in self._known
                                        else metrics.UNNAMED_TOPIC,
                                        reason=failure.reason).inc()
        log.error("outbox event set aside, never to be published: %s",
                  stuck_line({**doc, "last_error": why}))

    async def relay_once(self) -> int:
        """Publish a batch in commit order; how many left the outbox (sent or
        set aside). Raises when the broker fails, after marking sent what it
        confirmed."""
        pending = await self.store.unsent(self._batch)
        if not pending:
            return 0
        in_flight: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        stopped: tuple[dict[str, Any], BaseException] | None = None
        set_aside = 0
        for doc in pending:
            try:
                self._check(doc)
                # Publish inside the trace of the handler that emitted the event:
                # the telemetry middleware makes its span a child of that one.
                with attached(doc["headers"]):
                    future = await asyncio.wait_for(self._broker.publish(
                        bytes(doc["value"]), doc["topic"], key=str(doc["key"]).encode("utf-8"),
                        headers=dict(doc["headers"]), no_confirm=True),
                        timeout=self._send_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as failed:
                reason = failed.reason if isinstance(failed, Unpublishable) else unpublishable(failed)
                if reason is None:
                    # The broker away: what follows waits its turn, in order.
                    stopped = (doc, failed)
                    break
                await self._set_aside(doc, failed if isinstance(failed, Unpublishable)
                                      else Unpublishable(reason, f"{type(failed).__name__}: {failed}"))
                set_aside += 1
                continue
            in_flight.append((doc, future))
        # Sent in order without waiting on each; each marked once confirmed.
        results = await asyncio.gather(*(f for _, f in in_flight), return_exceptions=True)
        confirmed = []
        for (doc, _), result in zip(in_flight, results, strict=True):
            if not isinstance(result, BaseException):
                confirmed.append(doc["_id"])
                continue
            reason = unpublishable(result)
            if reason is not None:
                await self._set_aside(doc, Unpublishable(reason, f"{type(result).__name__}: "
                                                                 f"{result}"))
                set_aside += 1
            elif stopped is None:
                stopped = (doc, result)
        if confirmed:
            await self.store.mark_sent(confirmed, utc_now())
        if stopped is not None:
            first, error = stopped
            await self.store.note_failure(first["_id"], f"{type(error).__name__}: {error}",
                                          utc_now())
            raise error
        return len(confirmed) + set_aside


async def request_redrive(db: AsyncDatabase[dict[str, Any]], since: datetime | None,
                          by: str, *, rewind: bool = False) -> None:
    """Ask the service that owns ``db`` to re-drive (the operator's side);
    ``rewind`` when the broker restarted empty."""
    await db[CONTROL].update_one(
        {"_id": REDRIVE},
        {"$set": {"requested_at": utc_now(), "since": since, "by": by, "done_at": None,
                  "requeued": None, "rewind_id": uuid.uuid4().hex if rewind else None}},
        upsert=True,
    )
