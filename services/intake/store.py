"""Intake's own database: cases by referrer reference, and rejections."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.events import CaseOpened, ContactRejected
from plumbing.unit_of_work import Transaction


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.cases.create_index("referrer_key", unique=True)


def referrer_key(agency: str, reference: str) -> str:
    return f"{agency}|{reference}"


async def case_for_reference(tx: Transaction, agency: str, reference: str) -> str | None:
    found = await tx.db.cases.find_one(
        {"referrer_key": referrer_key(agency, reference)}, {"_id": 1}, session=tx.session
    )
    return None if found is None else str(found["_id"])


async def save_case(tx: Transaction, opened: CaseOpened) -> None:
    data = opened.data
    await tx.db.cases.insert_one(
        {
            "_id": data.case_id,
            "referrer_key": referrer_key(data.contact.referrer.agency,
                                         data.contact.referrer_reference),
            "contact_ids": [data.contact.contact_id],
            "triage_rag": data.triage_rag.value,
            "opened_at": data.opened_at,
        },
        session=tx.session,
    )


async def save_rejection(tx: Transaction, rejected: ContactRejected) -> None:
    await tx.db.rejections.insert_one(
        {"_id": rejected.id, "at": rejected.time, **rejected.data.model_dump(mode="json")},
        session=tx.session,
    )
