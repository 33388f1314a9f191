"""What an agency finds and what it may say: matching and disclosure, no I/O.

Disclosure is proportionate (need to know) and follows the agency's own
policy (policy.py, written as data): a RED enquiry gets dates and detail
whatever the consent, because seeking consent could put the child at risk;
below that, what is shared depends on consent and on the kind of record.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from contracts.contact import Rag
from contracts.envelope import derived_id
from contracts.events import (
    MAX_FINDING_ITEMS,
    EnquiryRequested,
    FindingData,
    FindingItem,
    FindingReported,
    Subject,
)
from services.research.policy import DisclosurePolicy, Level


@dataclass(frozen=True)
class Record:
    record_id: str
    record_type: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    postcode: str | None
    summary: str
    occurred_on: date
    risk: Literal["low", "medium", "high"]


PRIORITY = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2}
RISK_ORDER = {"high": 0, "medium": 1, "low": 2}


def priority(rag: Rag) -> int:
    """Highest risk researched first (seed 000 §6): lower sorts sooner."""
    return PRIORITY[rag]


def _norm(text: str | None) -> str:
    return "".join(ch for ch in (text or "").lower() if ch.isalnum())


def matches(subject: Subject, record: Record) -> bool:
    """Exact identity for now: same name and date of birth, or same name and
    postcode where no date of birth was given."""
    if _norm(subject.given_name) != _norm(record.given_name):
        return False
    if _norm(subject.family_name) != _norm(record.family_name):
        return False
    if subject.date_of_birth is not None:
        return subject.date_of_birth == record.date_of_birth
    return bool(subject.postcode) and _norm(subject.postcode) == _norm(record.postcode)


def disclose(record: Record, person_ref: str, level: Level) -> FindingItem:
    summary = record.summary if len(record.summary) <= 1000 else record.summary[:999] + "…"
    return FindingItem(
        person_ref=person_ref,
        category=record.record_type[:100],
        summary=summary if level == "full" else None,
        occurred_on=record.occurred_on if level != "known-only" else None,
        risk=record.risk,
    )


def answer(
    enquiry: EnquiryRequested, records: list[Record], policy: DisclosurePolicy, now: datetime
) -> tuple[FindingReported, list[str]]:
    """The finding to send, and the ids of the records it drew on (for the audit)."""
    data = enquiry.data
    level = policy.level(data.rag, data.consent)
    items: list[FindingItem] = []
    used: list[str] = []
    found: list[tuple[Record, str]] = [(record, subject.person_ref) for subject in data.subjects
                                       for record in records if matches(subject, record)]
    # A finding carries a bounded number of items: the most serious, then the
    # most recent, and says how many more the agency holds.
    found.sort(key=lambda hit: (RISK_ORDER[hit[0].risk], -hit[0].occurred_on.toordinal()))
    for record, person_ref in found[:MAX_FINDING_ITEMS]:
        own = policy.level_for(record.record_type, data.rag, data.consent)
        items.append(disclose(record, person_ref, own))
        used.append(record.record_id)
    finding = FindingReported.new(
        FindingData(
            enquiry_id=data.enquiry_id,
            case_id=data.case_id,
            agency=data.agency,
            result="trace" if items else "no-trace",
            items=items,
            disclosure_level=level,
            lawful_basis=data.lawful_basis,
            answered_at=now,
        ),
        id=derived_id("finding", enquiry.id),
        source=f"/mash/research/{data.agency}",
        subject=data.case_id,
        correlation_id=enquiry.correlation_id,
        causation_id=enquiry.id,
        time=now,
    )
    return finding, used
