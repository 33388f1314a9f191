"""Intake's decisions, free of I/O: triage, data quality, the case and its
enquiries, and the words of a rejection."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from contracts.contact import ConsentState, Contact, PersonMatch, Rag, Urgency
from contracts.envelope import clipped, derived_id
from contracts.events import (
    CaseOpened,
    CaseOpenedData,
    ContactAdded,
    ContactAddedData,
    ContactReceived,
    ContactRejected,
    ContactSubmitted,
    EnquiryData,
    EnquiryRequested,
    OriginalDigest,
    Problem,
    ReceiptData,
    Rejection,
    Subject,
)
from judgement import Facts, Model, load
from services.intake.concerns import child_protection
from services.intake.formats import identify
from services.intake.person_index import (
    PersonRecord,
    Thresholds,
    best,
    normal,
    postcode_key,
)

SOURCE = "/mash/intake"


@dataclass(frozen=True)
class ResearchWindows:
    red: timedelta
    amber: timedelta
    green: timedelta

    def for_rag(self, rag: Rag) -> timedelta:
        return {Rag.RED: self.red, Rag.AMBER: self.amber, Rag.GREEN: self.green}[rag]


def triage(contact: Contact, model: Model | None = None) -> Rag:
    """The priority research runs at: the threshold model on the contact
    alone (the one decision proposes with), never below the referrer's RAG.
    Decision holds its proposal to at least this."""
    return (model or load()).judge(Facts(contact)).rag


VAGUE = frozenset({"20", "21"})


def data_quality(contact: Contact) -> list[str]:
    """Usable but poor: said out loud so a practitioner can chase it. What the
    format's normaliser noticed comes first."""
    warnings = list(contact.data_quality)
    for i, child in enumerate(contact.children):
        if not (child.date_of_birth or child.expected_date_of_delivery
                or child.estimated_age is not None):
            warnings.append(f"children.{i}: no date of birth or estimated age")
        if not child.postcode:
            warnings.append(f"children.{i}: no postcode")
    protection = child_protection(contact.concerns) or contact.urgency is Urgency.IMMEDIATE
    if (contact.consent.state is ConsentState.NOT_SOUGHT and not contact.consent.reason
            and not protection):
        # Below the child protection threshold, checks without consent need a reason.
        warnings.append("consent not sought and no reason given")
    if len(contact.analysis.split()) < 8:
        warnings.append("the referrer's analysis is very short")
    if set(contact.concerns) <= VAGUE and len(contact.analysis.split()) < 25:
        warnings.append("the concern is vague: no specific factor and little analysis")
    said = list(dict.fromkeys(clipped(w, 200) for w in warnings))
    if len(said) > MAX_WARNINGS:
        said = [*said[:MAX_WARNINGS - 1], f"and {len(said) - MAX_WARNINGS + 1} more like these"]
    return said


MAX_WARNINGS = 30


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
    event: ContactSubmitted, agencies: tuple[str, ...], windows: ResearchWindows, now: datetime,
    sender: str | None = None, model: Model | None = None,
) -> tuple[CaseOpened, list[EnquiryRequested]]:
    contact = event.data
    case_id = case_id_for(event.id)
    rag = triage(contact, model)
    answer_by = now + windows.for_rag(rag)
    opened = CaseOpened.new(
        CaseOpenedData(
            case_id=case_id,
            contact=contact,
            sender=sender,
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
    """Whatever identifies the contact, from a message that failed validation,
    in whichever format it claimed to be."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None, None, None
    return tuple(_shown(v, 200) for v in identify(body))  # type: ignore[return-value]


def _shown(value: object, limit: int) -> str | None:
    if value is None:
        return None
    return clipped("".join(ch for ch in str(value) if ch.isprintable()), limit)


MAX_PROBLEMS = 50


def rejection_id(fingerprint: str) -> str:
    """One rejection per record received (a redelivery finds it made)."""
    return derived_id("rejected", fingerprint)


def reject(
    raw: bytes,
    problems: list[tuple[str, str]],
    *,
    topic: str,
    partition: int,
    offset: int,
    fingerprint: str,
    sender: str | None,
    original: OriginalDigest,
    now: datetime,
) -> ContactRejected:
    """Every problem in plain words (the first 49 and how many more), the
    message described, addressed to its verified sender if it has one."""
    contact_id, reference, agency = _best_effort_fields(raw)
    where = f"{topic}/{partition}/{offset}"
    found = [Problem(field=_shown(f, 300) or "(message)", problem=_shown(p, 2000) or "")
             for f, p in problems]
    if len(found) > MAX_PROBLEMS:
        more = len(found) - (MAX_PROBLEMS - 1)
        found = [*found[:MAX_PROBLEMS - 1],
                 Problem(field="(message)", problem=f"and {more} more problems like these")]
    rejection = Rejection(
        contact_id=contact_id,
        referrer_reference=reference,
        referrer_agency=agency,
        sender=sender,
        problems=found or [Problem(field="(message)", problem="could not be read")],
        original=original,
        topic=topic,
        partition=partition,
        offset=offset,
    )
    subject = contact_id or where
    return ContactRejected.new(
        rejection,
        id=rejection_id(fingerprint),
        source=SOURCE,
        subject=subject,
        correlation_id=subject,
        time=now,
    )


def receipt(event: ContactSubmitted, sender: str, case_id: str, *, already: bool,
            now: datetime) -> ContactReceived:
    """The sender's receipt, with the case reference to quote."""
    contact = event.data
    if already:
        message = (f"Already received: {contact.referrer_reference} is in case {case_id}; "
                   "this copy changed nothing.")
    else:
        message = (f"Received and accepted into case {case_id}. The MASH will decide the "
                   "response and tell you on this topic"
                   + (f", by {contact.answer_due:%Y-%m-%d %H:%M} UTC." if contact.answer_due
                      else "."))
    return ContactReceived.new(
        ReceiptData(contact_id=contact.contact_id, referrer_reference=contact.referrer_reference,
                    sender=sender, case_id=case_id,
                    status="already-received" if already else "accepted",
                    received_at=contact.received_at, answer_due=contact.answer_due,
                    data_quality=[] if already else data_quality(contact), message=message),
        id=derived_id("receipt", event.id), source=SOURCE, subject=case_id,
        correlation_id=event.correlation_id, causation_id=event.id, time=now)


# --- the same thing twice, and the same person again -----------------------

def people(contact: Contact) -> list[tuple[str, PersonRecord]]:
    """Everyone in the contact as the person index sees them, by person ref."""
    first_postcode = contact.children[0].postcode
    out = [(f"child-{i}", PersonRecord(c.given_name, c.family_name, c.date_of_birth,
                                       c.postcode, "child"))
           for i, c in enumerate(contact.children)]
    out += [(f"adult-{i}", PersonRecord(m.given_name, m.family_name, m.date_of_birth,
                                        m.postcode or first_postcode, "adult"))
            for i, m in enumerate(contact.household)]
    return out


@dataclass(frozen=True)
class Identified:
    """Who each person in a contact is: an indexed person, or a new one."""

    contact: Contact
    new: dict[str, tuple[str, PersonRecord]]  # person ref -> (new person id, record)
    linked: dict[str, tuple[str, PersonRecord]]  # person ref -> (person id, how seen now)

    @property
    def linked_children(self) -> list[str]:
        return [pid for ref, (pid, _) in self.linked.items() if ref.startswith("child-")]

    @property
    def children(self) -> list[str]:
        ids = {**self.new, **self.linked}
        return [ids[f"child-{i}"][0] for i in range(len(self.contact.children))]


def person_id_for(event_id: str, person_ref: str) -> str:
    return "P-" + derived_id("person", event_id, person_ref)[:12].upper()


def identify_people(
    event_id: str, contact: Contact,
    candidates: dict[str, list[tuple[str, list[PersonRecord]]]], thresholds: Thresholds,
) -> Identified:
    """Match each person against the candidates the store offered for them.
    One indexed person is matched at most once per contact (twins are two)."""
    taken: set[str] = set()
    new: dict[str, tuple[str, PersonRecord]] = {}
    linked: dict[str, tuple[str, PersonRecord]] = {}
    matches: list[PersonMatch] = []
    for ref, record in people(contact):
        offered = [(pid, variants) for pid, variants in candidates.get(ref, [])
                   if pid not in taken]
        found = best(record, offered, thresholds)
        band = thresholds.band(found[1].score) if found else "new"
        if found is not None and band != "new":
            person_id, scored = found
            matches.append(PersonMatch(person_ref=ref, person_id=person_id,
                                       score=min(1.0, scored.score), band=band,
                                       explanation=[clipped(line, 240)
                                                    for line in scored.explanation()]))
            if band == "link":
                taken.add(person_id)
                linked[ref] = (person_id, record)
                continue
        new[ref] = (person_id_for(event_id, ref), record)
    ids = {ref: pid for ref, (pid, _) in (new | linked).items()}
    enriched = contact.model_copy(update={
        "children": [c.model_copy(update={"person_id": ids[f"child-{i}"]})
                     for i, c in enumerate(contact.children)],
        "household": [m.model_copy(update={"person_id": ids[f"adult-{i}"]})
                      for i, m in enumerate(contact.household)],
        "person_matches": matches,
    })
    return Identified(enriched, new, linked)


def incident_key(contact: Contact) -> str | None:
    """The incident a contact reports, e.g. a police occurrence reference."""
    if not contact.incident_reference:
        return None
    return f"{contact.referrer.agency}|{contact.incident_reference}"


def household_key(contact: Contact) -> str | None:
    """One household: the first child's postcode and family name."""
    child = contact.children[0]
    postcode = postcode_key(child.postcode)
    if postcode is None or normal(child.family_name) in ("", "unknown"):
        return None
    return f"{postcode}|{normal(child.family_name)}"


Reason = Literal["re-contact", "same-incident"]


def contact_added(event: ContactSubmitted, case_id: str, reason: Reason,
                  now: datetime, sender: str | None = None) -> ContactAdded:
    return ContactAdded.new(
        ContactAddedData(case_id=case_id, contact=event.data, sender=sender, reason=reason,
                         added_at=now),
        id=derived_id("contact-added", event.id),
        source=SOURCE,
        subject=case_id,
        correlation_id=event.correlation_id,
        causation_id=event.id,
        time=now,
    )


def joins(*, incident: str | None, household: str | None,
          child: str | None) -> tuple[str, Reason] | None:
    """Which open case a contact joins, and why; None opens a new case.
    The same incident (its reference; without one, the same agency about the
    same household within hours) comes before a re-contact about a child of
    an open case."""
    if incident is not None:
        return incident, "same-incident"
    if household is not None:
        return household, "same-incident"
    if child is not None:
        return child, "re-contact"
    return None
