"""Decision's own database: one document per case (``cases``), from the first
event that names it to its last decision.

What arrives from other services is attached to the case as it stands, so a
finding, a further contact and the case opening can come in any order; the
casework (state, proposal, recommendation, decisions, history, timescales,
review) is then changed by the domain and the whole case written back in
the same transaction. A batch's transaction stages its cases
(``Transaction.documents``): a case its batch names seven times is read once
and written once. Two transactions changing one case conflict and one is
retried by the consumer guard (WriteConflict), so no change is lost.

Two fields exist for the sweeper's queries: ``research_deadline`` (while
gathering) and ``sla_next`` (the next warning or breach due on any of the
case's timescales, or null).
"""

from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass
class Attached:
    """A case as read, with what an incoming event attaches to it: the
    document's fields as they will be written, and whether it is new."""

    case: CaseRecord
    fields: dict[str, Any]
    new: bool


CASES = "cases"


async def _read(tx: Transaction, case_id: str) -> tuple[dict[str, Any], bool]:
    doc = await tx.documents(CASES).find(case_id)
    if doc is None:
        return {"_id": case_id, "state": "gathering", "findings": {}}, True
    return doc, False


def _attached(doc: dict[str, Any], fields: dict[str, Any], new: bool) -> Attached:
    return Attached(CaseRecord.model_validate({**doc, **fields}), fields, new)


async def record_opened(tx: Transaction, event: CaseOpened) -> Attached:
    """The case as it stands, its opening attached: one read. Nothing is
    written until ``save``, which writes both at once. One consumer handles
    a case's events one at a time (``app.py``), so nothing is written in
    between; a replica that does meets the write in a conflict."""
    data = event.data
    doc, new = await _read(tx, data.case_id)
    return _attached(doc, {
        "opened": data.model_dump(mode="json"),
        "correlation_id": event.correlation_id,
        "research_deadline": data.research_deadline,
        # The case's trace, continued when the sweeper acts on it.
        "trace": trace_headers(),
    }, new)


async def record_finding(tx: Transaction, event: FindingReported) -> Attached:
    """The case as it stands, this agency's finding attached (replacing an
    earlier one): one read."""
    data = event.data
    doc, new = await _read(tx, data.case_id)
    findings = {**(doc.get("findings") or {}), data.agency: data.model_dump(mode="json")}
    return _attached(doc, {"findings": findings}, new)


async def record_added(tx: Transaction, event: ContactAdded) -> Attached | None:
    """The case as it stands, a further contact attached; None if it was
    attached already."""
    data = event.data
    doc, new = await _read(tx, data.case_id)
    added = list(doc.get("added") or [])
    if any((a.get("contact") or {}).get("contact_id") == data.contact.contact_id for a in added):
        return None
    added.append({"contact": data.contact.model_dump(mode="json"), "sender": data.sender,
                  "reason": data.reason, "added_at": data.added_at.isoformat()})
    fields: dict[str, Any] = {"added": added}
    if new:
        fields["correlation_id"] = event.correlation_id
    return _attached(doc, fields, new)


async def load(tx: Transaction, case_id: str) -> CaseRecord | None:
    doc = await tx.documents(CASES).find(case_id)
    return CaseRecord.model_validate(doc) if doc else None


async def save(tx: Transaction, case: CaseRecord, attached: Attached | None = None) -> None:
    """The casework, and what an event attached to the case, staged to be
    written with the transaction."""
    doc, _ = await _read(tx, case.case_id)
    doc.update(attached.fields if attached else {})
    doc.update(case.model_dump(mode="json", include=CASEWORK_FIELDS))
    doc["sla_next"] = case.next_alert()
    tx.documents(CASES).replace(doc)


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
