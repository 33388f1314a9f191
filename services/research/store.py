"""The agency's own store: its records, its queue of enquiries and its
disclosure audit.

Nothing here is ever published; only findings built from it are.
"""

from dataclasses import asdict
from datetime import date, datetime, time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.events import EnquiryRequested, FindingReported
from plumbing.tracing import trace_headers
from plumbing.unit_of_work import Transaction
from services.research.domain import Record
from synthetic import agency_records, population


def _as_datetime(day: date | None) -> datetime | None:
    # BSON has no date-only type.
    return None if day is None else datetime.combine(day, time())


def _as_date(value: datetime | None) -> date | None:
    return None if value is None else value.date()


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.records.create_index("family_key")
    await db.disclosures.create_index("case_id")
    await db.enquiries.create_index([("state", 1), ("priority", 1), ("answer_by", 1),
                                     ("queued_at", 1)])


async def enqueue(db: AsyncDatabase[dict[str, Any]], enquiry: EnquiryRequested,
                  priority: int, now: datetime) -> bool:
    """File an enquiry to answer; False if it was filed before.

    The queued document, keyed by event id, is also the record that the
    message was handled, so a redelivery files nothing twice.
    """
    try:
        await db.enquiries.insert_one({
            "_id": enquiry.id,
            "state": "pending",
            "priority": priority,
            "answer_by": enquiry.data.answer_by,
            "queued_at": now,
            "case_id": enquiry.data.case_id,
            "event": enquiry.model_dump(mode="json"),
            # The enquiry's trace, continued when it is answered.
            "trace": trace_headers(),
        })
    except DuplicateKeyError:
        return False
    return True


async def next_pending(tx: Transaction) -> tuple[EnquiryRequested, dict[str, str]] | None:
    """The most urgent enquiry waiting (RED first, then the earliest
    deadline), with the trace it arrived in."""
    doc = await tx.db.enquiries.find_one(
        {"state": "pending"},
        sort=[("priority", 1), ("answer_by", 1), ("queued_at", 1)],
        session=tx.session,
    )
    if doc is None:
        return None
    return EnquiryRequested.model_validate(doc["event"]), dict(doc.get("trace") or {})


async def mark_answered(tx: Transaction, enquiry_id: str, finding_id: str,
                        now: datetime) -> bool:
    result = await tx.db.enquiries.update_one(
        {"_id": enquiry_id, "state": "pending"},
        {"$set": {"state": "answered", "finding_id": finding_id, "answered_at": now},
         "$unset": {"event": ""}},
        session=tx.session,
    )
    return result.modified_count == 1


async def waiting(db: AsyncDatabase[dict[str, Any]]) -> int:
    return await db.enquiries.count_documents({"state": "pending"})


async def seed_if_empty(db: AsyncDatabase[dict[str, Any]], agency: str, size: int,
                        seed: int) -> int:
    """Synthetic records for the demo and tests; a real agency connects its
    own system here instead."""
    if await db.records.estimated_document_count() > 0:
        return 0
    rows = agency_records(agency, population(size, seed), seed)
    docs = []
    for row in rows:
        doc = asdict(row)
        doc["_id"] = doc.pop("record_id")
        doc["date_of_birth"] = _as_datetime(row.date_of_birth)
        doc["occurred_on"] = _as_datetime(row.occurred_on)
        doc["family_key"] = "".join(ch for ch in row.family_name.lower() if ch.isalnum())
        docs.append(doc)
    if docs:
        await db.records.insert_many(docs, ordered=False)
    return len(docs)


async def records_for(tx: Transaction, enquiry: EnquiryRequested) -> list[Record]:
    keys = sorted({"".join(ch for ch in s.family_name.lower() if ch.isalnum())
                   for s in enquiry.data.subjects})
    cursor = tx.db.records.find({"family_key": {"$in": keys}}, session=tx.session)
    return [
        Record(
            record_id=doc["_id"],
            record_type=doc["record_type"],
            given_name=doc["given_name"],
            family_name=doc["family_name"],
            date_of_birth=_as_date(doc.get("date_of_birth")),
            postcode=doc.get("postcode"),
            summary=doc["summary"],
            occurred_on=_as_date(doc["occurred_on"]) or date.min,
            risk=doc["risk"],
        )
        async for doc in cursor
    ]


async def audit_disclosure(tx: Transaction, enquiry: EnquiryRequested,
                           finding: FindingReported, record_ids: list[str],
                           policy_version: str) -> None:
    data = finding.data
    await tx.db.disclosures.insert_one(
        {
            "_id": finding.id,
            "case_id": data.case_id,
            "enquiry_id": data.enquiry_id,
            "asked_by": enquiry.source,
            "purpose": enquiry.data.purpose,
            "lawful_basis": data.lawful_basis,
            "rag": enquiry.data.rag.value,
            "consent": enquiry.data.consent.value,
            "disclosure_level": data.disclosure_level,
            "policy_version": policy_version,
            "result": data.result,
            "records_drawn_on": record_ids,
            "disclosed": [item.model_dump(mode="json") for item in data.items],
            "at": data.answered_at,
        },
        session=tx.session,
    )
