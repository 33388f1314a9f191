"""Decision's own database: one document per case (``cases``), from the first
event that names it to its last decision.

What arrives from other services is attached with atomic field updates, so a
finding, a further contact and the case opening can come in any order; the
casework (state, proposal, recommendation, decisions, history, timescales,
review) is then read, changed by the domain and written back in the same
transaction. Two transactions changing one case conflict and one is retried
by the consumer guard (WriteConflict), so no change is lost.

Two fields exist for the sweeper's queries: ``research_deadline`` (while
gathering) and ``sla_next`` (the next warning or breach due on any of the
case's timescales, or null).
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.events import CaseOpened, ContactAdded, FindingReported
from plumbing.tracing import trace_headers
from plumbing.unit_of_work import Transaction
from services.decision.domain import CaseRecord
from services.decision.metrics import LiveCase

CASEWORK_FIELDS = {"state", "proposal", "recommendation", "decision", "decisions", "history",
                   "timescales", "review", "acknowledged_by"}


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.cases.create_index([("state", 1), ("research_deadline", 1)])
    await db.cases.create_index("sla_next")
    await db.cases.create_index("opened.contact.contact_id")


async def record_opened(tx: Transaction, event: CaseOpened) -> None:
    data = event.data
    await tx.db.cases.update_one(
        {"_id": data.case_id},
        {
            "$set": {
                "opened": data.model_dump(mode="json"),
                "correlation_id": event.correlation_id,
                "research_deadline": data.research_deadline,
                # The case's trace, continued when the sweeper acts on it.
                "trace": trace_headers(),
            },
            "$setOnInsert": {"state": "gathering", "findings": {}},
        },
        upsert=True,
        session=tx.session,
    )


async def record_finding(tx: Transaction, event: FindingReported) -> None:
    data = event.data
    await tx.db.cases.update_one(
        {"_id": data.case_id},
        {
            "$set": {f"findings.{data.agency}": data.model_dump(mode="json")},
            "$setOnInsert": {"state": "gathering"},
        },
        upsert=True,
        session=tx.session,
    )


async def record_added(tx: Transaction, event: ContactAdded) -> bool:
    """Attach a further contact; False if it was attached already."""
    data = event.data
    await tx.db.cases.update_one(
        {"_id": data.case_id},
        {"$setOnInsert": {"state": "gathering", "findings": {},
                          "correlation_id": event.correlation_id}},
        upsert=True, session=tx.session)
    result = await tx.db.cases.update_one(
        {"_id": data.case_id, "added.contact.contact_id": {"$ne": data.contact.contact_id}},
        {"$push": {"added": {"contact": data.contact.model_dump(mode="json"),
                             "sender": data.sender,
                             "reason": data.reason,
                             "added_at": data.added_at.isoformat()}}},
        session=tx.session)
    return bool(result.modified_count == 1)


async def load(tx: Transaction, case_id: str) -> CaseRecord | None:
    doc: dict[str, Any] | None = await tx.db.cases.find_one({"_id": case_id}, session=tx.session)
    return CaseRecord.model_validate(doc) if doc else None


async def save(tx: Transaction, case: CaseRecord) -> None:
    fields = case.model_dump(mode="json", include=CASEWORK_FIELDS)
    await tx.db.cases.update_one(
        {"_id": case.case_id},
        {"$set": {**fields, "sla_next": case.next_alert()}},
        session=tx.session,
    )


async def due_for_sweep(db: AsyncDatabase[dict[str, Any]], now: datetime,
                        limit: int = 200) -> dict[str, dict[str, str]]:
    """Cases whose research deadline passed, or with a timescale alert due,
    each with its trace."""
    due: dict[str, dict[str, str]] = {}
    for query in ({"state": "gathering", "research_deadline": {"$lte": now}},
                  {"sla_next": {"$lte": now}}):
        async for doc in db.cases.find(query, {"_id": 1, "trace": 1}).limit(limit):
            due.setdefault(str(doc["_id"]), dict(doc.get("trace") or {}))
    return due


async def open_cases(db: AsyncDatabase[dict[str, Any]], now: datetime, agencies: Iterable[str],
                     horizon: timedelta = timedelta(days=7)) -> list[LiveCase]:
    """What the live gauges count, read every few seconds: cases not yet
    decided, and decided cases with a timescale alert due within ``horizon``
    (the weeks-long social-care timescales join the picture in their last
    week). Only the paths the gauges use are read (``LiveCase.projection``)."""
    projection = LiveCase.projection(agencies)
    cases: list[LiveCase] = []
    for query in ({"state": {"$in": ["gathering", "proposed"]}},
                  {"state": "decided", "sla_next": {"$ne": None, "$lte": now + horizon}}):
        async for doc in db.cases.find(query, projection):
            cases.append(LiveCase.model_validate(doc))
    return cases
