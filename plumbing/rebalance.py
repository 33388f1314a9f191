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

That check cannot see a leftover offset that falls *inside* the new
partition: once re-drive has published past it, offset 12 of a partition
now holding 40 records looks like progress, and records 0-11 are never read
(in the broker-restart fault scenario, 2 of 72 contacts waited for ever on
two agencies' enquiries). So when the broker is known to have restarted
empty, the operator's re-drive asks every consumer to rewind: each reads
its partitions again from the start, now and on every assignment for a
while after, so that an offset a slow batch of the old broker commits late
is never where a consumer resumes.
"""

import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger("mash.rebalance")


class RewindStaleOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """A subscriber's rebalance listener; ``consumer`` finds its consumer
    once the subscriber has started (FastStream creates it then)."""

    def __init__(self, consumer: Callable[["RewindStaleOffsets"], AIOKafkaConsumer | None]) -> None:
        self._consumer = consumer
        # Until then (monotonic seconds) every assignment starts at the beginning.
        self._rewinding_until = 0.0

    async def rewind(self, for_seconds: float) -> None:
        """The broker restarted empty: read every partition again from the
        start, now and on each assignment for ``for_seconds``."""
        self._rewinding_until = time.monotonic() + for_seconds
        consumer = self._consumer(self)
        assigned = consumer.assignment() if consumer is not None else set()
        if consumer is None or not assigned:
            return
        log.warning("the broker restarted empty: reading %d partition(s) again from the start",
                    len(assigned))
        await consumer.seek_to_beginning(*assigned)
        # An offset committed late from the old broker must not outlive the
        # rewind: the next assignment reads where this says.
        try:
            await consumer.commit(dict.fromkeys(assigned, 0))
        except KafkaError as error:
            # A rebalance under way: the new assignment rewinds (above).
            log.info("could not commit the rewind (%s); the next assignment rewinds",
                     type(error).__name__)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer(self)
        if consumer is None or not assigned:
            return
        if time.monotonic() < self._rewinding_until:
            log.warning("assigned after the broker restarted empty: reading %s again from "
                        "the start", ", ".join(f"{tp.topic}/{tp.partition}"
                                               for tp in sorted(assigned)))
            await consumer.seek_to_beginning(*assigned)
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
