"""The relay cannot be wedged: an event that can never be published is set
aside and the rest go on in order; what the broker confirmed is never sent
again; an outage is waited out with a growing pause and named."""

import asyncio
from datetime import timedelta
from typing import Any, cast

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)
from mongomock_motor import AsyncMongoMockClient

from contracts.envelope import utc_now
from plumbing.outbox import (
    CONTROL,
    MAX_RECORD_BYTES,
    REDRIVE,
    REWIND_FRESH,
    OutboxRelay,
    request_redrive,
    stuck_line,
)

TOPICS = {"mash.a", "mash.b"}


def doc(n: int, topic: str = "mash.a", key: str = "k", size: int = 10,
        age: float = 0.0) -> dict[str, Any]:
    return {"_id": f"e{n}", "topic": topic, "key": key, "value": b"x" * size,
            "headers": {"ce_id": f"e{n}"}, "created_at": utc_now() - timedelta(seconds=age),
            "sent_at": None}


class FakeOutbox:
    """An OutboxStore in memory."""

    def __init__(self, *docs: dict[str, Any]) -> None:
        self.docs = list(docs)
        self.aside: list[tuple[str, str]] = []
        self.failures: list[tuple[str, str]] = []

    async def unsent(self, limit: int) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["sent_at"] is None][:limit]

    async def mark_sent(self, ids: list[Any], at: Any) -> None:
        for d in self.docs:
            if d["_id"] in ids:
                d["sent_at"] = at

    async def note_failure(self, event_id: Any, error: str, at: Any) -> None:
        self.failures.append((event_id, error))
        for d in self.docs:
            if d["_id"] == event_id:
                d["attempts"] = d.get("attempts", 0) + 1
                d["last_error"] = error

    async def set_aside(self, doc: dict[str, Any], reason: str, why: str, at: Any) -> None:
        self.aside.append((doc["_id"], reason))
        self.docs.remove(doc)

    async def oldest_unsent(self) -> dict[str, Any] | None:
        unsent = [d for d in self.docs if d["sent_at"] is None]
        return min(unsent, key=lambda d: d["created_at"]) if unsent else None

    async def backlog(self) -> int:
        return len([d for d in self.docs if d["sent_at"] is None])


class FakeBroker:
    """Confirms what it is given, except where told to fail (by event id):
    at once on publish, or later when the send is confirmed."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.refuse_now: dict[str, Exception] = {}
        self.fail_later: dict[str, Exception] = {}

    async def publish(self, value: bytes, topic: str, *, key: bytes, headers: dict[str, str],
                      no_confirm: bool) -> "asyncio.Future[None]":
        event_id = headers["ce_id"]
        if event_id in self.refuse_now:
            raise self.refuse_now[event_id]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if event_id in self.fail_later:
            done.set_exception(self.fail_later[event_id])
        else:
            self.sent.append(event_id)
            done.set_result(None)
        return done


def relay(store: FakeOutbox, broker: FakeBroker) -> OutboxRelay:
    return OutboxRelay(cast(Any, {}), cast(Any, broker), asyncio.Event(), 0.5, watch=False,
                       store=store, known_topics=lambda: TOPICS)


async def test_an_event_too_large_is_set_aside_and_the_rest_go_on_in_order() -> None:
    store = FakeOutbox(doc(1), doc(2, size=MAX_RECORD_BYTES + 1), doc(3), doc(4))
    broker = FakeBroker()
    assert await relay(store, broker).relay_once() == 4
    assert broker.sent == ["e1", "e3", "e4"]
    assert store.aside == [("e2", "too-large")]
    assert await store.backlog() == 0


async def test_what_the_broker_refuses_for_ever_is_set_aside_whenever_it_says_so() -> None:
    store = FakeOutbox(doc(1), doc(2), doc(3), doc(4, topic="mash.nowhere"))
    broker = FakeBroker()
    broker.refuse_now["e1"] = MessageSizeTooLargeError()
    broker.fail_later["e3"] = TopicAuthorizationFailedError()
    assert await relay(store, broker).relay_once() == 4
    assert broker.sent == ["e2"]
    assert store.aside == [("e1", "too-large"), ("e4", "unknown-topic"), ("e3", "refused")]


async def test_an_outage_marks_what_was_confirmed_and_names_the_first_it_could_not_send() -> None:
    store = FakeOutbox(doc(1), doc(2), doc(3))
    broker = FakeBroker()
    broker.fail_later["e2"] = KafkaConnectionError("broker away")
    the_relay = relay(store, broker)
    with pytest.raises(KafkaConnectionError):
        await the_relay.relay_once()
    assert [d["_id"] for d in store.docs if d["sent_at"]] == ["e1", "e3"]
    assert store.failures == [("e2", "KafkaConnectionError: KafkaConnectionError: broker away")]
    # Back: only what was never confirmed is sent again.
    broker.fail_later.clear()
    assert await the_relay.relay_once() == 1
    assert broker.sent == ["e1", "e3", "e2"]


async def test_an_outage_on_publish_leaves_the_rest_waiting_their_turn() -> None:
    store = FakeOutbox(doc(1), doc(2), doc(3))
    broker = FakeBroker()
    broker.refuse_now["e2"] = KafkaConnectionError()
    with pytest.raises(KafkaConnectionError):
        await relay(store, broker).relay_once()
    assert broker.sent == ["e1"]  # e3 not tried ahead of e2
    assert store.aside == []


async def test_a_stalled_outbox_says_which_event_where_how_big_and_why() -> None:
    store = FakeOutbox(doc(1, size=2_100_000, age=90))
    await store.note_failure("e1", "KafkaConnectionError: broker away", utc_now())
    the_relay = relay(store, FakeBroker())
    said = await the_relay.stalled(60)
    assert said is not None
    assert said.startswith("the oldest unsent event has waited 90s: e1 to mash.a "
                           "(2,100,000 bytes, 1 failed attempt(s)): KafkaConnectionError")
    assert await the_relay.stalled(120) is None
    assert await relay(FakeOutbox(), FakeBroker()).stalled(0) is None


def test_the_pause_after_failures_grows_and_is_capped() -> None:
    the_relay = relay(FakeOutbox(), FakeBroker())
    pauses = []
    for failures in range(1, 12):
        the_relay.failures = failures
        pauses.append(the_relay.pause())
    assert pauses[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(pauses) == 30.0


def test_a_stuck_line_reads_without_a_value() -> None:
    assert stuck_line({"_id": "x", "topic": "t"}) == "x to t (no value, 0 failed attempt(s)): " \
                                                     "not tried yet"


async def test_each_process_rewinds_once_per_fresh_request_and_the_redrive_is_done_once(
) -> None:
    db: Any = AsyncMongoMockClient(tz_aware=True)["control"]
    rewound: list[str] = []

    def process(name: str) -> OutboxRelay:
        r = OutboxRelay(db, cast(Any, FakeBroker()), asyncio.Event(), 0.5, watch=False,
                        control_seconds=0, store=FakeOutbox(), known_topics=lambda: TOPICS)

        async def rewind() -> None:
            rewound.append(name)

        r.on_rewind = rewind
        return r

    first, second = process("replica 1"), process("replica 2")
    await request_redrive(db, None, by="test")
    await first._check_control()
    assert rewound == []  # a re-drive alone never rewinds
    await request_redrive(db, None, by="test", rewind=True)
    for _ in range(3):
        await first._check_control()
        await second._check_control()
    assert rewound == ["replica 1", "replica 2"]  # each process, once
    assert (await db[CONTROL].find_one({"_id": REDRIVE}))["done_at"] is not None

    # A process started long after the request has nothing to forget.
    await db[CONTROL].update_one({"_id": REDRIVE}, {"$set": {
        "requested_at": utc_now() - REWIND_FRESH - timedelta(seconds=1)}})
    await process("started a day later")._check_control()
    assert rewound == ["replica 1", "replica 2"]
