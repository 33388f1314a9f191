"""What happens to a message its handler cannot handle.

FastStream's Kafka ack policies each lose or loop: ACK_FIRST and ACK commit
the offset even when the handler failed, NACK_ON_ERROR re-reads a poison
message in a tight loop and blocks its partition, and there is no dead-letter
topic. Every subscriber therefore runs inside this guard:

- a message that can never be read (larger than any event, not JSON, nested
  past reason, fails its contract) goes to the service's ``on_invalid``
  (intake rejects the contact to the referrer) or to ``mash.dlq``, and is
  acknowledged. A dead letter describes the message (``plumbing.original``)
  and the service holds the whole of it (``plumbing.quarantine``): a 2 MB
  message on ``mash.dlq`` would wedge it as it once wedged an outbox;
- the database or broker being away is waited out with capped backoff, for as
  long as it takes: the message is not acknowledged until handled;
- a write conflict (two transactions wrote one document: a case, the audit
  chain's head) is retried after a short random wait that grows and is
  capped at a second: the other transaction commits in milliseconds, and
  the outage backoff (0.2 s doubling to 30 s) once held a RED contact 52 s
  at intake behind a busy GREEN lane;
- any other failure is retried a few times, then dead-lettered with its
  topic, partition, offset, error and attempt count, and acknowledged.
"""

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream._internal.context.repository import ContextRepo
from faststream.message import StreamMessage
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from contracts import topics
from contracts.envelope import MAX_EVENT_BYTES, derived_id
from contracts.events import DeadLetterData, DeadLettered
from plumbing import logs, metrics
from plumbing.original import describe
from plumbing.wire import decode_key, headers_for

log = logging.getLogger("mash.guard")
T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    """Where a message came from, for rejections and dead letters."""

    raw: bytes
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Names this record and no other, even across broker lifetimes.

        Offsets alone repeat: the embedded broker restarts empty, so a new
        message can land at an old offset. A redelivery of the same record
        has the same timestamp and bytes; a new one does not.
        """
        digest = hashlib.sha256(self.raw).hexdigest()[:16]
        return f"{self.topic}/{self.partition}/{self.offset}/{self.timestamp_ms}/{digest}"


class Unusable(Exception):
    """A message that can never be used, for reasons a handler found itself
    (e.g. not signed): treated like a contract violation."""

    def __init__(self, problems: list[tuple[str, str]], **facts: str | None) -> None:
        super().__init__("; ".join(f"{f}: {p}" for f, p in problems))
        self.problems = problems
        self.facts = facts


InvalidHandler = Callable[[Delivery, Exception], Awaitable[None]]
Publish = Callable[[str, bytes, str | None, dict[str, str]], Awaitable[None]]
# Hold a dead letter's whole message in the service's own database; where.
Keep = Callable[[str, Delivery, str], Awaitable[str]]

# Larger than any event can be (contracts.envelope.MAX_EVENT_BYTES), with room
# for a format's own envelope: refused before anything parses it.
MAX_MESSAGE_BYTES = 1024 * 1024
# What a message can never be read for, whoever consumes it.
INVALID = (ValidationError, json.JSONDecodeError, UnicodeDecodeError, RecursionError)


def too_large(delivery: Delivery, limit: int = MAX_MESSAGE_BYTES) -> "Unusable | None":
    if len(delivery.raw) <= limit:
        return None
    return Unusable([("(message)", f"is {len(delivery.raw):,} bytes; no message over "
                                   f"{limit:,} bytes is read")], reason="too-large")


def reason_for(error: BaseException) -> str:
    """Why a message was set aside, in words that repeat none of it: a
    validation error's own text quotes the input, personal data included."""
    if isinstance(error, ValidationError):
        said = "; ".join(f"{'.'.join(str(p) for p in item['loc']) or '(message)'}: {item['msg']}"
                         for item in error.errors(include_url=False, include_input=False,
                                                  include_context=False))
        return f"ValidationError: {said}"[:2000]
    if isinstance(error, json.JSONDecodeError):
        return f"JSONDecodeError: {error.msg} at line {error.lineno} column {error.colno}"
    return f"{type(error).__name__}: {error}"[:2000]


def nested_too_deeply() -> "Unusable":
    return Unusable([("(message)", "is nested too deeply to read (objects or lists inside one "
                                   "another hundreds of levels down)")], reason="unreadable")


def is_transient(error: BaseException) -> bool:
    """Failures of infrastructure that will pass: wait them out, never drop."""
    if isinstance(error, ConnectionFailure | KafkaError | TimeoutError | ConnectionError):
        return True
    if isinstance(error, PyMongoError) and (
        error.has_error_label("TransientTransactionError")
        or error.has_error_label("UnknownTransactionCommitResult")
    ):
        return True
    return is_conflict(error) or (isinstance(error, OperationFailure) and error.code == 251)


def is_conflict(error: BaseException) -> bool:
    """WriteConflict (112): another transaction wrote the same document first."""
    return isinstance(error, OperationFailure) and error.code == 112


@dataclass
class RetryPolicy:
    attempts: int = 5
    first_backoff: float = 0.2
    max_backoff: float = 30.0
    first_conflict_backoff: float = 0.005
    max_conflict_backoff: float = 1.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1)))

    def conflict_backoff(self, attempt: int) -> float:
        """A random wait up to a bound that doubles from 5 ms to a second
        ("full jitter"): random so that two consumers that keep meeting on the
        same document stop meeting, growing so that many of them spread out."""
        ceiling = min(self.max_conflict_backoff, self.first_conflict_backoff * 2 ** min(attempt - 1, 20))
        return random.uniform(0, ceiling)


async def retry_conflicts(work: Callable[[], Awaitable[T]], policy: RetryPolicy,
                          limit: int = 20) -> T:
    """Run one transaction, and again after each write conflict on the
    conflict backoff, raising the conflict after `limit` of them.

    For background jobs (a sweep, a queue worker), which have no message for
    the guard to hold back: without it one conflict on one case failed the
    whole job, and it waited out the outage backoff."""
    conflicts = 0
    while True:
        try:
            return await work()
        except OperationFailure as error:
            conflicts += 1
            if not is_conflict(error) or conflicts >= limit:
                raise
            await asyncio.sleep(policy.conflict_backoff(conflicts))


class ConsumerGuard:
    """A FastStream middleware factory; one guard per service."""

    def __init__(
        self,
        service: str,
        policy: RetryPolicy | None = None,
        on_invalid: dict[str, InvalidHandler] | None = None,
    ) -> None:
        self.service = service
        self.policy = policy or RetryPolicy()
        self.on_invalid = on_invalid or {}
        self.publish: Publish | None = None
        self.keep: Keep | None = None
        # The event limit plus room: no event of ours is larger (tests/unit/test_event_bounds.py).
        self.max_bytes = max(MAX_MESSAGE_BYTES, MAX_EVENT_BYTES)

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> "_Guard":
        return _Guard(msg, context=context, guard=self)

    async def invalid(self, delivery: Delivery, exc: Exception, attempt: int) -> None:
        """A message that can never be used: to its sender (``on_invalid``)
        or the dead letters, and acknowledged."""
        handler = self.on_invalid.get(delivery.topic)
        if handler is not None:
            await self._until_done(handler, delivery, exc)
        else:
            await self.dead_letter(delivery, exc, attempt)

    async def handle(self, call: Callable[[], Awaitable[T]], delivery: Delivery) -> T | None:
        """``call`` until it succeeds, waiting out outages and conflicts;
        the message set aside when it can never be used or keeps failing."""
        policy = self.policy
        attempt = conflicts = 0
        while True:
            attempt += 1
            try:
                return await call()
            except (*INVALID, Unusable) as exc:
                await self.invalid(delivery, nested_too_deeply()
                                   if isinstance(exc, RecursionError) else exc, attempt)
                return None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_conflict(exc):
                    # Not an attempt: a conflict says nothing about the message.
                    attempt -= 1
                    conflicts += 1
                    metrics.RETRIES.labels(topic=delivery.topic, reason="conflict").inc()
                    if conflicts % 20 == 0:
                        log.warning("%s/%d/%d has met %d write conflicts; still retrying",
                                    delivery.topic, delivery.partition, delivery.offset, conflicts)
                    await asyncio.sleep(policy.conflict_backoff(conflicts))
                    continue
                if is_transient(exc):
                    metrics.RETRIES.labels(topic=delivery.topic, reason="outage").inc()
                    log.warning(
                        "transient failure on %s/%d/%d (attempt %d): %s; retrying",
                        delivery.topic, delivery.partition, delivery.offset, attempt,
                        type(exc).__name__,
                    )
                    await asyncio.sleep(policy.backoff(min(attempt, 12)))
                    continue
                if attempt >= policy.attempts:
                    log.exception("giving up on %s/%d/%d", delivery.topic, delivery.partition,
                                  delivery.offset)
                    await self.dead_letter(delivery, exc, attempt)
                    return None
                await asyncio.sleep(policy.backoff(attempt))

    async def _until_done(self, handler: InvalidHandler, delivery: Delivery, exc: Exception) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await handler(delivery, exc)
                return
            except Exception as failure:
                if not is_transient(failure):
                    await self.dead_letter(delivery, failure, attempt)
                    return
                log.warning("could not yet record an invalid message from %s/%d/%d "
                            "(attempt %d): %s; retrying", delivery.topic, delivery.partition,
                            delivery.offset, attempt, type(failure).__name__)
                await asyncio.sleep(self.policy.backoff(min(attempt, 12)))

    async def dead_letter(self, delivery: Delivery, error: BaseException, attempts: int) -> None:
        held_id = derived_id("dlq", self.service, delivery.fingerprint)
        why = reason_for(error)
        kept = await self._keep_until_done(held_id, delivery, why)
        key = delivery.key[:200] if delivery.key is not None else None
        data = DeadLetterData(
            consumer=self.service,
            topic=delivery.topic,
            partition=delivery.partition,
            offset=delivery.offset,
            key=key,
            error=why,
            attempts=attempts,
            original=describe(delivery.raw, kept),
        )
        where = f"{delivery.topic}/{delivery.partition}/{delivery.offset}"
        event = DeadLettered.new(
            data, id=held_id, source=f"/mash/{self.service}", subject=key or where,
            correlation_id=key or where)
        await self._publish_until_sent(topics.DLQ, event.checked_bytes(), key, headers_for(event))
        metrics.DEAD_LETTERS.labels(topic=delivery.topic).inc()
        log.error("dead-lettered %s after %d attempt(s): %s", where, attempts, type(error).__name__)

    async def _keep_until_done(self, held_id: str, delivery: Delivery, why: str) -> str:
        if self.keep is None:
            return "not kept"
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.keep(held_id, delivery, why)
            except Exception as exc:  # the database away: the message must not be acked
                if not is_transient(exc):
                    log.error("could not hold a dead letter's message (%s); it is described "
                              "only", type(exc).__name__)
                    return f"not kept: {type(exc).__name__}"
                await asyncio.sleep(self.policy.backoff(min(attempt, 12)))

    async def _publish_until_sent(
        self, topic: str, value: bytes, key: str | None, headers: dict[str, str]
    ) -> None:
        assert self.publish is not None, "guard used before its service started"
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.publish(topic, value, key, headers)
                return
            except Exception as exc:  # the broker away: the message must not be acked
                if not is_transient(exc) and attempt >= self.policy.attempts:
                    raise
                await asyncio.sleep(self.policy.backoff(attempt))


class _Guard(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, guard: ConsumerGuard) -> None:
        super().__init__(msg, context=context)
        self.guard = guard

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        record = msg.raw_message
        if isinstance(record, tuple):
            # A batch: plumbing.consumer guards each of its records itself.
            return await call_next(msg)
        delivery = Delivery(
            raw=msg.body,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=decode_key(record.key),
            timestamp_ms=record.timestamp,
            headers=msg.headers,
        )
        with logs.about(delivery.key[:200] if delivery.key else None):
            oversized = too_large(delivery, self.guard.max_bytes)
            if oversized is not None:
                # Never parsed, never retried: straight to its sender or the dead letters.
                await self.guard.invalid(delivery, oversized, 1)
                return None
            return await self.guard.handle(lambda: call_next(msg), delivery)
