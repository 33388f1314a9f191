"""Consuming in batches: every record a poll returns, handled in one
transaction, the offsets committed once it has.

One transaction per message spent most of a service's database time on the
transaction itself (claim, outbox and audit statements, the commit): measured
on the embedded database, one transaction per batch of 50 handled 7.3 times
the messages per second of one per message. A lone message is not held back
for a batch to fill: a poll returns whatever has arrived.

The consumer guard's promises hold for a batch:

- a record that can never be read (too large, not JSON, failing its
  contract, refused by the handler's own checks) is set aside on its own
  (the service's ``on_invalid``, or ``mash.dlq``) and the others go on;
- a write conflict is retried with the conflict backoff, an outage waited
  out with the outage backoff, the batch held until it commits;
- any other failure means one record of the batch cannot be handled: the
  batch is then handled again one record per transaction, so the others
  commit and that one alone is retried and dead-lettered.

Each record's handling continues the trace its message carried, and its
audit entries go on the chain of the partition it came from: a consumer owns
its partitions, so replicas of a service never write one chain's head.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import ConsumerRecord

from contracts import topics
from plumbing import logs, metrics, tracing
from plumbing.guard import (
    INVALID,
    ConsumerGuard,
    Delivery,
    Unusable,
    is_conflict,
    is_transient,
    nested_too_deeply,
    too_large,
)
from plumbing.unit_of_work import CHAIN, MongoTransaction, Transaction, chain_name
from plumbing.wire import decode_key

log = logging.getLogger("mash.consumer")
T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    """One record of a batch as its handler sees it."""

    delivery: Delivery
    # How many headers the record carried (duplicates counted): the intake
    # admits a bounded number, and a mapping keeps only the last of each.
    header_count: int = 0
    decoded: Any = None

    @property
    def body(self) -> bytes:
        return self.delivery.raw

    @property
    def headers(self) -> Mapping[str, str]:
        return self.delivery.headers

    @property
    def topic(self) -> str:
        """The topic the record came from, its RED lane named as the main topic."""
        return topics.unlaned(self.delivery.topic)


Read = Callable[[Received], T]
Handle = Callable[[Transaction, T, Received], Awaitable[None]]
Decode = Callable[[Received], Any]


def decode_json(received: Received) -> Any:
    return json.loads(received.body)


def received_of(record: ConsumerRecord[Any, Any]) -> Received:
    raw_headers = list(record.headers or ())
    headers = {k: (v or b"").decode("utf-8", errors="replace") for k, v in raw_headers}
    value = record.value if isinstance(record.value, bytes) else b""
    return Received(Delivery(raw=value, topic=record.topic, partition=record.partition,
                             offset=record.offset, key=decode_key(record.key),
                             timestamp_ms=record.timestamp, headers=headers),
                    header_count=len(raw_headers))


def event_id_of(received: Received) -> str | None:
    """The id a handler will most likely claim: the event's own."""
    decoded = received.decoded
    event_id = decoded.get("id") if isinstance(decoded, dict) else None
    return event_id if isinstance(event_id, str) else None


@dataclass
class Subscription(Generic[T]):
    """How one consumer turns records into work: ``decode`` the bytes,
    ``read`` them into what the handler takes (both outside any transaction:
    what either raises sets the record aside on its own), then ``handle``
    each in the batch's transaction."""

    name: str
    handle: Handle[T]
    read: Read[T]
    decode: Decode = decode_json


class Transactions(Protocol):
    """A unit of work: ``plumbing.unit_of_work.UnitOfWork``, or the unit
    tests' in-memory one."""

    def transaction(self, chain: str | None = None
                    ) -> AbstractAsyncContextManager[Transaction]: ...


class BatchConsumer:
    """Runs a subscription's batches over a service's unit of work and guard."""

    def __init__(self, uow: Transactions, guard: ConsumerGuard) -> None:
        self.uow = uow
        self.guard = guard

    async def run(self, subscription: Subscription[Any],
                  records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        if not records:
            return
        metrics.BATCH_RECORDS.labels(subscriber=subscription.name).observe(len(records))
        # Every transaction for this batch, a rejection's included, goes on
        # the chain of its first partition: this consumer owns it.
        token = CHAIN.set(chain_name(f"{records[0].topic}/{records[0].partition}"))
        try:
            ready: list[tuple[Received, Any]] = []
            for record in records:
                item = await self._read(subscription, received_of(record))
                if item is not None:
                    ready.append(item)
            if ready and not await self._together(subscription, ready):
                for received, item in ready:
                    await self._alone(subscription, received, item)
        finally:
            CHAIN.reset(token)

    async def _read(self, subscription: Subscription[Any],
                    received: Received) -> tuple[Received, Any] | None:
        """The record decoded and read, or None once it has been set aside."""
        delivery = received.delivery
        with logs.about(delivery.key[:200] if delivery.key else None):
            oversized = too_large(delivery, self.guard.max_bytes)
            if oversized is not None:
                await self.guard.invalid(delivery, oversized, 1)
                return None
            try:
                received = Received(delivery, received.header_count,
                                    subscription.decode(received))
                return received, subscription.read(received)
            except (*INVALID, Unusable) as exc:
                await self.guard.invalid(delivery, nested_too_deeply()
                                         if isinstance(exc, RecursionError) else exc, 1)
                return None
            except Exception as exc:
                # Reading is pure: what fails once fails again. Dead-lettered,
                # never let out, where it would commit the batch's offsets
                # with nothing handled.
                log.exception("could not read %s/%d/%d", delivery.topic, delivery.partition,
                              delivery.offset)
                await self.guard.dead_letter(delivery, exc, 1)
                return None

    async def _handle_all(self, subscription: Subscription[Any],
                          ready: list[tuple[Received, Any]]) -> None:
        async with self.uow.transaction() as tx:
            if isinstance(tx, MongoTransaction):
                # Every claim of the batch looked up in one query.
                await tx.recall(i for i in (event_id_of(r) for r, _ in ready) if i is not None)
            for received, item in ready:
                # FastStream traces a batch as one span of a trace of its
                # own; each record's work continues its message's trace (or
                # starts one), so a contact is one trace across the hub.
                with (logs.about(_key(received)),
                      tracing.continued(received.headers, f"{received.topic} process")):
                    await subscription.handle(tx, item, received)

    async def _together(self, subscription: Subscription[Any],
                        ready: list[tuple[Received, Any]]) -> bool:
        """The whole batch in one transaction; False when one of its records
        failed for a reason of its own (the batch is then handled one by one)."""
        if len(ready) == 1:
            return False
        policy = self.guard.policy
        conflicts = outages = 0
        topic = ready[0][0].delivery.topic
        while True:
            try:
                await self._handle_all(subscription, ready)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_conflict(exc):
                    conflicts += 1
                    metrics.RETRIES.labels(topic=topic, reason="conflict").inc()
                    if conflicts % 20 == 0:
                        log.warning("a batch of %d from %s has met %d write conflicts; still "
                                    "retrying", len(ready), topic, conflicts)
                    await asyncio.sleep(policy.conflict_backoff(conflicts))
                    continue
                if is_transient(exc):
                    outages += 1
                    metrics.RETRIES.labels(topic=topic, reason="outage").inc()
                    log.warning("transient failure on a batch of %d from %s (attempt %d): %s; "
                                "retrying", len(ready), topic, outages, type(exc).__name__)
                    await asyncio.sleep(policy.backoff(min(outages, 12)))
                    continue
                log.warning("a batch of %d from %s failed (%s): handling it one message at "
                            "a time", len(ready), topic, type(exc).__name__)
                return False

    async def _alone(self, subscription: Subscription[Any], received: Received,
                     item: Any) -> None:
        """One record in a transaction of its own, as the guard handles a
        message: retried while the failure may pass, then set aside."""
        delivery = received.delivery

        async def once() -> None:
            await self._handle_all(subscription, [(received, item)])

        with logs.about(_key(received)):
            await self.guard.handle(once, delivery)


def _key(received: Received) -> str | None:
    key = received.delivery.key
    return key[:200] if key else None
