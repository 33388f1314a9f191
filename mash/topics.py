"""Creating the platform's topics, up front and idempotently."""

import asyncio
import contextlib
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from contracts.topics import all_topics


async def create_topics(bootstrap: str, partitions: int, replication_factor: int = 1,
                        attempts: int = 30, **client: Any) -> list[str]:
    """Create any missing topic; returns the ones created. ``client``: aiokafka
    security options (SASL in production)."""
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="mash-topics",
                                    **client)
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            await admin.close()
            if attempt == attempts:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in all_topics() if t not in existing]
        if missing:
            # Another starter may win the race; its topics are ours too.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([
                    NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
                    for t in missing
                ])
        return missing
    finally:
        await admin.close()
