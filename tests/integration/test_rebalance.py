"""On the real broker: an offset committed past the end of its partition (a
leftover from before the embedded broker restarted empty) is not where a
consumer resumes; it reads the partition from the start."""

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from plumbing.rebalance import RewindStaleOffsets
from tests.embedded import Wire


async def read(bootstrap: str, topic: str, group: str, *, rewind: bool,
               rewound: bool = False) -> list[bytes]:
    """What a consumer of ``group`` reads, with the listener (``rewind``),
    told the broker restarted empty (``rewound``)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        if rewind:
            listener = RewindStaleOffsets(lambda _: consumer)
            if rewound:
                await listener.rewind(60)
            consumer.subscribe([topic], listener=listener)
        else:
            consumer.subscribe([topic])
        batch = await consumer.getmany(timeout_ms=8000)
        return [r.value for records in batch.values() for r in records if r.value is not None]
    finally:
        await consumer.stop()


async def three_records(bootstrap: str) -> str:
    topic = f"mash.test.rewind-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(topic, f"m{n}".encode())
    finally:
        await producer.stop()
    return topic


async def commit(bootstrap: str, topic: str, group: str, offset: int) -> None:
    """As a consumer of the previous broker leaves it: its offset committed
    to the new one."""
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                 enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): offset})
    finally:
        await committer.stop()


async def test_a_stale_committed_offset_is_read_again_from_the_start(wire: Wire) -> None:
    topic, group = await three_records(wire.bootstrap), f"rewind-{uuid.uuid4().hex[:6]}"
    # Offset 50 of a partition that now holds three records.
    await commit(wire.bootstrap, topic, group, 50)

    # Without the listener the consumer waits at the stale offset (the case
    # this guards against), with it the three records are read.
    assert await read(wire.bootstrap, topic, group, rewind=False) == []
    assert await read(wire.bootstrap, topic, group, rewind=True) == [b"m0", b"m1", b"m2"]


async def test_after_a_rewind_an_offset_left_inside_the_partition_is_read_from_the_start(
        wire: Wire) -> None:
    topic = await three_records(wire.bootstrap)
    told, not_told = f"rewind-{uuid.uuid4().hex[:6]}", f"rewind-{uuid.uuid4().hex[:6]}"
    # Offset 2 of the old broker, inside the new partition once re-drive
    # has published three records: no check of the end can tell it is stale.
    for group in (told, not_told):
        await commit(wire.bootstrap, topic, group, 2)
    assert await read(wire.bootstrap, topic, not_told, rewind=True) == [b"m2"]
    # Told the broker restarted empty, the consumer reads it all again.
    assert await read(wire.bootstrap, topic, told, rewind=True, rewound=True) == \
        [b"m0", b"m1", b"m2"]


async def test_a_rewind_reads_again_what_a_running_consumer_has_read(wire: Wire) -> None:
    topic, group = await three_records(wire.bootstrap), f"rewind-{uuid.uuid4().hex[:6]}"
    consumer = AIOKafkaConsumer(bootstrap_servers=wire.bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        listener = RewindStaleOffsets(lambda _: consumer)
        consumer.subscribe([topic], listener=listener)
        first = await consumer.getmany(timeout_ms=8000)
        assert sum(len(r) for r in first.values()) == 3
        await consumer.commit()
        await listener.rewind(60)
        again = await consumer.getmany(timeout_ms=8000)
        assert [r.value for records in again.values() for r in records] == \
            [b"m0", b"m1", b"m2"]
        # The rewind is committed: a consumer joining later starts there too.
        assert await consumer.committed(TopicPartition(topic, 0)) == 0
    finally:
        await consumer.stop()
