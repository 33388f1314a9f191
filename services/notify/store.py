"""Notify's own database: what was delivered where, per case, and whether
the receiving team has acknowledged each outcome."""

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.casework import OutcomeAcknowledged
from contracts.events import (
    DeadLettered,
    DeadLetterReplayed,
    DeadLetterResolved,
    OutcomeRouted,
    ReferrerFeedback,
)
from plumbing.unit_of_work import Transaction


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.deliveries.create_index("case_id")
    await db.deliveries.create_index([("acked_at", 1), ("escalated_at", 1), ("ack_due", 1)])


async def record_delivery(tx: Transaction, topic: str,
                          event: OutcomeRouted | ReferrerFeedback) -> None:
    doc: dict[str, Any] = {"_id": event.id, "case_id": event.subject, "topic": topic,
                           "type": event.type, "at": event.time}
    if isinstance(event, OutcomeRouted):
        d = event.data
        doc.update({"correlation_id": event.correlation_id, "destination": d.destination.value,
                    "outcome": d.outcome.value, "rag": d.rag.value, "ack_due": d.ack_by or d.act_by,
                    "acked_at": None, "escalated_at": None})
    await tx.db.deliveries.insert_one(doc, session=tx.session)


async def record_ack(tx: Transaction, ack: OutcomeAcknowledged) -> dict[str, Any] | None:
    """Mark the outcome acknowledged (the first acknowledgement counts)."""
    d = ack.data
    doc: dict[str, Any] | None = await tx.db.deliveries.find_one_and_update(
        {"_id": d.outcome_id, "type": OutcomeRouted.event_type, "acked_at": None},
        {"$set": {"acked_at": d.acknowledged_at, "acked_by": d.team, "ack_id": ack.id}},
        session=tx.session,
    )
    return doc


async def unacknowledged(db: AsyncDatabase[dict[str, Any]], now: datetime,
                         limit: int = 200) -> list[dict[str, Any]]:
    cursor = db.deliveries.find({"type": OutcomeRouted.event_type, "acked_at": None,
                                 "escalated_at": None, "ack_due": {"$lte": now}}).limit(limit)
    return [doc async for doc in cursor]


async def mark_escalated(tx: Transaction, outcome_id: str, now: datetime) -> bool:
    result = await tx.db.deliveries.update_one(
        {"_id": outcome_id, "acked_at": None, "escalated_at": None},
        {"$set": {"escalated_at": now}}, session=tx.session)
    return bool(result.modified_count == 1)


# Dead letters, counted for mash_dlq_depth. Idempotent upserts: a redelivered
# dead letter or marker changes nothing, and a marker read before its dead
# letter (never on one partition, but cheap to allow) still counts.
async def record_dead_letter(tx: Transaction, event: DeadLettered) -> None:
    d = event.data
    await tx.db.dead_letters.update_one(
        {"_id": event.id},
        {"$setOnInsert": {"consumer": d.consumer, "topic": d.topic, "at": event.time,
                          "replayed_at": None, "resolved_at": None}},
        upsert=True, session=tx.session)


async def record_replayed(tx: Transaction, event: DeadLetterReplayed) -> None:
    await tx.db.dead_letters.update_one(
        {"_id": event.data.dead_letter_id},
        {"$set": {"replayed_at": event.data.replayed_at}},
        upsert=True, session=tx.session)


async def record_resolved(tx: Transaction, event: DeadLetterResolved) -> None:
    await tx.db.dead_letters.update_one(
        {"_id": event.data.dead_letter_id},
        {"$set": {"resolved_at": event.data.resolved_at, "resolution": event.data.reason}},
        upsert=True, session=tx.session)


async def dead_letters_waiting(db: AsyncDatabase[dict[str, Any]]) -> int:
    """Neither replayed nor closed (a field never set reads as null)."""
    return await db.dead_letters.count_documents({"replayed_at": None, "resolved_at": None})
