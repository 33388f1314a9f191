"""The consumer guard on one handler, with FastStream's in-memory broker."""


import pytest
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY
from pydantic import BaseModel
from pymongo.errors import AutoReconnect, OperationFailure

from contracts import topics
from contracts.events import DeadLettered
from plumbing.guard import (
    ConsumerGuard,
    Delivery,
    RetryPolicy,
    is_conflict,
    is_transient,
    retry_conflicts,
)
from plumbing.wire import decode_json


class Ping(BaseModel):
    n: int


class Harness:
    def __init__(self) -> None:
        self.invalid: list[tuple[Delivery, Exception]] = []
        self.published: list[tuple[str, bytes]] = []
        self.held: dict[str, bytes] = {}
        self.calls = 0
        self.failures: list[Exception] = []

    async def keep(self, held_id: str, delivery: Delivery, why: str) -> str:
        self.held[held_id] = delivery.raw
        return f"db.quarantine/{held_id}"

    async def on_invalid(self, delivery: Delivery, error: Exception) -> None:
        self.invalid.append((delivery, error))

    async def publish(self, topic: str, value: bytes, key: str | None,
                      headers: dict[str, str]) -> None:
        self.published.append((topic, value))


def build(h: Harness, invalid_topic: str | None = "in") -> KafkaBroker:
    guard = ConsumerGuard("test", RetryPolicy(attempts=3, first_backoff=0.001),
                          {invalid_topic: h.on_invalid} if invalid_topic else {})
    guard.publish = h.publish
    guard.keep = h.keep
    guard.max_bytes = 10_000
    broker = KafkaBroker(middlewares=[guard], decoder=decode_json)

    @broker.subscriber("in", group_id="g", ack_policy=AckPolicy.ACK)
    async def handle(ping: Ping) -> None:
        h.calls += 1
        if h.failures:
            raise h.failures.pop(0)

    return broker


async def test_unreadable_message_goes_to_the_services_invalid_handler() -> None:
    h = Harness()
    async with TestKafkaBroker(build(h)) as broker:
        await broker.publish(b"not json at all", "in", key=b"k")
        await broker.publish({"n": "one"}, "in")
    assert [d.raw for d, _ in h.invalid] == [b"not json at all", b'{"n":"one"}']
    assert h.invalid[0][0].key == "k"
    assert h.calls == 0
    assert h.published == []


async def test_unreadable_message_is_dead_lettered_where_no_handler_is_set() -> None:
    h = Harness()
    before = dead_letters("in")
    async with TestKafkaBroker(build(h, invalid_topic=None)) as broker:
        await broker.publish(b"\xff\xfe", "in")
    [(topic, value)] = h.published
    assert topic == topics.DLQ
    letter = DeadLettered.model_validate_json(value)
    assert letter.data.topic == "in"
    assert letter.data.attempts == 1
    # Described on the wire, held whole by the service.
    assert letter.data.original.size_bytes == 2
    assert letter.data.original.kept_as == f"db.quarantine/{letter.id}"
    assert h.held[letter.id] == b"\xff\xfe"
    assert dead_letters("in") == before + 1


def dead_letters(topic: str) -> float:
    return REGISTRY.get_sample_value("mash_dead_letters_total", {"topic": topic}) or 0.0


async def test_a_message_larger_than_any_event_is_never_parsed_and_never_wedges() -> None:
    h = Harness()
    async with TestKafkaBroker(build(h, invalid_topic=None)) as broker:
        big = b'{"n": 1, "pad": "' + b"\x01" * 20_000 + b'"}'
        await broker.publish(big, "in")
        await broker.publish({"n": 2}, "in")
    assert h.calls == 1  # only the second
    [(_topic, value)] = h.published
    letter = DeadLettered.model_validate_json(value)
    assert "no message over 10,000 bytes is read" in letter.data.error
    assert len(value) < 5_000  # the dead letter describes, never carries
    assert h.held[letter.id] == big


async def test_json_nested_past_reason_is_invalid_not_a_crash() -> None:
    h = Harness()
    async with TestKafkaBroker(build(h)) as broker:
        await broker.publish(b"[" * 5000 + b"]" * 5000, "in")
    [(_delivery, error)] = h.invalid
    assert "nested too deeply" in str(error)
    assert h.calls == 0


async def test_a_failing_handler_is_retried_then_dead_lettered_and_the_next_message_flows() -> None:
    h = Harness()
    h.failures = [RuntimeError("bug")] * 3
    async with TestKafkaBroker(build(h)) as broker:
        await broker.publish({"n": 1}, "in")
        await broker.publish({"n": 2}, "in")
    assert h.calls == 4  # three attempts, then the next message once
    [(topic, value)] = h.published
    letter = DeadLettered.model_validate_json(value)
    assert topic == topics.DLQ
    assert letter.data.attempts == 3
    assert letter.data.error == "RuntimeError: bug"
    assert letter.data.consumer == "test"
    assert h.held[letter.id] == b'{"n":1}'


async def test_the_database_being_away_is_waited_out_not_dead_lettered() -> None:
    h = Harness()
    h.failures = [AutoReconnect("db restarting")] * 5
    async with TestKafkaBroker(build(h)) as broker:
        await broker.publish({"n": 1}, "in")
    assert h.calls == 6
    assert h.published == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [(AutoReconnect("x"), True), (TimeoutError(), True), (ConnectionResetError(), True),
     (RuntimeError("x"), False), (KeyError("x"), False)],
)
def test_what_counts_as_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_fingerprint_differs_for_a_new_message_at_an_old_offset() -> None:
    first = Delivery(b"a", "t", 0, 5, None, 1000)
    again = Delivery(b"a", "t", 0, 5, None, 1000)
    reused = Delivery(b"b", "t", 0, 5, None, 2000)
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != reused.fingerprint


def test_a_write_conflict_waits_milliseconds_growing_to_a_second_not_the_outage_backoff() -> None:
    policy = RetryPolicy()
    first = [policy.conflict_backoff(1) for _ in range(200)]
    late = [policy.conflict_backoff(40) for _ in range(200)]
    assert max(first) <= 0.005
    assert max(late) <= policy.max_conflict_backoff
    assert max(late) > 0.5  # grown: many consumers on one document spread out
    assert len(set(first)) > 100  # random: two that met once do not meet again in step
    assert policy.backoff(8) == 25.6  # what the eighth conflict used to wait


def conflict() -> OperationFailure:
    return OperationFailure("WriteConflict", code=112)


async def test_write_conflicts_are_retried_until_handled_and_do_not_use_up_attempts() -> None:
    h = Harness()
    failure = conflict()
    assert is_conflict(failure)
    assert is_transient(failure)
    # More conflicts than attempts, then a bug: still three real attempts.
    h.failures = [failure] * 10 + [RuntimeError("bug")] * 3
    async with TestKafkaBroker(build(h)) as broker:
        await broker.publish({"n": 1}, "in")
    assert h.calls == 13
    [(topic, value)] = h.published
    assert topic == topics.DLQ
    assert DeadLettered.model_validate_json(value).data.attempts == 3


class Flaky:
    """A background transaction that fails with ``errors`` in turn, then commits."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.tries = 0

    async def __call__(self) -> str:
        self.tries += 1
        if self.errors:
            raise self.errors.pop(0)
        return "committed"


async def test_a_background_transaction_is_run_again_after_conflicts_until_it_commits() -> None:
    work = Flaky(conflict(), conflict(), conflict())
    assert await retry_conflicts(work, RetryPolicy(first_conflict_backoff=0.001)) == "committed"
    assert work.tries == 4


async def test_a_background_transaction_gives_up_after_its_limit_of_conflicts() -> None:
    work = Flaky(*(conflict() for _ in range(5)))
    with pytest.raises(OperationFailure) as raised:
        await retry_conflicts(work, RetryPolicy(first_conflict_backoff=0.001), limit=3)
    assert is_conflict(raised.value)
    assert work.tries == 3


async def test_any_other_failure_of_a_background_transaction_is_raised_at_once() -> None:
    work = Flaky(OperationFailure("duplicate key", code=11000))
    with pytest.raises(OperationFailure):
        await retry_conflicts(work, RetryPolicy(first_conflict_backoff=0.001))
    assert work.tries == 1
