"""What an agency finds and what it may say: matching and disclosure, no I/O.

Disclosure is proportionate (need to know) and follows the agency's own
policy (policy.py, written as data): a RED enquiry gets dates and detail
whatever the consent, because seeking consent could put the child at risk;
below that, what is shared depends on consent and on the kind of record.

An agency researcher may add a note to their own agency's answer (a
``ResearchNoteCommand`` from the desk): it becomes one of the agency's own
records, about a person the enquiry names, and the enquiry is answered again
under the same policy. Who may, and the record it makes, are decided here.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts.casework import COMMAND_SIGNER, ResearchNoteData, Role
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
from contracts.signing import SIGNATURE_HEADER, SIGNER_HEADER, signature_valid
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
    enquiry: EnquiryRequested, records: list[Record], policy: DisclosurePolicy, now: datetime,
    cause: str | None = None,
) -> tuple[FindingReported, list[str]]:
    """The finding to send, and the ids of the records it drew on (for the audit).

    ``cause``: the id of what made the agency answer again (a researcher's
    note); the finding then has an id of its own and names it as its cause.
    Without it, the finding answers the enquiry itself."""
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
        id=derived_id("finding", enquiry.id) if cause is None
        else derived_id("finding", enquiry.id, cause),
        source=f"/mash/research/{data.agency}",
        subject=data.case_id,
        correlation_id=enquiry.correlation_id,
        causation_id=enquiry.id if cause is None else cause,
        time=now,
    )
    return finding, used


# --- a researcher's note ---------------------------------------------------

LONDON = ZoneInfo("Europe/London")
# Said in every refusal of an unverified note, so whoever sent it knows where to go.
DESK_ONLY = "notes are accepted only from the MASH desk, which authenticates who sends them"


@dataclass(frozen=True)
class Refusal:
    """Why a note is not taken: ``code`` for logs and metrics (never personal
    data), ``text`` in plain words for the audit."""

    code: str
    text: str


def _shown(text: str | None, limit: int = 60) -> str:
    return "".join(ch for ch in (text or "")[:limit] if ch.isprintable())


def signature_problem(value: bytes, headers: Mapping[str, str],
                      keys: Mapping[str, Ed25519PublicKey]) -> Refusal | None:
    """None when the desk signed these exact bytes. Until then nothing in the
    note, its actor included, is believed."""
    signer, signature = headers.get(SIGNER_HEADER), headers.get(SIGNATURE_HEADER)
    if not signer or not signature:
        return Refusal("not-signed", f"not signed by the desk: {DESK_ONLY}")
    if signer != COMMAND_SIGNER:
        return Refusal("wrong-signer", f"signed by {_shown(signer)}, not by the desk: {DESK_ONLY}")
    if signer not in keys:  # the operator's to fix, not the sender's: say so
        return Refusal("no-desk-key", "this research service has no public key for the desk, "
                                      "so no note can be verified yet")
    if not signature_valid(keys, signer, signature, value):
        return Refusal("bad-signature", "the desk's signature does not match: the note was "
                                        "changed after signing, or was not signed by the desk")
    return None


def actor_problem(data: ResearchNoteData, agency: str) -> Refusal | None:
    """None when an agency researcher adds to their own agency's answer, on
    this agency's research service."""
    if data.agency != agency:
        return Refusal("other-agency", f"the note is for {_shown(data.agency)}'s answer, but this "
                                       f"is {agency}'s research service")
    if data.actor.role is not Role.RESEARCHER:
        return Refusal("not-a-researcher", f"only an agency researcher may add a note, not a "
                                           f"{data.actor.role.value}")
    if data.actor.agency != agency:
        return Refusal("other-agency-researcher",
                       f"the researcher works for {_shown(data.actor.agency) or 'no agency'}, "
                       f"not {agency}: a researcher adds only to their own agency's answers")
    return None


def note_subject(data: ResearchNoteData, enquiry: EnquiryRequested | None,
                 filed: bool) -> Subject | Refusal:
    """The person the note is about, as the enquiry names them.

    ``filed``: an enquiry on the case is in the store at all (one answered
    before its details were kept is filed, but ``enquiry`` is None)."""
    where = f"{data.agency} on case {_shown(data.case_id, 40)}"
    if enquiry is None:
        if filed:
            return Refusal("enquiry-not-held", f"the enquiry to {where} is no longer held in "
                                               "full, so it cannot be answered again")
        return Refusal("no-enquiry", f"no enquiry to {where}")
    subject = next((s for s in enquiry.data.subjects if s.person_ref == data.person_ref), None)
    if subject is None:
        return Refusal("no-such-person", f"the enquiry to {where} names no "
                                         f"{_shown(data.person_ref, 20)}")
    if subject.date_of_birth is None and not _norm(subject.postcode):
        # matches() could never find the record again: it would be kept and
        # never disclosed.
        return Refusal("person-not-identifiable",
                       f"the enquiry gives neither a date of birth nor a postcode for "
                       f"{subject.person_ref}, so no record can be matched to them")
    return subject


def local_day(now: datetime) -> date:
    """The day it is in the MASH's own time zone."""
    return now.astimezone(LONDON).date()


def note_record_id(agency: str, command_id: str) -> str:
    return f"{agency}-note-{derived_id('research-note', command_id)}"


def note_record(subject: Subject, data: ResearchNoteData, record_id: str, today: date) -> Record:
    """The agency's own record of a note, about the person as the enquiry
    names them, so that ``matches`` finds it when the enquiry is answered."""
    return Record(
        record_id=record_id,
        record_type=data.category,
        given_name=subject.given_name,
        family_name=subject.family_name,
        date_of_birth=subject.date_of_birth,
        postcode=subject.postcode,
        summary=data.summary,
        occurred_on=data.occurred_on or today,
        risk=data.risk,
    )
