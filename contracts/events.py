"""Every event the services exchange, with its data model.

Services import these and nothing of each other. A change to an event's data
that old consumers cannot read bumps ``schema_version_current``.
"""

from datetime import date
from enum import StrEnum
from typing import Any, Literal

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


class Problem(_Data):
    field: str = Field(description="Where in the contact, e.g. children.0.date_of_birth")
    problem: str = Field(description="In words a referrer can act on")


class Rejection(_Data):
    contact_id: str | None
    referrer_reference: str | None
    referrer_agency: str | None
    problems: list[Problem] = Field(min_length=1)
    original: str = Field(description="The message exactly as received")
    original_encoding: Literal["utf-8", "base64"]
    topic: str
    partition: int
    offset: int


class ContactRejected(Event[Rejection]):
    event_type = "mash.contact.rejected"


class CaseOpenedData(_Data):
    case_id: str
    contact: Contact
    expected_agencies: list[str]
    triage_rag: Rag
    data_quality: list[str] = Field(default_factory=list)
    opened_at: AwareDatetime
    research_deadline: AwareDatetime = Field(
        description="Agencies answer by then; the case is decided on what has arrived")


class CaseOpened(Event[CaseOpenedData]):
    event_type = "mash.case.opened"


class ContactAddedData(_Data):
    case_id: str
    contact: Contact
    reason: Literal["re-contact", "same-incident"]
    added_at: AwareDatetime


class ContactAdded(Event[ContactAddedData]):
    """A further contact joins a case that is already open."""

    event_type = "mash.case.contact-added"


class Subject(_Data):
    """A person an agency is asked to search for: the minimum to find them."""

    person_ref: str = Field(description="Stable within the case, e.g. child-0, adult-1")
    role: Literal["child", "adult"]
    given_name: str
    family_name: str
    date_of_birth: date | None = None
    postcode: str | None = None


class EnquiryData(_Data):
    enquiry_id: str
    case_id: str
    agency: str
    subjects: list[Subject] = Field(min_length=1)
    rag: Rag
    consent: ConsentState
    purpose: str
    lawful_basis: str
    concerns: list[str]
    requested_at: AwareDatetime
    answer_by: AwareDatetime


class EnquiryRequested(Event[EnquiryData]):
    event_type = "mash.enquiry.requested"


# --- research -------------------------------------------------------------

class FindingItem(_Data):
    person_ref: str
    category: str = Field(description="e.g. domestic-abuse-incident, missed-appointment")
    summary: str | None = Field(description="None when policy allows only 'known'")
    occurred_on: date | None
    risk: Literal["low", "medium", "high"]


class FindingData(_Data):
    enquiry_id: str
    case_id: str
    agency: str
    result: Literal["trace", "no-trace"]
    items: list[FindingItem] = Field(default_factory=list)
    disclosure_level: Literal["known-only", "summary", "full"]
    lawful_basis: str
    answered_at: AwareDatetime


class FindingReported(Event[FindingData]):
    event_type = "mash.finding.reported"


# --- decision -------------------------------------------------------------

class Reason(_Data):
    rule_id: str
    text: str


class Due(_Data):
    """A timescale the case is held to, and when it falls due."""

    timescale: str = Field(description="e.g. s47-to-duty, outcome-48h, assessment-45wd")
    text: str
    due_at: AwareDatetime


class DecisionData(_Data):
    case_id: str
    contact_ids: list[str]
    rag: Rag
    outcome: Outcome
    level_of_need: int = Field(ge=1, le=4)
    reasons: list[Reason] = Field(min_length=1)
    rule_set_version: str
    referrer_rag: Rag | None
    agencies_answered: list[str]
    agencies_missing: list[str]
    decided_by: str = Field(description="'rules' when auto-authorised, else the manager")
    referrer_agency: str
    referrer_reference: str
    children: list[str] = Field(description="Children's person refs with initials, no full names")
    contact_received_at: AwareDatetime
    decided_at: AwareDatetime
    # Added with the decision workflow (optional: older decisions lack them).
    decision_version: int = Field(default=1, ge=1,
                                  description="1, then 2... when a case is reopened and re-decided")
    proposed_rag: Rag | None = None
    recommended_rag: Rag | None = None
    rationale: str | None = Field(default=None, description="The manager's, on an override")
    advice: str | None = Field(default=None, description="Advice or signposting (NFA etc.)")
    due: list[Due] = Field(default_factory=list, description="Timescales that run from here")


class DecisionMade(Event[DecisionData]):
    event_type = "mash.decision.made"


# --- notify ---------------------------------------------------------------

class OutcomeData(_Data):
    case_id: str
    contact_ids: list[str]
    destination: Destination
    outcome: Outcome
    rag: Rag
    reasons: list[Reason]
    children: list[str]
    contact_received_at: AwareDatetime
    decided_at: AwareDatetime
    act_by: AwareDatetime = Field(description="When the receiving team must have acted")
    # Added with the decision workflow (optional: older outcomes lack them).
    level_of_need: int | None = Field(default=None, ge=1, le=4)
    decided_by: str | None = Field(default=None, description="'rules' or the manager's id")
    decision_version: int = Field(default=1, ge=1)
    advice: str | None = Field(default=None, description="Advice or signposting (NFA etc.)")
    ack_by: AwareDatetime | None = Field(
        default=None, description="Acknowledge on mash.outcomes.acks by then, or it escalates")
    due: list[Due] = Field(default_factory=list, description="Every timescale the team inherits")

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
    case_id: str
    referrer_reference: str
    agency: str
    outcome: Outcome
    message: str


class ReferrerFeedback(Event[FeedbackData]):
    event_type = "mash.referrer.feedback"


# --- any service ----------------------------------------------------------

class DeadLetterData(_Data):
    consumer: str
    topic: str
    partition: int
    offset: int
    key: str | None
    error: str
    attempts: int
    original: str
    original_encoding: Literal["utf-8", "base64"]


class DeadLettered(Event[DeadLetterData]):
    event_type = "mash.message.dead-lettered"


class DeadLetterReplayedData(_Data):
    dead_letter_id: str = Field(description="The id of the DeadLettered event replayed")
    topic: str = Field(description="Where the original message was published again")
    replayed_at: AwareDatetime
    by: str = Field(description="Who replayed it (the operator's CLI)")


class DeadLetterReplayed(Event[DeadLetterReplayedData]):
    """On mash.dlq beside the dead letter it answers, so anything that counts
    dead letters waiting (notify's mash_dlq_depth) sees it handled."""

    event_type = "mash.message.dead-letter-replayed"


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
    DeadLettered,
    DeadLetterReplayed,
    *CASEWORK_EVENTS,
)

EVENTS_BY_TYPE = {e.event_type: e for e in ALL_EVENTS}
