"""Notify's own database: what was delivered where, per case."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.events import OutcomeRouted, ReferrerFeedback
from plumbing.unit_of_work import Transaction


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.deliveries.create_index("case_id")


async def record_delivery(tx: Transaction, topic: str,
                          event: OutcomeRouted | ReferrerFeedback) -> None:
    await tx.db.deliveries.insert_one(
        {"_id": event.id, "case_id": event.subject, "topic": topic, "type": event.type,
         "at": event.time},
        session=tx.session,
    )
