"""The desk's own database: case views (read models fed by events) and
sessions. Nothing here is another service's."""

import hashlib
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts.caseview import COLLECTION, OPEN_STAGES, CaseView, HistoryLine
from plumbing.unit_of_work import Transaction

SESSIONS = "sessions"
TIMES = ("opened_at", "received_at", "research_deadline", "due_at", "updated_at")
# What a tray row needs, and no more: 5,000 rows are read on every refresh.
TRAY_FIELDS = {"stage": 1, "rag": 1, "rag_order": 1, "due_at": 1, "breached": 1,
               "received_at": 1, "research_deadline": 1, "triage_rag": 1,
               "agencies.agency": 1, "agencies.answered_at": 1, "agencies.answer_by": 1,
               "contacts.contact.referrer.agency": 1, "contacts.contact.kind": 1,
               "recommendation.actor.actor_id": 1}


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[COLLECTION].create_index([("stage", ASCENDING), ("rag_order", ASCENDING),
                                       ("due_at", ASCENDING)])
    await db[COLLECTION].create_index([("agencies.agency", ASCENDING)])
    await db[COLLECTION].create_index([("updated_at", ASCENDING)])
    await db[SESSIONS].create_index([("last_seen", ASCENDING)])


async def load(tx: Transaction, case_id: str) -> CaseView | None:
    """A case's view as this transaction last left it: a batch of events
    about one case reads it once (``Transaction.documents``)."""
    doc = await tx.documents(COLLECTION).find(case_id)
    return CaseView.model_validate(doc) if doc else None


async def save(tx: Transaction, view: CaseView, now: datetime) -> None:
    """Staged: every view a batch changed is written at its commit, at once."""
    view.updated_at = now
    # JSON types throughout (BSON has no date), but the times the tray
    # sorts and filters on stay times.
    doc = view.model_dump(mode="json", by_alias=True)
    doc.update({name: getattr(view, name) for name in TIMES})
    tx.documents(COLLECTION).replace(doc)


async def view(db: AsyncDatabase[dict[str, Any]], case_id: str) -> CaseView | None:
    doc = await db[COLLECTION].find_one({"_id": case_id})
    return CaseView.model_validate(doc) if doc else None


async def written_since(db: AsyncDatabase[dict[str, Any]], since: datetime | None
                        ) -> dict[str, datetime]:
    """Case id -> when its view was last written: of every view written
    since then, or of every open case. Two small fields each: cheap to ask
    often."""
    query: dict[str, Any] = {"stage": {"$in": sorted(OPEN_STAGES)}} if since is None \
        else {"updated_at": {"$gte": since}}
    cursor = db[COLLECTION].find(query, {"updated_at": 1})
    return {doc["_id"]: doc["updated_at"] async for doc in cursor}


async def tray_rows(db: AsyncDatabase[dict[str, Any]], case_ids: list[str]
                    ) -> list[dict[str, Any]]:
    """The tray's fields of these case views."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(case_ids), 500):
        cursor = db[COLLECTION].find({"_id": {"$in": case_ids[start:start + 500]}},
                                     {**TRAY_FIELDS, "updated_at": 1})
        found += [doc async for doc in cursor]
    return found


async def open_cases(db: AsyncDatabase[dict[str, Any]]) -> int:
    return await db[COLLECTION].count_documents({"stage": {"$in": sorted(OPEN_STAGES)}})


async def enquiries_to(db: AsyncDatabase[dict[str, Any]], agency: str) -> list[dict[str, Any]]:
    """Cases with an enquiry to this agency: the researcher's list, newest first."""
    cursor = db[COLLECTION].find({"agencies.agency": agency},
                                 {"agencies": 1, "rag": 1, "triage_rag": 1, "opened_at": 1,
                                  "research_deadline": 1}).sort([("opened_at", -1)]).limit(500)
    return [doc async for doc in cursor]


async def verdict(db: AsyncDatabase[dict[str, Any]], case_id: str,
                  command_id: str) -> HistoryLine | None:
    """The line of the case's history a command caused, once it has arrived."""
    doc = await db[COLLECTION].find_one({"_id": case_id, "history.caused_by": command_id},
                                        {"history": 1})
    if doc is None:
        return None
    found = [h for h in doc["history"] if h.get("caused_by") == command_id]
    return HistoryLine.model_validate(found[-1]) if found else None


async def answered_after(db: AsyncDatabase[dict[str, Any]], case_id: str, agency: str,
                         command_id: str) -> bool:
    """Has the agency answered again because of this note?"""
    return await db[COLLECTION].find_one(
        {"_id": case_id, "agencies": {"$elemMatch": {"agency": agency,
                                                     "caused_by": command_id}}},
        {"_id": 1}) is not None


# --- sessions -------------------------------------------------------------------

def session_key(token: str) -> str:
    """Sessions are kept by a hash of the cookie: the database never holds
    a token that would let its reader act as someone."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


async def new_session(db: AsyncDatabase[dict[str, Any]], token: str, record: dict[str, Any]
                      ) -> None:
    await db[SESSIONS].insert_one({"_id": session_key(token), **record})


async def session(db: AsyncDatabase[dict[str, Any]], token: str) -> dict[str, Any] | None:
    return await db[SESSIONS].find_one({"_id": session_key(token)})


async def touch(db: AsyncDatabase[dict[str, Any]], token: str, now: datetime) -> None:
    await db[SESSIONS].update_one({"_id": session_key(token)}, {"$set": {"last_seen": now}})


async def end_session(db: AsyncDatabase[dict[str, Any]], token: str) -> None:
    await db[SESSIONS].delete_one({"_id": session_key(token)})


async def purge_sessions(db: AsyncDatabase[dict[str, Any]], idle_since: datetime) -> int:
    result = await db[SESSIONS].delete_many({"last_seen": {"$lt": idle_since}})
    return result.deleted_count
