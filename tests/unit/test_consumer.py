"""A batch consumer over the in-memory unit of work: one transaction per
batch, and the guard's promises kept for each record of it."""

import json
from typing import Any

from aiokafka import ConsumerRecord
from pymongo.errors import AutoReconnect, OperationFailure

from contracts import topics
from contracts.events import DeadLettered
from plumbing.consumer import BatchConsumer, Received, Subscription
from plumbing.guard import ConsumerGuard, Delivery, RetryPolicy, Unusable
from plumbing.unit_of_work import Transaction
from tests.fakes import FakeUnitOfWork


def record(value: Any, offset: int, *, topic: str = "in", partition: int = 1,
           key: str = "k") -> ConsumerRecord[bytes, bytes]:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return ConsumerRecord(topic, partition, offset, 1_700_000_000_000 + offset, 0,
                          key.encode(), raw, None, len(key), len(raw), [])


class Harness:
    def __init__(self, failing: dict[int, list[Exception]] | None = None) -> None:
        self.uow = FakeUnitOfWork()
        self.invalid: list[tuple[Delivery, Exception]] = []
        self.published: list[tuple[str, bytes]] = []
        self.handled: list[int] = []
        self.chains: list[str] = []
        # n -> failures to raise, in turn, when handling the item numbered n
        self.failing = failing or {}
        guard = ConsumerGuard("test", RetryPolicy(attempts=2, first_backoff=0.001),
                              {"in": self.on_invalid})
        guard.publish = self.publish
        guard.keep = self.keep
        self.consumer = BatchConsumer(self.uow, guard)
        self.subscription = Subscription("test", self.handle, self.read)

    async def on_invalid(self, delivery: Delivery, error: Exception) -> None:
        self.invalid.append((delivery, error))

    async def publish(self, topic: str, value: bytes, key: str | None,
                      headers: dict[str, str]) -> None:
        self.published.append((topic, value))

    async def keep(self, held_id: str, delivery: Delivery, why: str) -> str:
        return f"db.quarantine/{held_id}"

    @staticmethod
    def read(received: Received) -> dict[str, Any]:
        decoded = received.decoded
        if not isinstance(decoded, dict) or not isinstance(decoded.get("n"), int):
            raise Unusable([("n", "is not a number")])
        return decoded

    async def handle(self, tx: Transaction, item: dict[str, Any], received: Received) -> None:
        if not await tx.claim(item["id"]):
            return
        queued = self.failing.get(item["n"])
        if queued:
            raise queued.pop(0)
        self.handled.append(item["n"])
        tx.audit(actor="test", action=f"handled {item['n']}")
        self.chains.append(getattr(tx, "chain", "?"))

    async def run(self, *records: ConsumerRecord[bytes, bytes]) -> None:
        await self.consumer.run(self.subscription, records)


def ping(n: int) -> dict[str, Any]:
    return {"id": f"e{n}", "n": n}


async def test_a_batch_is_one_transaction_on_its_partitions_chain() -> None:
    h = Harness()
    await h.run(*(record(ping(n), n) for n in range(5)))
    assert h.handled == [0, 1, 2, 3, 4]
    assert (h.uow.commits, h.uow.aborts) == (1, 0)
    assert set(h.uow.audit) == {"in/1"}
    assert h.uow.claimed == {f"e{n}" for n in range(5)}


async def test_a_redelivered_message_in_a_batch_is_skipped_and_the_others_handled() -> None:
    h = Harness()
    await h.run(record(ping(1), 1))
    await h.run(record(ping(1), 1), record(ping(2), 2), record(ping(2), 3))
    assert h.handled == [1, 2]


async def test_an_unreadable_record_is_set_aside_alone_and_the_batch_commits() -> None:
    h = Harness()
    await h.run(record(ping(1), 1), record(b"not json", 2), record(ping(3), 3))
    assert h.handled == [1, 3]
    assert [d.offset for d, _ in h.invalid] == [2]
    assert h.uow.commits == 1


async def test_one_poison_record_never_fails_its_batch() -> None:
    """The batch is tried once together, then one record per transaction:
    the others commit and the poison one is dead-lettered after its attempts."""
    h = Harness({2: [RuntimeError("boom"), RuntimeError("boom"), RuntimeError("boom")]})
    await h.run(*(record(ping(n), n) for n in range(1, 5)))
    assert h.handled == [1, 1, 3, 4]  # 1 again: the batch it was first in rolled back
    [(topic, value)] = h.published
    assert topic == topics.DLQ
    letter = DeadLettered.model_validate_json(value)
    assert (letter.data.offset, letter.data.attempts) == (2, 2)
    assert "RuntimeError: boom" in letter.data.error
    assert h.uow.claimed == {"e1", "e3", "e4"}


async def test_a_write_conflict_retries_the_whole_batch() -> None:
    h = Harness({2: [OperationFailure("WriteConflict", code=112)]})
    await h.run(*(record(ping(n), n) for n in range(1, 4)))
    assert sorted(h.handled) == [1, 1, 2, 3]  # the first try of 1 rolled back
    assert (h.uow.commits, h.uow.aborts) == (1, 1)
    assert h.published == []


async def test_an_outage_is_waited_out_and_nothing_is_dead_lettered() -> None:
    h = Harness({1: [AutoReconnect("down")] * 3})
    await h.run(record(ping(1), 1), record(ping(2), 2))
    assert h.uow.claimed == {"e1", "e2"}
    assert h.published == []
    assert h.uow.commits == 1


async def test_a_rejection_made_for_a_batch_goes_on_its_partitions_chain() -> None:
    """So that replicas rejecting at once never write one chain's head."""
    h = Harness()

    async def reject(delivery: Delivery, error: Exception) -> None:
        async with h.uow.transaction() as tx:
            tx.audit(actor="test", action="rejected")

    h.consumer.guard.on_invalid["in"] = reject
    await h.run(record(b"not json", 1, partition=2), record(ping(2), 2, partition=2))
    assert set(h.uow.audit) == {"in/2"}
    assert [n.action for n in h.uow.audit["in/2"]] == ["rejected", "handled 2"]


async def test_a_reader_that_fails_dead_letters_its_record_and_the_batch_goes_on() -> None:
    h = Harness()

    def read(received: Received) -> dict[str, Any]:
        if received.delivery.offset == 1:
            raise KeyError("a bug in reading")
        return Harness.read(received)

    h.subscription = Subscription("test", h.handle, read)
    await h.run(record(ping(1), 1), record(ping(2), 2))
    assert h.handled == [2]
    [(topic, value)] = h.published
    assert topic == topics.DLQ
    assert "KeyError" in DeadLettered.model_validate_json(value).data.error
