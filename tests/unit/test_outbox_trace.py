"""The outbox keeps the W3C traceparent active when an event is emitted, and
the relay publishes it as a Kafka header, so a trace continues across it."""

import asyncio
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_span_id, format_trace_id

from contracts.envelope import Event
from contracts.events import DeadLetterData, DeadLettered
from plumbing.original import describe
from plumbing.outbox import OutboxRelay
from plumbing.unit_of_work import MongoTransaction

tracer = TracerProvider().get_tracer("test")


def event() -> Event[Any]:
    data = DeadLetterData(consumer="c", topic="t", partition=0, offset=1, key="k", error="e",
                          attempts=1, original=describe(b"x", "k"))
    return DeadLettered.new(data, source="/test", subject="case-1", correlation_id="c-1")


def emitted(tx: MongoTransaction) -> list[dict[str, Any]]:
    return tx._pending


class FakeOutbox:
    """Just enough of a collection for relay_once."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.marked: list[Any] = []

    def find(self, _query: Any) -> "FakeOutbox":
        return self

    def sort(self, *_a: Any) -> "FakeOutbox":
        return self

    def limit(self, _n: int) -> "FakeOutbox":
        return self

    async def to_list(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["sent_at"] is None]

    async def update_many(self, query: Any, _update: Any) -> None:
        self.marked += query["_id"]["$in"]


class FakeBroker:
    """Records what the relay publishes, confirming each at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(self, value: bytes, topic: str, *, key: bytes, headers: dict[str, str],
                      no_confirm: bool) -> "asyncio.Future[None]":
        self.sent.append((topic, key, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def transaction() -> MongoTransaction:
    return MongoTransaction(db=cast(Any, None), session=cast(Any, None), consumer="test")


def test_no_span_no_traceparent() -> None:
    tx = transaction()
    tx.emit("t", event())
    assert "traceparent" not in emitted(tx)[0]["headers"]


async def test_traceparent_is_stored_with_the_event_and_published_with_it() -> None:
    tx = transaction()
    with tracer.start_as_current_span("handle contact") as span:
        tx.emit("mash.topic", event())
        ctx = span.get_span_context()
    [doc] = emitted(tx)
    expected = f"00-{format_trace_id(ctx.trace_id)}-{format_span_id(ctx.span_id)}-{ctx.trace_flags:02x}"
    assert doc["headers"]["traceparent"] == expected
    assert doc["headers"]["ce_id"] == doc["_id"]

    broker = FakeBroker()
    outbox = FakeOutbox(emitted(tx))
    relay = OutboxRelay(cast(Any, {"outbox": outbox}), cast(Any, broker), cast(Any, None), 0.1,
                        watch=False, known_topics=lambda: {"mash.topic"})
    assert await relay.relay_once() == 1
    [(topic, key, headers)] = broker.sent
    assert (topic, key) == ("mash.topic", b"case-1")
    assert headers["traceparent"] == expected
    assert outbox.marked == [doc["_id"]]
    assert trace.get_current_span() is trace.INVALID_SPAN
