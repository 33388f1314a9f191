"""The agency's own store: its records, its queue of enquiries and its
disclosure audit.

Nothing here is ever published; only findings built from it are.

An enquiry is kept whole once answered: a researcher's note answers it again,
and answering needs the people it names, its RAG, consent and purpose.
"""

from dataclasses import asdict
from datetime import date, datetime, time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from contracts.events import EnquiryRequested, FindingReported
from plumbing.tracing import trace_headers
from plumbing.unit_of_work import Transaction
from services.research.domain import Record
from synthetic import AgencyRecord, agency_records, population


def _as_datetime(day: date | None) -> datetime | None:
    # BSON has no date-only type.
    return None if day is None else datetime.combine(day, time())


def _as_date(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _family_key(family_name: str) -> str:
    return "".join(ch for ch in family_name.lower() if ch.isalnum())


def _record_doc(record: Record | AgencyRecord) -> dict[str, Any]:
    doc = asdict(record)
    doc["_id"] = doc.pop("record_id")
    doc["date_of_birth"] = _as_datetime(record.date_of_birth)
    doc["occurred_on"] = _as_datetime(record.occurred_on)
    doc["family_key"] = _family_key(record.family_name)
    return doc


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.records.create_index("family_key")
    await db.disclosures.create_index("case_id")
    await db.enquiries.create_index([("state", 1), ("priority", 1), ("answer_by", 1),
                                     ("queued_at", 1)])
    await db.enquiries.create_index([("case_id", 1), ("queued_at", -1)])


async def enqueue(tx: Transaction, enquiry: EnquiryRequested, priority: int,
                  now: datetime) -> bool:
    """File an enquiry to answer; False if it was filed before.

    The queued document, keyed by event id, is also the record that the
    message was handled, so a redelivery files nothing twice: an upsert that
    inserts only what is new, never a duplicate key that would end the
    batch's transaction.
    """
    result = await tx.db.enquiries.update_one({"_id": enquiry.id}, {"$setOnInsert": {
        "state": "pending",
        "priority": priority,
        "answer_by": enquiry.data.answer_by,
        "queued_at": now,
        "case_id": enquiry.data.case_id,
        "event": enquiry.model_dump(mode="json"),
        # The enquiry's trace, continued when it is answered.
        "trace": trace_headers(),
    }}, upsert=True, session=tx.session)
    return bool(result.upserted_id is not None)


_QUEUE_ORDER = [("priority", 1), ("answer_by", 1), ("queued_at", 1)]
ENQUIRIES = "enquiries"
DISCLOSURES = "disclosures"


async def any_pending(db: AsyncDatabase[dict[str, Any]]) -> bool:
    """Whether anything waits: asked outside a transaction, so an empty
    queue costs one query and no transaction."""
    return await db.enquiries.find_one({"state": "pending"}, {"_id": 1}) is not None


async def next_pending(tx: Transaction, limit: int = 1
                       ) -> list[tuple[EnquiryRequested, dict[str, str]]]:
    """The most urgent enquiries waiting (RED first, then the earliest
    deadline), each with the trace it arrived in. Staged: answering them
    needs no further read, and all are marked in one write at the commit."""
    cursor = tx.db.enquiries.find({"state": "pending"}, session=tx.session).sort(
        _QUEUE_ORDER).limit(limit)
    staged = tx.documents(ENQUIRIES)
    found = []
    async for doc in cursor:
        staged.seen(doc)
        found.append((EnquiryRequested.model_validate(doc["event"]),
                      dict(doc.get("trace") or {})))
    return found


async def mark_answered(tx: Transaction, enquiry_id: str, finding_id: str,
                        now: datetime) -> bool:
    """Staged: written with the transaction. False when it was not waiting."""
    staged = tx.documents(ENQUIRIES)
    doc = await staged.find(enquiry_id)
    if doc is None or doc.get("state") != "pending":
        return False
    staged.replace({**doc, "state": "answered", "finding_id": finding_id, "answered_at": now})
    return True


async def waiting(db: AsyncDatabase[dict[str, Any]]) -> int:
    return await db.enquiries.count_documents({"state": "pending"})


async def seed_if_empty(db: AsyncDatabase[dict[str, Any]], agency: str, size: int,
                        seed: int) -> int:
    """Synthetic records for the demo and tests; a real agency connects its
    own system here instead."""
    if await db.records.estimated_document_count() > 0:
        return 0
    rows = agency_records(agency, population(size, seed), seed)
    docs = [_record_doc(row) for row in rows]
    if docs:
        try:
            await db.records.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            # A replica starting beside this one seeded the same records.
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise
            return int(error.details.get("nInserted", 0))
    return len(docs)


def _keys(enquiry: EnquiryRequested) -> set[str]:
    return {_family_key(s.family_name) for s in enquiry.data.subjects}


def _record(doc: dict[str, Any]) -> Record:
    return Record(
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


async def records_for(tx: Transaction, enquiry: EnquiryRequested) -> list[Record]:
    return (await records_for_each(tx, [enquiry]))[enquiry.id]


async def records_for_each(tx: Transaction, enquiries: list[EnquiryRequested]
                           ) -> dict[str, list[Record]]:
    """Each enquiry's candidate records (by family name), for all of them in
    one query."""
    wanted = sorted(set().union(*(_keys(e) for e in enquiries))) if enquiries else []
    found: list[tuple[str, Record]] = []
    if wanted:
        cursor = tx.db.records.find({"family_key": {"$in": wanted}}, session=tx.session)
        found = [(doc["family_key"], _record(doc)) async for doc in cursor]
    each = {e.id: _keys(e) for e in enquiries}
    return {e.id: [r for key, r in found if key in each[e.id]] for e in enquiries}


async def audit_disclosure(tx: Transaction, enquiry: EnquiryRequested,
                           finding: FindingReported, record_ids: list[str],
                           policy_version: str) -> None:
    data = finding.data
    # Staged: a batch's disclosure records are written in one statement.
    tx.documents(DISCLOSURES).replace(
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
        })


async def enquiry_for(tx: Transaction, case_id: str) -> tuple[str, EnquiryRequested | None] | None:
    """The latest enquiry filed on this case, with its state; None when there
    is none. The event is None for one answered before enquiries were kept
    whole."""
    doc = await tx.db.enquiries.find_one({"case_id": case_id}, sort=[("queued_at", -1)],
                                         session=tx.session)
    if doc is None:
        return None
    event = doc.get("event")
    return str(doc["state"]), None if event is None else EnquiryRequested.model_validate(event)


async def add_note_record(tx: Transaction, record: Record, *, agency: str, case_id: str,
                          added_by: str, command_id: str, now: datetime) -> None:
    """A researcher's note, as one of the agency's own records: the shape of
    every other, and who added it, when, on which case and by which command."""
    await tx.db.records.insert_one(
        {**_record_doc(record), "agency": agency, "case_id": case_id, "added_by": added_by, "added_at": now,
         "command_id": command_id},
        session=tx.session)


async def note_answered(tx: Transaction, enquiry_id: str, *, command_id: str, record_id: str,
                        finding_id: str, now: datetime, first: bool) -> None:
    """On the enquiry: a note answered it, and with which finding. ``first``:
    it was still waiting, and is now answered (the worker leaves it); the
    transaction read it waiting, so a worker answering it at the same time
    meets this write in a conflict, and one of the two is retried."""
    change: dict[str, Any] = {"$push": {"notes": {"command_id": command_id,
                                                  "record_id": record_id,
                                                  "finding_id": finding_id, "at": now}}}
    if first:
        change["$set"] = {"state": "answered", "finding_id": finding_id, "answered_at": now}
    await tx.db.enquiries.update_one({"_id": enquiry_id}, change, session=tx.session)
