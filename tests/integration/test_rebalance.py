"""On the real broker: an offset committed past the end of its partition (a
leftover from before the embedded broker restarted empty) is not where a
consumer resumes; it reads the partition from the start."""

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from plumbing.rebalance import RewindStaleOffsets
from tests.embedded import Wire


async def read(bootstrap: str, topic: str, group: str, *, rewind: bool) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        if rewind:
            consumer.subscribe([topic], listener=RewindStaleOffsets(lambda _: consumer))
        else:
            consumer.subscribe([topic])
        batch = await consumer.getmany(timeout_ms=8000)
        return [r.value for records in batch.values() for r in records if r.value is not None]
    finally:
        await consumer.stop()


async def test_a_stale_committed_offset_is_read_again_from_the_start(wire: Wire) -> None:
    topic, group = f"mash.test.rewind-{uuid.uuid4().hex[:6]}", f"rewind-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=wire.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=wire.bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(topic, f"m{n}".encode())
    finally:
        await producer.stop()
    # As a consumer of the previous broker leaves it: offset 50 of a
    # partition that now holds three records.
    committer = AIOKafkaConsumer(bootstrap_servers=wire.bootstrap, group_id=group,
                                 enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): 50})
    finally:
        await committer.stop()

    # Without the listener the consumer waits at the stale offset (the case
    # this guards against), with it the three records are read.
    assert await read(wire.bootstrap, topic, group, rewind=False) == []
    assert await read(wire.bootstrap, topic, group, rewind=True) == [b"m0", b"m1", b"m2"]
