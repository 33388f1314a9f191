"""Offsets from a broker that no longer holds them.

The embedded broker keeps topics in memory, so after it restarts every
partition begins again at offset 0. A consumer that was working through a
prefetched batch when it went away keeps acknowledging those records, and
each acknowledgement commits the old offset to the new broker. When the group
is joined again, consumption resumes at that stale offset and the first
messages of the new partition are never read: in a fault test intake resumed
at offsets 60-76 of the new partitions and 135 of 500 contacts went unread; in
another it found offsets 35-43 committed on partitions holding 8-9 records.
A committed offset past the end of its partition can only be
such a leftover (Kafka never commits past what it handed out), so on every
assignment it is replaced by the start of the partition: everything is read
again and the idempotent handlers skip what they have already done.
"""

import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

log = logging.getLogger("mash.rebalance")


class RewindStaleOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """A subscriber's rebalance listener; ``consumer`` finds its consumer
    once the subscriber has started (FastStream creates it then)."""

    def __init__(self, consumer: Callable[["RewindStaleOffsets"], AIOKafkaConsumer | None]) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer(self)
        if consumer is None or not assigned:
            return
        ends = await consumer.end_offsets(list(assigned))
        stale = []
        for tp in assigned:
            committed = await consumer.committed(tp)
            if committed is not None and committed > ends.get(tp, committed):
                stale.append((tp, committed, ends[tp]))
        if stale:
            log.warning("committed offsets past the end of their partitions (the broker was "
                        "restarted empty): reading %s again from the start",
                        ", ".join(f"{tp.topic}/{tp.partition} (committed {c}, end {e})"
                                  for tp, c, e in stale))
            await consumer.seek_to_beginning(*(tp for tp, _, _ in stale))
