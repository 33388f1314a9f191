"""The parts' own limits, for bench.pipeline: how fast the embedded broker
moves a message from one topic to the next, and how fast the embedded
database answers one client, measured on the stack under test.

Each is a single client doing nothing else, so it is the most the part gives
one service process on this machine, not the most it could give many.
"""

import asyncio
import os
import random
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import bson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

# A typical event: a contact in an agency's own format is 1.5-3 KB.
EVENT_BYTES = 2048


@dataclass
class BrokerRates:
    messages: int
    message_bytes: int
    produce_per_s: float  # fill: one producer, batched sends, acks=all
    hop_per_s: float      # consume from A and republish to B, a batch at a time
    hop_one_by_one_per_s: float  # consume one, publish it and wait for the ack, next
    one_by_one_messages: int

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass
class DatabaseRates:
    operations: int
    document_bytes: int
    insert_one_per_s: float
    find_one_per_s: float
    update_one_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in asdict(self).items()}


async def _create(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-parts")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1)
                                   for n in names])
    finally:
        await admin.close()


async def _delete(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-parts")
    await admin.start()
    try:
        await admin.delete_topics(names)
    except Exception as exc:  # not every broker deletes; the figures stand either way
        print(f"bench: could not delete {', '.join(names)}: {exc!r}", flush=True)
    finally:
        await admin.close()


async def broker_hop_rate(bootstrap: str, messages: int, partitions: int,
                          one_by_one: int) -> BrokerRates:
    """Fill topic A with `messages` events, then time a consumer that
    republishes each to topic B until every one is acknowledged (acks=all,
    as the services publish); then the same one message at a time, as a
    handler that awaits its publish does."""
    run = uuid.uuid4().hex[:6]
    a, b, c = f"bench.hop.{run}.a", f"bench.hop.{run}.b", f"bench.hop.{run}.c"
    await _create(bootstrap, [a, b, c], partitions)
    payload = os.urandom(EVENT_BYTES // 2).hex().encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="bench-hop")
    await producer.start()
    try:
        began = time.monotonic()
        sent = [await producer.send(a, payload, key=str(n).encode()) for n in range(messages)]
        await asyncio.gather(*sent)
        produce = messages / (time.monotonic() - began)
        hop = await _hop(bootstrap, producer, a, b, messages, batched=True)
        one = await _hop(bootstrap, producer, b, c, min(one_by_one, messages), batched=False)
    finally:
        await producer.stop()
        await _delete(bootstrap, [a, b, c])  # the broker keeps them in memory
    return BrokerRates(messages, len(payload), produce, hop, one, min(one_by_one, messages))


async def _hop(bootstrap: str, producer: AIOKafkaProducer, source: str, target: str,
               count: int, *, batched: bool) -> float:
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        moved = 0
        began: float | None = None
        while moved < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            if began is None and batch:
                began = time.monotonic()
            records = [r for rs in batch.values() for r in rs][:count - moved]
            if batched:
                acks = [await producer.send(target, r.value, key=r.key) for r in records]
                await asyncio.gather(*acks)
            else:
                for r in records:
                    await producer.send_and_wait(target, r.value, key=r.key)
            moved += len(records)
        assert began is not None
        return count / (time.monotonic() - began)
    finally:
        await consumer.stop()


async def database_rates(uri: str, operations: int) -> DatabaseRates:
    """One client, one operation at a time, on a scratch database dropped after."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    name = f"bench_scratch_{uuid.uuid4().hex[:6]}"
    collection = client[name]["documents"]
    body = os.urandom(EVENT_BYTES // 2).hex()
    try:
        await collection.find_one({})  # connect and authenticate outside the clock
        began = time.monotonic()
        for n in range(operations):
            await collection.insert_one({"_id": n, "state": "pending", "body": body,
                                         "at": time.time()})
        inserts = operations / (time.monotonic() - began)
        order = list(range(operations))
        random.Random(7).shuffle(order)
        began = time.monotonic()
        for n in order:
            found = await collection.find_one({"_id": n})
            assert found is not None
        finds = operations / (time.monotonic() - began)
        began = time.monotonic()
        for n in order:
            await collection.update_one({"_id": n}, {"$set": {"state": "answered"}})
        updates = operations / (time.monotonic() - began)
        size = len(bson.encode({"_id": 0, "state": "pending", "body": body, "at": 0.0}))
    finally:
        await client.drop_database(name)
        await client.close()
    return DatabaseRates(operations, size, inserts, finds, updates)
