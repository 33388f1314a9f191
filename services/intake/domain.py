"""Intake's decisions, free of I/O: triage, data quality, the case and its
enquiries, and the words of a rejection."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.contact import ConsentState, Contact, Rag, Urgency
from contracts.envelope import derived_id
from contracts.events import (
    CaseOpened,
    CaseOpenedData,
    ContactRejected,
    ContactSubmitted,
    EnquiryData,
    EnquiryRequested,
    Problem,
    Rejection,
    Subject,
)

SOURCE = "/mash/intake"

# Concerns that on their own suggest significant harm (level 4 of need).
HARM = frozenset({"18B", "18C", "19B", "19C", "11A", "12A", "22A", "24A", "23A"})
# Concerns that suggest complex needs (level 3).
COMPLEX = frozenset({"3A", "3B", "3C", "16A", "17A", "10A", "15A", "13A", "9A", "2B", "1B",
                     "4B"})


@dataclass(frozen=True)
class ResearchWindows:
    red: timedelta
    amber: timedelta
    green: timedelta

    def for_rag(self, rag: Rag) -> timedelta:
        return {Rag.RED: self.red, Rag.AMBER: self.amber, Rag.GREEN: self.green}[rag]


def triage(contact: Contact) -> Rag:
    """The priority research runs at: the higher of what the referrer said
    and what the concerns suggest. The MASH's own RAG comes at decision."""
    concerns = set(contact.concerns)
    suggested = Rag.GREEN
    if concerns & HARM or contact.urgency is Urgency.IMMEDIATE:
        suggested = Rag.RED
    elif concerns & COMPLEX:
        suggested = Rag.AMBER
    order = [Rag.GREEN, Rag.AMBER, Rag.RED]
    given = contact.referrer_rag or Rag.GREEN
    return max(suggested, given, key=order.index)


def data_quality(contact: Contact) -> list[str]:
    """Usable but poor: said out loud so a practitioner can chase it."""
    warnings = []
    for i, child in enumerate(contact.children):
        if not (child.date_of_birth or child.expected_date_of_delivery
                or child.estimated_age is not None):
            warnings.append(f"children.{i}: no date of birth or estimated age")
        if not child.postcode:
            warnings.append(f"children.{i}: no postcode")
    if contact.consent.state is ConsentState.NOT_SOUGHT and not contact.consent.reason:
        warnings.append("consent not sought and no reason given")
    if len(contact.analysis.split()) < 8:
        warnings.append("the referrer's analysis is very short")
    return warnings


def case_id_for(contact_event_id: str) -> str:
    return "CASE-" + derived_id("case", contact_event_id)[:8].upper()


def subjects(contact: Contact) -> list[Subject]:
    people = [
        Subject(person_ref=f"child-{i}", role="child", given_name=c.given_name,
                family_name=c.family_name, date_of_birth=c.date_of_birth, postcode=c.postcode)
        for i, c in enumerate(contact.children)
    ]
    first_postcode = contact.children[0].postcode
    people += [
        Subject(person_ref=f"adult-{i}", role="adult", given_name=m.given_name,
                family_name=m.family_name, date_of_birth=m.date_of_birth, postcode=first_postcode)
        for i, m in enumerate(contact.household)
    ]
    return people


def lawful_basis(contact: Contact) -> str:
    if contact.consent.state is ConsentState.GIVEN:
        return "Consent (UK GDPR Art. 6(1)(a)); Children Act 1989 s17"
    return ("Safeguarding of children without consent: DPA 2018 Sch. 1 para 18; "
            "Children Act 1989 s17/s47")


def open_case(
    event: ContactSubmitted, agencies: tuple[str, ...], windows: ResearchWindows, now: datetime
) -> tuple[CaseOpened, list[EnquiryRequested]]:
    contact = event.data
    case_id = case_id_for(event.id)
    rag = triage(contact)
    answer_by = now + windows.for_rag(rag)
    opened = CaseOpened.new(
        CaseOpenedData(
            case_id=case_id,
            contact=contact,
            expected_agencies=list(agencies),
            triage_rag=rag,
            data_quality=data_quality(contact),
            opened_at=now,
            research_deadline=answer_by,
        ),
        id=derived_id("case-opened", event.id),
        source=SOURCE,
        subject=case_id,
        correlation_id=event.correlation_id,
        causation_id=event.id,
        time=now,
    )
    who = subjects(contact)
    enquiries = [
        EnquiryRequested.new(
            EnquiryData(
                enquiry_id=derived_id("enquiry", event.id, agency),
                case_id=case_id,
                agency=agency,
                subjects=who,
                rag=rag,
                consent=contact.consent.state,
                purpose="MASH safeguarding research to decide the response to a contact",
                lawful_basis=lawful_basis(contact),
                concerns=contact.concerns,
                requested_at=now,
                answer_by=answer_by,
            ),
            id=derived_id("enquiry-event", event.id, agency),
            source=SOURCE,
            subject=case_id,
            correlation_id=event.correlation_id,
            causation_id=event.id,
            time=now,
        )
        for agency in agencies
    ]
    return opened, enquiries


def _best_effort_fields(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """Whatever identifies the contact, from a message that failed validation."""
    try:
        body = json.loads(raw)
        data = body.get("data", {}) if isinstance(body, dict) else {}
        referrer = data.get("referrer", {}) if isinstance(data, dict) else {}
        return (
            _str_or_none(data.get("contact_id")) if isinstance(data, dict) else None,
            _str_or_none(data.get("referrer_reference")) if isinstance(data, dict) else None,
            _str_or_none(referrer.get("agency")) if isinstance(referrer, dict) else None,
        )
    except (ValueError, AttributeError):
        return None, None, None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def reject(
    raw: bytes,
    problems: list[tuple[str, str]],
    *,
    topic: str,
    partition: int,
    offset: int,
    fingerprint: str,
    original: str,
    encoding: str,
    now: datetime,
) -> ContactRejected:
    contact_id, reference, agency = _best_effort_fields(raw)
    where = f"{topic}/{partition}/{offset}"
    rejection = Rejection(
        contact_id=contact_id,
        referrer_reference=reference,
        referrer_agency=agency,
        problems=[Problem(field=f, problem=p) for f, p in problems] or
                 [Problem(field="(message)", problem="could not be read")],
        original=original,
        original_encoding="utf-8" if encoding == "utf-8" else "base64",
        topic=topic,
        partition=partition,
        offset=offset,
    )
    subject = contact_id or where
    return ContactRejected.new(
        rejection,
        id=derived_id("rejected", fingerprint),
        source=SOURCE,
        subject=subject,
        correlation_id=subject,
        time=now,
    )
