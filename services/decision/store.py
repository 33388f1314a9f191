"""Decision's own database: one document per case while it is gathered and
once it is decided. Updates touch separate fields so a finding and the case
opening can arrive in either order."""

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from contracts.events import CaseOpened, CaseOpenedData, DecisionMade, FindingData, FindingReported
from plumbing.unit_of_work import Transaction


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.cases.create_index([("state", 1), ("research_deadline", 1)])


async def record_opened(tx: Transaction, event: CaseOpened) -> dict[str, Any]:
    data = event.data
    doc: dict[str, Any] | None = await tx.db.cases.find_one_and_update(
        {"_id": data.case_id},
        {
            "$set": {
                "opened": data.model_dump(mode="json"),
                "correlation_id": event.correlation_id,
                "research_deadline": data.research_deadline,
            },
            "$setOnInsert": {"state": "gathering", "findings": {}},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
        session=tx.session,
    )
    assert doc is not None, "an upsert returning the document after always returns one"
    return doc


async def record_finding(tx: Transaction, event: FindingReported) -> dict[str, Any]:
    data = event.data
    doc: dict[str, Any] | None = await tx.db.cases.find_one_and_update(
        {"_id": data.case_id},
        {
            "$set": {f"findings.{data.agency}": data.model_dump(mode="json")},
            "$setOnInsert": {"state": "gathering"},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
        session=tx.session,
    )
    assert doc is not None, "an upsert returning the document after always returns one"
    return doc


def opened_of(doc: dict[str, Any]) -> CaseOpenedData | None:
    return CaseOpenedData.model_validate(doc["opened"]) if "opened" in doc else None


def findings_of(doc: dict[str, Any]) -> dict[str, FindingData]:
    return {a: FindingData.model_validate(f) for a, f in (doc.get("findings") or {}).items()}


async def record_decision(tx: Transaction, decision: DecisionMade) -> bool:
    """True if this decision is the case's first; False if one already exists."""
    result = await tx.db.cases.update_one(
        {"_id": decision.data.case_id, "state": "gathering"},
        {"$set": {"state": "decided", "decision": decision.data.model_dump(mode="json")}},
        session=tx.session,
    )
    return result.modified_count == 1


async def due_for_sweep(db: AsyncDatabase[dict[str, Any]], now: datetime,
                        limit: int = 200) -> list[str]:
    cursor = db.cases.find(
        {"state": "gathering", "research_deadline": {"$lte": now}}, {"_id": 1}
    ).limit(limit)
    return [str(doc["_id"]) async for doc in cursor]


async def load(tx: Transaction, case_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await tx.db.cases.find_one({"_id": case_id}, session=tx.session)
    return doc
