"""Intake's own database: cases (what intake opened and which contacts,
children and incidents joined them), the person index, resubmissions and
rejections. Personal data stays here; logs carry ids only."""

from datetime import date, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.events import CaseOpened, ContactRejected
from plumbing.unit_of_work import Transaction
from services.intake.domain import Identified
from services.intake.person_index import PersonRecord, blocking_keys


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.cases.create_index("referrer_key", unique=True)
    await db.cases.create_index([("child_person_ids", 1), ("opened_at", -1)])
    await db.cases.create_index([("incident_keys", 1), ("opened_at", -1)])
    await db.cases.create_index([("household_key", 1), ("agency", 1), ("opened_at", -1)])
    await db.persons.create_index("keys")


def referrer_key(agency: str, reference: str) -> str:
    return f"{agency}|{reference}"


async def case_for_reference(tx: Transaction, agency: str, reference: str) -> str | None:
    key = referrer_key(agency, reference)
    joined = await tx.db.joined_contacts.find_one({"_id": key}, {"case_id": 1},
                                                  session=tx.session)
    if joined is not None:
        return str(joined["case_id"])
    found = await tx.db.cases.find_one({"referrer_key": key}, {"_id": 1}, session=tx.session)
    return None if found is None else str(found["_id"])


async def record_resubmission(tx: Transaction, event_id: str, case_id: str, agency: str,
                              reference: str, contact_id: str, at: datetime) -> None:
    await tx.db.resubmissions.insert_one(
        {"_id": event_id, "case_id": case_id, "referrer_key": referrer_key(agency, reference),
         "contact_id": contact_id, "at": at}, session=tx.session)


async def _latest_open(tx: Transaction, query: dict[str, Any]) -> str | None:
    cursor = tx.db.cases.find(query, {"_id": 1}, session=tx.session).sort("opened_at", -1)
    async for doc in cursor.limit(1):
        return str(doc["_id"])
    return None


async def case_for_incident(tx: Transaction, key: str, since: datetime) -> str | None:
    return await _latest_open(tx, {"incident_keys": key, "opened_at": {"$gte": since}})


async def case_for_household(tx: Transaction, key: str, agency: str,
                             since: datetime) -> str | None:
    return await _latest_open(tx, {"household_key": key, "agency": agency,
                                   "opened_at": {"$gte": since}})


async def case_for_children(tx: Transaction, person_ids: list[str],
                            since: datetime) -> str | None:
    if not person_ids:
        return None
    return await _latest_open(tx, {"child_person_ids": {"$in": person_ids},
                                   "opened_at": {"$gte": since}})


def _variant(r: PersonRecord) -> dict[str, Any]:
    return {"given_name": r.given_name, "family_name": r.family_name,
            "date_of_birth": r.date_of_birth.isoformat() if r.date_of_birth else None,
            "postcode": r.postcode, "role": r.role}


def _record(v: dict[str, Any]) -> PersonRecord:
    dob = v.get("date_of_birth")
    return PersonRecord(v["given_name"], v["family_name"],
                        date.fromisoformat(dob) if dob else None, v.get("postcode"), v["role"])


async def candidates(tx: Transaction, people: list[tuple[str, PersonRecord]]
                     ) -> dict[str, list[tuple[str, list[PersonRecord]]]]:
    """For each person ref, the indexed people sharing a blocking key (at
    most 200 each): one query for everyone the contact names."""
    keys = {ref: set(blocking_keys(record)) for ref, record in people}
    wanted = sorted(set().union(*keys.values())) if keys else []
    out: dict[str, list[tuple[str, list[PersonRecord]]]] = {ref: [] for ref in keys}
    if not wanted:
        return out
    found = tx.db.persons.find({"keys": {"$in": wanted}}, {"variants": 1, "keys": 1},
                               session=tx.session).limit(200 * len(keys))
    async for doc in found:
        held = set(doc.get("keys") or ())
        for ref, theirs in keys.items():
            if held & theirs and len(out[ref]) < 200:
                out[ref].append((str(doc["_id"]), [_record(v) for v in doc["variants"]]))
    return out


async def save_people(tx: Transaction, who: Identified, case_id: str, at: datetime) -> None:
    contact_id = who.contact.contact_id
    new = [
        {"_id": person_id, "role": record.role, "variants": [_variant(record)],
         "keys": blocking_keys(record), "contact_ids": [contact_id], "case_ids": [case_id],
         "first_seen": at, "last_seen": at}
        for person_id, record in who.new.values()
    ]
    if new:
        await tx.db.persons.insert_many(new, session=tx.session)
    for person_id, record in who.linked.values():
        # The index learns how the person was written this time.
        await tx.db.persons.update_one(
            {"_id": person_id},
            {"$addToSet": {"variants": _variant(record),
                           "keys": {"$each": blocking_keys(record)},
                           "contact_ids": contact_id, "case_ids": case_id},
             "$set": {"last_seen": at}},
            session=tx.session)


async def save_case(tx: Transaction, opened: CaseOpened, children: list[str],
                    incident: str | None, household: str | None) -> None:
    data = opened.data
    await tx.db.cases.insert_one(
        {
            "_id": data.case_id,
            "referrer_key": referrer_key(data.contact.referrer.agency,
                                         data.contact.referrer_reference),
            "agency": data.contact.referrer.agency,
            "contact_ids": [data.contact.contact_id],
            "child_person_ids": children,
            "incident_keys": [incident] if incident else [],
            "household_key": household,
            "triage_rag": data.triage_rag.value,
            "opened_at": data.opened_at,
        },
        session=tx.session,
    )


async def join_case(tx: Transaction, case_id: str, *, agency: str, reference: str,
                    contact_id: str, reason: str, children: list[str], incident: str | None,
                    at: datetime) -> None:
    await tx.db.joined_contacts.insert_one(
        {"_id": referrer_key(agency, reference), "case_id": case_id, "contact_id": contact_id,
         "reason": reason, "at": at}, session=tx.session)
    add: dict[str, Any] = {"contact_ids": contact_id, "child_person_ids": {"$each": children}}
    if incident:
        add["incident_keys"] = incident
    await tx.db.cases.update_one({"_id": case_id}, {"$addToSet": add}, session=tx.session)


async def contacts_in(tx: Transaction, case_id: str) -> int:
    """How many contacts a case holds."""
    doc = await tx.db.cases.find_one({"_id": case_id}, {"contact_ids": 1}, session=tx.session)
    return len(doc.get("contact_ids") or []) if doc else 0


def since(now: datetime, *, days: float = 0, hours: float = 0) -> datetime:
    return now - timedelta(days=days, hours=hours)


async def save_rejection(tx: Transaction, rejected: ContactRejected) -> None:
    await tx.db.rejections.insert_one(
        {"_id": rejected.id, "at": rejected.time, **rejected.data.model_dump(mode="json")},
        session=tx.session,
    )


async def first_received(tx: Transaction, signer: str, event_id: str,
                         fingerprint: str) -> datetime | None:
    """When this signer's event id was first accepted from another record
    (a replay), or None: never seen, or this very record redelivered."""
    seen = await tx.db.nonces.find_one({"_id": f"{signer}|{event_id}"}, session=tx.session)
    if seen is None or seen["fingerprint"] == fingerprint:
        return None
    at: datetime = seen["at"]
    return at


async def record_nonce(tx: Transaction, signer: str, event_id: str, fingerprint: str,
                       at: datetime) -> None:
    await tx.db.nonces.update_one(
        {"_id": f"{signer}|{event_id}"},
        {"$setOnInsert": {"fingerprint": fingerprint, "at": at}}, upsert=True,
        session=tx.session)
