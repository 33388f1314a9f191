"""The outbox relay: publishes what transactions committed, then marks it sent.

A commit in this process wakes the relay at once; polling is the safety net
for events committed just before a crash, which the next start publishes.
Events of one key are published in commit order.
"""

import asyncio
import contextlib
import logging
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import utc_now
from plumbing.unit_of_work import OUTBOX

log = logging.getLogger("mash.outbox")


class OutboxRelay:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        broker: KafkaBroker,
        wake: asyncio.Event,
        poll_seconds: float,
        batch: int = 200,
    ) -> None:
        self._db = db
        self._broker = broker
        self._wake = wake
        self._poll = poll_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def backlog(self) -> int:
        return await self._db[OUTBOX].count_documents({"sent_at": None})

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Database or broker away: keep the events, try again shortly.
                log.exception("outbox relay failed; will retry")
                sent = 0
                await asyncio.sleep(self._poll)
            if sent:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def relay_once(self) -> int:
        pending = (
            await self._db[OUTBOX]
            .find({"sent_at": None})
            .sort("created_at", 1)
            .limit(self._batch)
            .to_list()
        )
        if not pending:
            return 0
        futures = []
        for doc in pending:
            futures.append(
                await self._broker.publish(
                    bytes(doc["value"]),
                    doc["topic"],
                    key=doc["key"].encode("utf-8"),
                    headers=doc["headers"],
                    no_confirm=True,
                )
            )
        # Sent in order without waiting on each; confirmed all before marking.
        await asyncio.gather(*futures)
        await self._db[OUTBOX].update_many(
            {"_id": {"$in": [doc["_id"] for doc in pending]}},
            {"$set": {"sent_at": utc_now()}},
        )
        return len(pending)
