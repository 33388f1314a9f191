"""Every event the services exchange, with its data model.

Services import these and nothing of each other. A change to an event's data
that old consumers cannot read bumps ``schema_version_current``.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.contact import ConsentState, Contact, Rag
from contracts.envelope import Event


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Outcome(StrEnum):
    NFA = "nfa"
    SINGLE_AGENCY = "single-agency"
    EARLY_HELP = "early-help"
    ASSESSMENT = "child-and-family-assessment"
    STRATEGY_DISCUSSION = "strategy-discussion-s47"


class Destination(StrEnum):
    SOCIAL_CARE = "social-care"
    EARLY_HELP = "early-help"
    NFA = "nfa"


# --- intake ---------------------------------------------------------------

class ContactSubmitted(Event[Contact]):
    """An agency (or the contact centre) publishes a concern about a child."""

    event_type = "mash.contact.submitted"


Id = Annotated[str, Field(max_length=200)]
Words = Annotated[str, Field(max_length=300)]
# A sender of contacts (an agency or a channel in contracts/signers.toml), as
# its verified signature names it: where its rejections, receipts and
# feedback go (mash.feedback.<sender>).
Sender = Annotated[str, Field(max_length=50)]


class Problem(_Data):
    field: str = Field(max_length=300, description="Where in the contact, e.g. children.0.date_of_birth")
    problem: str = Field(max_length=2000, description="In words a referrer can act on")


class OriginalDigest(_Data):
    """A message as received, described without carrying it: big enough to
    recognise, never big enough to wedge a topic or to leak a child's details.
    The message itself is kept by the service that received it."""

    size_bytes: int = Field(ge=0, description="How many bytes were received")
    sha256: str = Field(max_length=64, description="Of the bytes received, hex")
    preview: str = Field(max_length=400, description=(
        "Its first few hundred characters with personal data masked: field names, and the "
        "values of the envelope's own attributes (type, source, id, time), are kept; every "
        "other letter becomes x or X and every digit 9"))
    kept_as: str = Field(max_length=200, description=(
        "Where the whole message is held, e.g. quarantine/<id> in mash_intake: the operator "
        "gives it back to its sender (`mash quarantine export`)"))


class Rejection(_Data):
    contact_id: str | None = Field(max_length=200)
    referrer_reference: str | None = Field(max_length=200)
    referrer_agency: str | None = Field(max_length=200)
    sender: Sender | None = Field(default=None, description=(
        "The verified signer, to whose own topic the rejection went; None when no valid "
        "signature named one (then it went to mash.contacts.rejected, for the operator only)"))
    problems: list[Problem] = Field(min_length=1, max_length=50)
    original: OriginalDigest
    topic: Id
    partition: int
    offset: int


class ContactRejected(Event[Rejection]):
    """A contact that cannot be used, with every problem in plain words.
    Version 2: the original is described (``OriginalDigest``), not carried."""

    event_type = "mash.contact.rejected"
    schema_version_current = 2


class ReceiptData(_Data):
    contact_id: str = Field(max_length=100)
    referrer_reference: str = Field(max_length=100)
    sender: Sender
    case_id: str = Field(max_length=40, description="The case reference to quote")
    status: Literal["accepted", "already-received"] = Field(description=(
        "accepted: taken into a case (a new one, or one already open about the same child or "
        "incident); already-received: the same referrer reference was accepted before, and "
        "this copy changed nothing"))
    received_at: AwareDatetime
    answer_due: AwareDatetime | None = Field(default=None, description=(
        "When the enquirer is owed an answer (a confidential enquiry from another local "
        "authority: 24 hours)"))
    data_quality: list[Words] = Field(default_factory=list, max_length=30, description=(
        "Usable but poor: what the referrer could add"))
    message: str = Field(max_length=500)


class ContactReceived(Event[ReceiptData]):
    """The sender's receipt: its contact is in, with the case reference."""

    event_type = "mash.contact.received"


class CaseOpenedData(_Data):
    case_id: str = Field(max_length=40)
    contact: Contact
    sender: Sender | None = Field(default=None, description=(
        "Who sent the contact, by its verified signature (None on cases opened before "
        "senders were recorded)"))
    expected_agencies: list[Annotated[str, Field(max_length=50)]] = Field(max_length=30)
    triage_rag: Rag
    data_quality: list[Words] = Field(default_factory=list, max_length=30)
    opened_at: AwareDatetime
    research_deadline: AwareDatetime = Field(
        description="Agencies answer by then; the case is decided on what has arrived")


class CaseOpened(Event[CaseOpenedData]):
    event_type = "mash.case.opened"


class ContactAddedData(_Data):
    case_id: str = Field(max_length=40)
    contact: Contact
    sender: Sender | None = Field(default=None, description="As on CaseOpenedData")
    reason: Literal["re-contact", "same-incident"]
    added_at: AwareDatetime


class ContactAdded(Event[ContactAddedData]):
    """A further contact joins a case that is already open."""

    event_type = "mash.case.contact-added"


class Subject(_Data):
    """A person an agency is asked to search for: the minimum to find them."""

    person_ref: str = Field(max_length=20, description="Stable within the case, e.g. child-0, adult-1")
    role: Literal["child", "adult"]
    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100)
    date_of_birth: date | None = None
    postcode: str | None = Field(default=None, max_length=10)


class EnquiryData(_Data):
    enquiry_id: Id
    case_id: str = Field(max_length=40)
    agency: str = Field(max_length=50)
    subjects: list[Subject] = Field(min_length=1, max_length=50)
    rag: Rag
    consent: ConsentState
    purpose: str = Field(max_length=500)
    lawful_basis: str = Field(max_length=500)
    concerns: list[Annotated[str, Field(max_length=5)]] = Field(max_length=40)
    requested_at: AwareDatetime
    answer_by: AwareDatetime


class EnquiryRequested(Event[EnquiryData]):
    event_type = "mash.enquiry.requested"


# --- research -------------------------------------------------------------

class FindingItem(_Data):
    person_ref: str = Field(max_length=20)
    category: str = Field(max_length=100, description="e.g. domestic-abuse-incident, missed-appointment")
    summary: str | None = Field(max_length=1000, description="None when policy allows only 'known'")
    occurred_on: date | None
    risk: Literal["low", "medium", "high"]


# A finding carries at most this many items: the most serious and most recent
# the agency holds (research orders them so before it cuts).
MAX_FINDING_ITEMS = 60


class FindingData(_Data):
    enquiry_id: Id
    case_id: str = Field(max_length=40)
    agency: str = Field(max_length=50)
    result: Literal["trace", "no-trace"]
    items: list[FindingItem] = Field(default_factory=list, max_length=MAX_FINDING_ITEMS)
    disclosure_level: Literal["known-only", "summary", "full"]
    lawful_basis: str = Field(max_length=500)
    answered_at: AwareDatetime


class FindingReported(Event[FindingData]):
    event_type = "mash.finding.reported"


# --- decision -------------------------------------------------------------

class Reason(_Data):
    rule_id: str = Field(max_length=100)
    text: str = Field(max_length=1000)


class Domain(StrEnum):
    """The three domains of the Assessment Framework that a level of need is
    judged across, and the contact's own circumstances."""

    DEVELOPMENT = "developmental-needs"
    PARENTING = "parenting-capacity"
    FAMILY = "family-and-environment"


class Indicator(_Data):
    """One threshold indicator found on the contact or in an agency's finding."""

    indicator: str = Field(max_length=40, description="The model's indicator id")
    text: str = Field(max_length=120)
    domain: Domain
    level: int = Field(ge=1, le=4, description="The level of need it points to on its own")
    source: str = Field(max_length=40,
                        description="'contact', 'contact analysis' or the agency that holds it")
    evidence: str | None = Field(default=None, max_length=160,
                                 description="The code, record types or words it was read from")


class Applied(_Data):
    """A combination or cumulative-harm rule that held."""

    rule_id: str = Field(max_length=40)
    text: Words


class Floor(_Data):
    """A rating the proposal may not fall below without a named practitioner."""

    floor: Literal["referrer", "triage"]
    rag: Rag
    applied: bool = Field(description="True when the floor, not the indicators, set the RAG")


# An explanation lists at most this many indicators: the highest levels first.
MAX_INDICATORS = 40


class Explanation(_Data):
    """Why the model proposed what it did, in the indicators practitioners use."""

    level: int = Field(ge=1, le=4, description="The level of need the indicators reached")
    indicators: list[Indicator] = Field(default_factory=list, max_length=MAX_INDICATORS)
    combinations: list[Applied] = Field(default_factory=list, max_length=16,
                                        description="Combinations and cumulative harm applied")
    floors: list[Floor] = Field(default_factory=list, max_length=2)
    consent: Words | None = Field(default=None,
                                  description="What consent and the family's request meant")
    missing: list[Annotated[str, Field(max_length=50)]] = Field(
        default_factory=list, max_length=30,
        description="Agencies whose evidence is missing: decided without it")


class Due(_Data):
    """A timescale the case is held to, and when it falls due."""

    timescale: str = Field(max_length=50, description="e.g. s47-to-duty, outcome-48h, assessment-45wd")
    text: str = Field(max_length=300)
    due_at: AwareDatetime


# A case holds at most this many contacts; intake opens a new case for the
# next one about the same child. It bounds every event about a case.
MAX_CONTACTS_PER_CASE = 100


class Referral(_Data):
    """One contact in a case, and who is owed feedback on it."""

    contact_id: str = Field(max_length=100)
    referrer_reference: str = Field(max_length=100)
    agency: str = Field(max_length=100, description="The referrer's agency, as the contact says")
    sender: Sender | None = Field(description="The verified sender, whose topic gets feedback")
    kind: Literal["concern", "early-help-request", "confidential-enquiry"] = "concern"


class DecisionData(_Data):
    case_id: str = Field(max_length=40)
    contact_ids: list[Annotated[str, Field(max_length=100)]] = Field(
        max_length=MAX_CONTACTS_PER_CASE)
    rag: Rag
    outcome: Outcome
    level_of_need: int = Field(ge=1, le=4)
    reasons: list[Reason] = Field(min_length=1, max_length=40)
    rule_set_version: str = Field(max_length=50)
    referrer_rag: Rag | None
    agencies_answered: list[Annotated[str, Field(max_length=50)]] = Field(max_length=30)
    agencies_missing: list[Annotated[str, Field(max_length=50)]] = Field(max_length=30)
    decided_by: str = Field(max_length=100,
                            description="'rules' when auto-authorised, else the manager")
    referrer_agency: str = Field(max_length=100)
    referrer_reference: str = Field(max_length=100)
    children: list[Annotated[str, Field(max_length=40)]] = Field(
        max_length=200, description="Children's person refs with initials, no full names")
    contact_received_at: AwareDatetime
    decided_at: AwareDatetime
    # Added with the decision workflow (optional: older decisions lack them).
    decision_version: int = Field(default=1, ge=1,
                                  description="1, then 2... when a case is reopened and re-decided")
    proposed_rag: Rag | None = None
    recommended_rag: Rag | None = None
    rationale: str | None = Field(default=None, max_length=5000,
                                  description="The manager's, on an override")
    advice: str | None = Field(default=None, max_length=2000,
                               description="Advice or signposting (NFA etc.)")
    due: list[Due] = Field(default_factory=list, max_length=20,
                           description="Timescales that run from here")
    referrals: list[Referral] = Field(
        default_factory=list, max_length=MAX_CONTACTS_PER_CASE,
        description="Every contact in the case and its sender: each sender hears back")
    explanation: Explanation | None = Field(
        default=None, description="The indicators, combinations and floors behind the "
                                  "proposal (None from a rule list without them)")
    triage_rag: Rag | None = Field(default=None, description="Intake's rating: a floor")


class DecisionMade(Event[DecisionData]):
    event_type = "mash.decision.made"


# --- notify ---------------------------------------------------------------

class OutcomeData(_Data):
    case_id: str = Field(max_length=40)
    contact_ids: list[Annotated[str, Field(max_length=100)]] = Field(
        max_length=MAX_CONTACTS_PER_CASE)
    destination: Destination
    outcome: Outcome
    rag: Rag
    reasons: list[Reason] = Field(max_length=40)
    children: list[Annotated[str, Field(max_length=40)]] = Field(max_length=200)
    contact_received_at: AwareDatetime
    decided_at: AwareDatetime
    act_by: AwareDatetime = Field(description="When the receiving team must have acted")
    # Added with the decision workflow (optional: older outcomes lack them).
    level_of_need: int | None = Field(default=None, ge=1, le=4)
    decided_by: str | None = Field(default=None, max_length=100,
                                   description="'rules' or the manager's id")
    decision_version: int = Field(default=1, ge=1)
    advice: str | None = Field(default=None, max_length=2000,
                               description="Advice or signposting (NFA etc.)")
    ack_by: AwareDatetime | None = Field(
        default=None, description="Acknowledge on mash.outcomes.acks by then, or it escalates")
    due: list[Due] = Field(default_factory=list, max_length=20,
                           description="Every timescale the team inherits")

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{
        "case_id": "CASE-3F2A9C1B", "contact_ids": ["POL-2026-118"],
        "destination": "social-care", "outcome": "strategy-discussion-s47", "rag": "RED",
        "reasons": [{"rule_id": "R2-DA-BABY", "text": "Domestic abuse with a baby or unborn "
                     "child in the household and a high-risk record held by a partner agency."}],
        "children": ["child-0 (T.S.)"], "contact_received_at": "2026-11-20T09:30:00Z",
        "decided_at": "2026-11-20T11:02:00Z", "act_by": "2026-11-20T17:00:00Z",
        "level_of_need": 4, "decided_by": "mgr-bob.lee", "decision_version": 1, "advice": None,
        "ack_by": "2026-11-20T17:00:00Z",
        "due": [{"timescale": "s47-to-duty", "text": "Section 47: passed to duty social work "
                 "the same day", "due_at": "2026-11-20T17:00:00Z"},
                {"timescale": "icpc-15wd", "text": "Initial Child Protection Conference within "
                 "15 working days of the strategy discussion", "due_at": "2026-12-11T11:02:00Z"},
                {"timescale": "assessment-45wd", "text": "Assessment completed within 45 "
                 "working days of the referral", "due_at": "2027-01-26T09:30:00Z"}]}]})


class OutcomeRouted(Event[OutcomeData]):
    event_type = "mash.outcome.routed"


class FeedbackData(_Data):
    case_id: str = Field(max_length=40)
    referrer_reference: str = Field(max_length=100)
    agency: str = Field(max_length=100)
    outcome: Outcome
    message: str = Field(max_length=3000)
    contact_id: str | None = Field(default=None, max_length=100,
                                   description="The sender's contact this answers")
    sender: Sender | None = Field(default=None, description="Whose topic it went to")


class ReferrerFeedback(Event[FeedbackData]):
    event_type = "mash.referrer.feedback"


# --- any service ----------------------------------------------------------

class DeadLetterData(_Data):
    consumer: str = Field(max_length=100, description="The service that set it aside")
    topic: Id
    partition: int = Field(description="-1 for an event its own service could not publish")
    offset: int = Field(description="-1 for an event its own service could not publish")
    key: str | None = Field(max_length=200)
    error: str = Field(max_length=2000)
    attempts: int
    original: OriginalDigest = Field(description=(
        "The message, described; the whole of it is held in the consumer's own database "
        "(`kept_as`), where `mash dlq replay` reads it"))
    stage: Literal["consume", "publish"] = Field(default="consume", description=(
        "consume: a message the consumer could never handle; publish: an event its own "
        "service could never publish (too large, a topic refused)"))


class DeadLettered(Event[DeadLetterData]):
    """Version 2: the original is held by the consumer, not carried."""

    event_type = "mash.message.dead-lettered"
    schema_version_current = 2


class DeadLetterReplayedData(_Data):
    dead_letter_id: Id = Field(description="The id of the DeadLettered event replayed")
    topic: Id = Field(description="Where the original message was published again")
    replayed_at: AwareDatetime
    by: str = Field(max_length=200, description="Who replayed it (the operator's CLI)")


class DeadLetterReplayed(Event[DeadLetterReplayedData]):
    """On mash.dlq beside the dead letter it answers, so anything that counts
    dead letters waiting (notify's mash_dlq_depth) sees it handled."""

    event_type = "mash.message.dead-letter-replayed"


class DeadLetterResolvedData(_Data):
    dead_letter_id: Id = Field(description="The id of the DeadLettered event closed")
    reason: str = Field(min_length=1, max_length=2000,
                        description="Why it will never be handled, in plain words")
    resolved_at: AwareDatetime
    by: str = Field(max_length=200, description="Who closed it")


class DeadLetterResolved(Event[DeadLetterResolvedData]):
    """A dead letter that will never succeed (garbage, a message too large),
    closed by the operator with a reason; it no longer counts as waiting."""

    event_type = "mash.message.dead-letter-resolved"


from contracts.casework import CASEWORK_EVENTS  # noqa: E402  (casework builds on the above)

ALL_EVENTS: tuple[type[Event[Any]], ...] = (
    ContactSubmitted,
    ContactRejected,
    CaseOpened,
    ContactAdded,
    EnquiryRequested,
    FindingReported,
    DecisionMade,
    OutcomeRouted,
    ReferrerFeedback,
    ContactReceived,
    DeadLettered,
    DeadLetterReplayed,
    DeadLetterResolved,
    *CASEWORK_EVENTS,
)

EVENTS_BY_TYPE = {e.event_type: e for e in ALL_EVENTS}
