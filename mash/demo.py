"""A realistic day at the front door, and an account of every contact.

The demo stands in for the agencies: it publishes contacts to
`mash.contacts.submitted` as each agency would, then listens to the outcome
and rejection topics as the receiving teams would, and says what became of
each contact. A contact with neither an outcome nor a rejection is lost.
"""

import asyncio
import hashlib
import json
import random
import statistics
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import topics
from contracts.contact import (
    Child,
    Consent,
    ConsentState,
    Contact,
    HouseholdMember,
    Rag,
    Referrer,
    Urgency,
)
from contracts.envelope import CONTENT_TYPE, Event
from contracts.events import ContactAdded, ContactRejected, ContactSubmitted, OutcomeRouted
from contracts.formats.common import Address, Adult, ConsentInfo
from contracts.formats.contact_centre import Caller, ChildDescribed, PublicCall, PublicCallV1
from contracts.formats.early_help import (
    EarlyHelpRequest,
    EarlyHelpRequestV1,
    FamilyAgreement,
    FamilyChild,
    Requester,
)
from contracts.formats.education import EducationConcern, EducationConcernV1, Injury, Pupil, School
from contracts.formats.health import HealthReferral, HealthReferralV1, Patient, Practitioner
from contracts.formats.housing import HousingOfficer, HousingReferral, HousingReferralV1, Occupant
from contracts.formats.housing import Property as Home
from contracts.formats.la_enquiry import Authority, ConfidentialEnquiry, ConfidentialEnquiryV1, EnquiryChild
from contracts.formats.police import ChildPresent, IncidentAdult, Officer, PoliceNotification
from contracts.formats.police import PoliceNotificationV1 as PoliceData
from contracts.formats.probation import (
    ChildOfConcern,
    PersonOnProbation,
    ProbationPractitioner,
    ProbationReferral,
    ProbationReferralV1,
)
from mash.keys import KeyRing, signer_of
from mash.settings import StackSettings
from plumbing.settings import ServiceSettings
from synthetic import Family, Person, population

# Sources in the proportions a MASH sees: police notifications the largest
# share, then schools and health (seed 004; MASH.md). (agency, CIN source code,
# channel, referrer role, weight)
SOURCES: tuple[tuple[str, str, str, str, float], ...] = (
    ("police", "6", "notification", "PC, public protection unit", 0.34),
    ("education", "2A", "portal", "designated safeguarding lead", 0.17),
    ("health", "3B", "portal", "health visitor", 0.09),
    ("health", "3E", "email", "A&E liaison nurse", 0.05),
    ("health", "3A", "portal", "GP", 0.04),
    ("public", "1B", "phone", "neighbour", 0.05),
    ("public", "9", "phone", "anonymous caller", 0.04),
    ("childrens-social-care", "5A", "portal", "social worker", 0.05),
    ("housing", "4", "email", "housing officer", 0.05),
    ("probation", "7", "email", "probation officer", 0.04),
    ("public", "5D", "portal", "early help worker", 0.04),
    ("public", "5C", "email", "another local authority", 0.04),
)

# Concerns each kind of referrer typically raises (CIN factor codes).
CONCERNS: dict[str, tuple[tuple[str, ...], ...]] = {
    # Most police notifications are low-level domestic incidents or
    # behaviour, which is why police contacts end NFA most often (seed 004).
    "police": (("3B",), ("3B",), ("3B",), ("3C",), ("14A",), ("14A",), ("20",), ("21",),
               ("1B",), ("3B", "2B"), ("10A",), ("18C",), ("24A",)),
    "education": (("16A",), ("17A",), ("18C",), ("19C",), ("10A",), ("15A",), ("20",), ("20",),
                  ("5A",)),
    "health": (("16A",), ("4B",), ("2B",), ("18C",), ("15A",), ("6B",), ("20",), ("6A",)),
    "public": (("16A",), ("17A",), ("3B",), ("1B",), ("20",), ("21",)),
    "childrens-social-care": (("16A",), ("3B",), ("17A",)),
    "housing": (("16A",), ("4B",), ("20",), ("14A",)),
    "probation": (("3B",), ("19C",), ("2B",), ("20",)),
}

ANALYSIS = {
    "3B": "Police attended a domestic incident at the home; the children were present and "
          "frightened. The mother disclosed previous incidents.",
    "18C": "The child has bruising to the upper arm and said an adult at home grabbed them.",
    "19C": "The child made a disclosure of sexual abuse by an adult known to the family.",
    "16A": "The child is often hungry and unkempt, and the home conditions are poor.",
    "17A": "The child is withdrawn and describes being shouted at and belittled at home.",
    "10A": "The young person has gone missing overnight twice this month.",
    "24A": "The young person was found with large amounts of cash and a second phone.",
}


OnEvent = Callable[[str], None]


@dataclass
class Submitted:
    contact_id: str
    agency: str
    valid: bool
    sent_at: float
    # Of the bytes sent: a rejection names the message it refused by its hash.
    sha256: str

    @classmethod
    def now(cls, contact_id: str, agency: str, raw: bytes, valid: bool) -> "Submitted":
        return cls(contact_id, agency, valid, time.monotonic(), hashlib.sha256(raw).hexdigest())


def _child(p: Person, rng: random.Random) -> Child:
    unknown_dob = rng.random() < 0.05
    return Child(
        given_name=p.given_name,
        family_name=p.family_name,
        date_of_birth=None if unknown_dob else p.date_of_birth,
        estimated_age=8 if unknown_dob else None,
        gender="female" if p.gender == "female" else "male",
        postcode=p.postcode,
    )


def make_contact(family: Family, source: tuple[str, str, str, str, float], rng: random.Random,
                 run: str, n: int, now: datetime) -> Contact:
    agency, code, channel, role, _ = source
    concerns = list(rng.choice(CONCERNS.get(agency, CONCERNS["public"])))
    lead = concerns[0]
    analysis = ANALYSIS.get(lead, "The referrer is worried about the child's wellbeing and "
                                  "asks for the family to be offered support.")
    child_protection = bool({"18C", "19C", "24A"} & set(concerns))
    consent = (Consent(state=ConsentState.NOT_SOUGHT,
                       reason="Seeking consent could place the child at risk",
                       decided_by=role)
               if child_protection else
               Consent(state=rng.choice([ConsentState.GIVEN, ConsentState.GIVEN,
                                         ConsentState.REFUSED]), decided_by=role))
    return Contact(
        contact_id=f"demo-{run}-{n:05d}",
        referrer_reference=f"{agency[:3].upper()}-{run}-{n:05d}",
        received_at=now,
        channel=channel,
        referrer=Referrer(agency=agency, source_code=code, role=role, anonymous=(code == "9"),
                          name=None if code == "9" else f"{role.title()}"),
        children=[_child(c, rng) for c in family.children],
        household=[HouseholdMember(given_name=a.given_name, family_name=a.family_name,
                                   date_of_birth=a.date_of_birth, relationship=a.relationship)
                   for a in family.adults],
        concerns=concerns,
        analysis=analysis,
        consent=consent,
        urgency=Urgency.IMMEDIATE if child_protection else Urgency.ROUTINE,
        referrer_rag=(Rag.RED if child_protection else rng.choice([Rag.AMBER, Rag.GREEN]))
        if agency == "police" else None,
    )


# --- each agency's own format ------------------------------------------------
# The demo stands in for the agencies, so it writes what each one sends: the
# police a notification, a school its DSL concern, and so on; children's
# social care already speaks the canonical contact and publishes it directly.

POLICE_INCIDENT = {"3B": "domestic-abuse", "3C": "domestic-abuse", "14A": "anti-social-behaviour",
                   "10A": "missing-person", "18C": "assault", "24A": "child-criminal-exploitation",
                   "1B": "concern-for-welfare", "20": "concern-for-welfare",
                   "21": "concern-for-welfare"}
HEALTH_CATEGORY = {"16A": "neglect", "4B": "parental-mental-health",
                   "2B": "parental-substance-misuse", "18C": "physical-abuse", "15A": "self-harm",
                   "6A": "other", "6B": "other", "20": "other"}
HEALTH_ROLE = {"3B": "health-visitor", "3E": "emergency-department", "3A": "gp"}
PUBLIC_CATEGORY = {"16A": "neglect", "17A": "emotional-abuse", "3B": "domestic-abuse",
                   "1B": "drugs-or-alcohol", "20": "other", "21": "other"}
HOUSING_CONCERN = {"16A": "home-conditions", "4B": "other", "20": "other",
                   "14A": "anti-social-behaviour"}
PROBATION_CONCERN = {"3B": "domestic-abuse", "19C": "sexual-offending",
                     "2B": "substance-misuse", "20": "other"}


def _address(p: Person) -> Address:
    return Address(lines=[f"{zlib.crc32(p.person_id.encode()) % 90 + 1} Demo Street"],
                   postcode=p.postcode)


def _adults(family: Family) -> list[Adult]:
    return [Adult(given_name=a.given_name, family_name=a.family_name,
                  date_of_birth=a.date_of_birth, relationship=a.relationship)
            for a in family.adults]


def _consent(c: Contact) -> ConsentInfo:
    state = {ConsentState.GIVEN: "given", ConsentState.REFUSED: "refused",
             ConsentState.NOT_SOUGHT: "not-sought"}[c.consent.state]
    return ConsentInfo(status=state, reason=c.consent.reason,
                       decided_by=c.consent.decided_by,
                       overridden=c.consent.state is ConsentState.NOT_SOUGHT)


def agency_event(family: Family, c: Contact, rng: random.Random) -> Event[Any]:
    """The contact as its agency would send it (canonical for social care)."""
    code, lead, now = c.referrer.source_code, c.concerns[0], c.received_at
    cid, ref = c.contact_id, c.referrer_reference
    first = family.children[0]
    data: Any
    fmt: type[Event[Any]]
    if code == "6":
        fmt = PoliceNotification
        data = PoliceData(
            notification_reference=ref, force="Demo Borough Police",
            occurrence_reference=f"OCC-{ref}", incident_type=POLICE_INCIDENT.get(lead, "other"),
            incident_at=now, location=_address(first),
            children_present=[ChildPresent(given_name=ch.given_name, family_name=ch.family_name,
                                           date_of_birth=ch.date_of_birth,
                                           estimated_age=ch.estimated_age, gender=ch.gender,
                                           address=Address(postcode=ch.postcode))
                              for ch in c.children],
            adults=[IncidentAdult(**a.model_dump()) for a in _adults(family)],
            officer=Officer(collar_number=str(rng.randint(1000, 9999)), name="PC Demo",
                            rank="PC", unit="Public Protection Unit"),
            initial_rag=(c.referrer_rag or Rag.GREEN).value,
            additional_factors=[x for x in c.concerns if x not in ("3B",) and x != lead]
            + ([lead] if lead not in POLICE_INCIDENT or lead in ("1B", "3C", "21") else []),
            circumstances=c.analysis)
    elif code == "2A":
        fmt = EducationConcern
        injury = lead == "18C"
        data = EducationConcernV1(
            concern_reference=ref,
            school=School(name="Demo Primary School", urn="100001", dsl_name="Ms Demo"),
            pupil=Pupil(given_name=first.given_name, family_name=first.family_name,
                        date_of_birth=first.date_of_birth,
                        gender="female" if first.gender == "female" else "male",
                        address=_address(first)),
            siblings=[Pupil(given_name=s.given_name, family_name=s.family_name,
                            date_of_birth=s.date_of_birth) for s in family.children[1:]],
            family=_adults(family),
            concern_type="injury" if injury else "other",
            injury=Injury(description="Bruising", body_location="upper arm",
                          caused_by="adult") if injury else None,
            additional_factors=[] if injury else list(c.concerns),
            dsl_analysis=c.analysis, consent=_consent(c),
            urgent=c.urgency is Urgency.IMMEDIATE)
    elif code in HEALTH_ROLE:
        fmt = HealthReferral
        data = HealthReferralV1(
            referral_id=ref,
            practitioner=Practitioner(name="Demo Clinician", role=HEALTH_ROLE[code],
                                      organisation="Demo NHS Trust"),
            patients=[Patient(given_name=ch.given_name, family_name=ch.family_name,
                              date_of_birth=ch.date_of_birth, estimated_age=ch.estimated_age,
                              sex=ch.gender, address=Address(postcode=ch.postcode))
                      for ch in c.children],
            family=_adults(family), categories=[HEALTH_CATEGORY.get(lead, "other")],
            clinical_summary=c.analysis, consent=_consent(c),
            urgent=c.urgency is Urgency.IMMEDIATE)
    elif code in ("1B", "9"):
        fmt = PublicCall
        data = PublicCallV1(
            call_reference=ref, call_started_at=now, call_handler="Contact centre advisor",
            caller=Caller(anonymous=code == "9", name=None if code == "9" else "A neighbour",
                          relationship_to_child="neighbour"),
            address_of_concern=_address(first),
            children=[ChildDescribed(given_name=ch.given_name, family_name=ch.family_name,
                                     date_of_birth=ch.date_of_birth,
                                     approximate_age=ch.estimated_age, gender=ch.gender)
                      for ch in c.children],
            concern_categories=[PUBLIC_CATEGORY.get(lead, "other")],
            what_the_caller_said=c.analysis)
    elif code == "4":
        fmt = HousingReferral
        data = HousingReferralV1(
            case_reference=ref, officer=HousingOfficer(name="Demo Housing Officer"),
            property=Home(address=_address(first), tenure="council"),
            occupants=[Occupant(given_name=a.given_name, family_name=a.family_name,
                                date_of_birth=a.date_of_birth,
                                relationship_to_lead_tenant="self" if i == 0 else "partner")
                       for i, a in enumerate(family.adults)]
            + [Occupant(given_name=ch.given_name, family_name=ch.family_name,
                        date_of_birth=ch.date_of_birth, age=ch.estimated_age,
                        relationship_to_lead_tenant="child") for ch in c.children],
            concern_types=[HOUSING_CONCERN.get(lead, "other")],
            observations=c.analysis, consent=_consent(c))
    elif code == "7":
        fmt = ProbationReferral
        adult = family.adults[-1]
        data = ProbationReferralV1(
            referral_reference=ref, practitioner=ProbationPractitioner(name="Demo Officer"),
            person_on_probation=PersonOnProbation(
                crn=f"X{rng.randint(100000, 999999)}", given_name=adult.given_name,
                family_name=adult.family_name, date_of_birth=adult.date_of_birth,
                relationship_to_children=adult.relationship, lives_with_children=True,
                address=_address(first)),
            children=[ChildOfConcern(given_name=ch.given_name, family_name=ch.family_name,
                                     date_of_birth=ch.date_of_birth,
                                     estimated_age=ch.estimated_age, gender=ch.gender)
                      for ch in c.children],
            risk_of_serious_harm_to_children="medium",
            concerns=[PROBATION_CONCERN.get(lead, "other")],
            assessment=c.analysis, consent=_consent(c))
    elif code == "5D":
        fmt = EarlyHelpRequest
        data = EarlyHelpRequestV1(
            request_reference=ref,
            requested_by=Requester(name="Demo Worker", role="early help worker",
                                   organisation="Demo Children's Centre"),
            address=_address(first),
            children=[FamilyChild(given_name=ch.given_name, family_name=ch.family_name,
                                  date_of_birth=ch.date_of_birth, gender=ch.gender)
                      for ch in c.children],
            adults=_adults(family), needs=["parenting-support"],
            what_has_been_tried=c.analysis, support_requested="Family support",
            family_agreement=FamilyAgreement(agreed=c.consent.state is ConsentState.GIVEN))
    elif code == "5C":
        fmt = ConfidentialEnquiry
        data = ConfidentialEnquiryV1(
            enquiry_reference=ref,
            from_authority=Authority(name="Another Borough Council", la_code="999",
                                     officer="Duty social worker"),
            sent_at=now,
            children=[EnquiryChild(given_name=ch.given_name, family_name=ch.family_name,
                                   date_of_birth=ch.date_of_birth, gender=ch.gender,
                                   previous_address=Address(postcode=ch.postcode))
                      for ch in c.children],
            adults=_adults(family), involvement="assessment", known_factors=list(c.concerns),
            reason_for_enquiry=c.analysis)
    else:
        return ContactSubmitted.new(c, source=_source(c), subject=cid, correlation_id=cid)
    return fmt.new(data, source=_source(c), subject=cid, correlation_id=cid, time=now)


def _source(c: Contact) -> str:
    """Where a contact comes from, as its signer owns it (contracts/signers.toml)."""
    code = c.referrer.source_code
    if code in ("1B", "9"):
        return "/la/contact-centre"
    if code == "5D":
        return "/la/early-help/portal"
    if code == "5C":
        return "/la/other/demo-borough"
    return f"/agency/{c.referrer.agency}"


Message = tuple[str, str, bytes, bool]


def day_of_contacts(count: int, seed: int = 7, run: str | None = None,
                    invalid_share: float = 0.04) -> Iterator[Message]:
    """(contact id, agency, message bytes, valid?) for `count` contacts.

    Each contact is made when it is taken, so its `received_at` is when it
    is sent, however slowly the contacts are fed. A few are unusable on
    purpose, as real ones are: a phoned-in note pasted as plain text, and a
    form with no child and an unknown concern code.
    """
    rng = random.Random(seed)
    run = run or uuid.uuid4().hex[:6]
    families = population()
    weights = [s[4] for s in SOURCES]
    invalid = max(1, round(count * invalid_share)) if count >= 10 else 0
    bad_slots = set(rng.sample(range(count), invalid)) if invalid else set()
    for n in range(count):
        source = rng.choices(SOURCES, weights)[0]
        now = datetime.now(UTC)
        if n in bad_slots:
            cid = f"demo-{run}-{n:05d}"
            if len(bad_slots) and n == min(bad_slots):
                raw = (f"Phoned in {now:%H:%M}: caller worried about children next door, "
                       "will send details later").encode()
            else:
                raw = json.dumps({
                    "specversion": "1.0", "id": str(uuid.uuid4()), "source": "/agency/housing",
                    "type": ContactSubmitted.event_type, "subject": cid, "time": now.isoformat(),
                    "schema_version": 1, "correlation_id": cid,
                    "data": {"contact_id": cid, "referrer_reference": f"HOU-{run}-{n:05d}",
                             "received_at": now.isoformat(), "channel": "email",
                             "referrer": {"agency": "housing", "source_code": "4"},
                             "children": [], "concerns": ["99Z"], "analysis": "",
                             "consent": {"state": "given"}},
                }).encode()
            yield cid, source[0], raw, False
            continue
        family = rng.choice(families)
        contact = make_contact(family, source, rng, run, n, now)
        event = agency_event(family, contact, rng)
        yield contact.contact_id, source[0], event.to_bytes(), True


@dataclass
class Account:
    """What became of each contact submitted in this run."""

    submitted: dict[str, Submitted] = field(default_factory=dict)
    outcomes: dict[str, OutcomeRouted] = field(default_factory=dict)
    rejected: dict[str, ContactRejected] = field(default_factory=dict)
    duplicates: int = 0
    # A contact that joined an open case (a re-contact or the same incident)
    # is accounted for by that case's outcome.
    joined: dict[str, str] = field(default_factory=dict)
    case_outcomes: dict[str, OutcomeRouted] = field(default_factory=dict)

    def reconcile(self) -> None:
        for contact_id, case_id in self.joined.items():
            if contact_id not in self.outcomes and case_id in self.case_outcomes:
                self.outcomes[contact_id] = self.case_outcomes[case_id]

    def settled(self) -> bool:
        return all(c in self.outcomes or c in self.rejected for c in self.submitted)

    @property
    def lost(self) -> list[str]:
        return [c for c in self.submitted if c not in self.outcomes and c not in self.rejected]


async def submit(producer: AIOKafkaProducer, contacts: Iterable[Message],
                 account: Account, pace: float = 0.0, keys: KeyRing | None = None,
                 topic: str = topics.CONTACTS_SUBMITTED) -> None:
    """Send each contact as its agency would: signed with the sender's key (on
    ``topics.urgent(CONTACTS_SUBMITTED)`` for a contact the referrer judges RED)."""
    keys = keys or KeyRing(StackSettings().home)
    for contact_id, agency, raw, valid in contacts:
        account.submitted[contact_id] = Submitted.now(contact_id, agency, raw, valid)
        headers = {"content-type": CONTENT_TYPE, **keys.headers(signer_of(raw), raw)}
        await producer.send_and_wait(topic, raw,
                                     key=contact_id.encode(),
                                     headers=[(k, v.encode()) for k, v in headers.items()])
        if pace:
            await asyncio.sleep(pace)


def outcome_line(event: OutcomeRouted) -> str:
    d = event.data
    took = (d.decided_at - d.contact_received_at).total_seconds()
    rule = d.reasons[0].rule_id if d.reasons else "-"
    return (f"{d.decided_at:%H:%M:%S} {d.case_id} {d.rag.value:<5} {d.outcome.value:<28} "
            f"-> {d.destination.value:<11} {rule:<20} decided in {took:.2f}s")


async def watch(bootstrap: str, account: Account, stop: asyncio.Event,
                on_outcome: OnEvent | None = None) -> None:
    """Follow outcomes and rejections as the receiving teams would."""
    consumer = AIOKafkaConsumer(
        *watched(),
        bootstrap_servers=bootstrap, group_id=f"mash-demo-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
        session_timeout_ms=6000, heartbeat_interval_ms=1000,
        # The services' own wait (MASH_KAFKA_FETCH_MAX_WAIT_MS): the embedded
        # broker holds an empty fetch for all of it, so aiokafka's 500 ms
        # would be added to every time shown.
        fetch_max_wait_ms=ServiceSettings().kafka_fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    _account_for(record.topic, record.value, account, on_outcome)
    finally:
        await consumer.stop()


def watched() -> tuple[str, ...]:
    """What the demo follows to account for every contact: the receiving
    teams' outcome topics, joins, and, as every sender at once, each sender's
    own feedback topic and the operator's unattributed rejections."""
    return (*topics.OUTCOME_TOPICS, topics.CONTACTS_REJECTED, topics.CASES_CONTACT_ADDED,
            *(topics.feedback(s) for s in topics.senders()))


def _account_for(topic: str, value: bytes, account: Account, on_outcome: OnEvent | None) -> None:
    if topic == topics.CASES_CONTACT_ADDED:
        added = ContactAdded.model_validate_json(value)
        if added.data.contact.contact_id in account.submitted:
            account.joined[added.data.contact.contact_id] = added.data.case_id
            if on_outcome is not None:
                on_outcome(f"{added.data.contact.contact_id} joined {added.data.case_id} "
                           f"({added.data.reason})")
            account.reconcile()
        return
    if topic.startswith(topics.feedback("")):
        if json.loads(value).get("type") != ContactRejected.event_type:
            return  # receipts and outcome feedback: the outcome topics count those
        topic = topics.CONTACTS_REJECTED
    if topic == topics.CONTACTS_REJECTED:
        rejected = ContactRejected.model_validate_json(value)
        key = rejected.data.contact_id or rejected.subject
        if key in account.submitted:
            account.rejected[key] = rejected
            if on_outcome is not None:
                problems = "; ".join(f"{p.field}: {p.problem}" for p in rejected.data.problems[:2])
                on_outcome(f"rejected {key}: {problems}")
        else:
            _match_unreadable(rejected, account, on_outcome)
        return
    event = OutcomeRouted.model_validate_json(value)
    account.case_outcomes[event.data.case_id] = event
    for contact_id in event.data.contact_ids:
        if contact_id in account.submitted:
            if contact_id in account.outcomes and account.outcomes[contact_id].id == event.id:
                account.duplicates += 1
                continue
            account.outcomes[contact_id] = event
            if on_outcome is not None:
                on_outcome(outcome_line(event))
    account.reconcile()


def _match_unreadable(rejected: ContactRejected, account: Account,
                      on_outcome: OnEvent | None) -> None:
    # A message that was not even JSON names no contact; the demo knows what
    # it sent, so it matches the hash of the original the rejection gives.
    for contact_id, sub in account.submitted.items():
        if not sub.valid and contact_id not in account.rejected and \
                rejected.data.original.sha256 == sub.sha256:
            account.rejected[contact_id] = rejected
            if on_outcome is not None:
                on_outcome(f"rejected {contact_id}: {rejected.data.problems[0].problem}")
            return


def report(account: Account) -> list[str]:
    outcomes = Counter(e.data.outcome.value for e in account.outcomes.values())
    rags = Counter(e.data.rag.value for e in account.outcomes.values())
    times = sorted((e.data.decided_at - e.data.contact_received_at).total_seconds()
                   for e in account.outcomes.values())
    lines = ["", "outcome                          contacts"]
    lines += [f"  {name:<30} {n:>6}" for name, n in sorted(outcomes.items())]
    lines += ["RAG", *(f"  {name:<30} {rags.get(name, 0):>6}" for name in ("RED", "AMBER", "GREEN"))]
    if times:
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        lines.append(f"time to decision: p50 {statistics.median(times):.2f}s  p95 {p95:.2f}s")
    if account.joined:
        lines.append(f"joined an open case (re-contact or same incident): {len(account.joined)}")
    if account.duplicates:
        lines.append(f"duplicate outcome deliveries seen (same event id): {account.duplicates}")
    for contact_id in account.lost:
        lines.append(f"LOST: {contact_id} ({account.submitted[contact_id].agency})")
    n = len(account.submitted)
    lines.append(f"demo: {n} contacts, {len(account.outcomes)} outcomes, "
                 f"{len(account.rejected)} rejected, {len(account.lost)} lost")
    return lines


async def run_demo(bootstrap: str, count: int, timeout: float, seed: int = 7,
                   echo: OnEvent = print) -> Account:
    account = Account()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(bootstrap, account, stop, echo))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="mash-demo")
    await producer.start()
    try:
        await submit(producer, day_of_contacts(count, seed), account)
    finally:
        await producer.stop()
    deadline = time.monotonic() + timeout
    while not account.settled() and time.monotonic() < deadline and not watcher.done():
        await asyncio.sleep(0.2)
    stop.set()
    await watcher
    return account


async def run_live(bootstrap: str, pace: float, echo: OnEvent = print,
                   seed: int = 7) -> None:
    """Feed contacts at a watchable pace, printing each outcome, until stopped."""
    echo(f"{'decided':<8} {'case':<13} {'RAG':<5} {'outcome':<28}    {'routed to':<11} "
         f"{'strongest rule':<20} time from contact")
    account = Account()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(bootstrap, account, stop, echo))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="mash-demo")
    await producer.start()
    try:
        day = 0
        while True:
            day += 1
            await submit(producer, day_of_contacts(50, seed + day), account, pace=pace)
    finally:
        stop.set()
        await producer.stop()
        await watcher


