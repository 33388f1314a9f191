"""Casework: people's commands on a case, and the events that keep its
timescales, reviews and outcome acknowledgements on the record.

Commands arrive on ``mash.commands.decision``; the two command types share
that topic and are told apart by ``type`` (a discriminated union,
``DecisionCommand``). Everything the decision service changes on a case
because of them is published on ``mash.cases.history``.

``contracts.events`` imports this module at its end (for ``ALL_EVENTS``) and
this module imports ``Outcome`` and ``Destination`` from it: the package's
``__init__`` imports ``contracts.events`` first, which makes that order safe.
"""

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

from contracts.contact import Rag
from contracts.envelope import Event
from contracts.events import Destination, Explanation, Outcome


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(StrEnum):
    SOCIAL_WORKER = "social-worker"
    MANAGER = "manager"
    # An agency's own researcher: sees and answers only that agency's enquiries.
    RESEARCHER = "agency-researcher"
    # Reads the desk; acts on nothing.
    OPERATOR = "operator"
    RULES = "rules"


# Commands are published by the desk alone, signed with its key (Kafka
# headers mash-signer and mash-signature, Ed25519 over the value): the desk
# authenticated the actor, and the decision service takes no command it did
# not sign.
COMMAND_SIGNER = "desk"


class Actor(_Data):
    """Who did it: an identity the MASH's own directory knows, and the role
    they act in. Never a name in logs; the id only."""

    actor_id: str = Field(min_length=1, max_length=100, description="e.g. sw-ann.jones")
    role: Role
    agency: str | None = Field(default=None, max_length=50,
                               description="The agency an agency researcher works for")


# --- commands -------------------------------------------------------------

class RecommendationData(_Data):
    case_id: str = Field(max_length=40)
    actor: Actor
    rag: Rag
    outcome: Outcome
    level_of_need: int | None = Field(default=None, ge=1, le=4)
    rationale: str = Field(min_length=1, max_length=5000,
                           description="Why: the practitioner's analysis of the product")
    advice: str | None = Field(default=None, max_length=2000,
                               description="Advice or signposting for NFA / single-agency")

    @field_validator("rationale")
    @classmethod
    def _rationale_says_something(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a recommendation needs a rationale, not blank space")
        return text


class RecommendCommand(Event[RecommendationData]):
    """A social worker records a recommendation on a case awaiting decision."""

    event_type = "mash.command.recommend"
    type: Literal["mash.command.recommend"] = "mash.command.recommend"


class DecideData(_Data):
    case_id: str = Field(max_length=40)
    actor: Actor
    action: Literal["authorise", "override"] = Field(
        description="authorise: the recommendation if there is one, else the proposal; "
                    "override: the RAG and outcome given here")
    rag: Rag | None = None
    outcome: Outcome | None = None
    level_of_need: int | None = Field(default=None, ge=1, le=4)
    rationale: str | None = Field(default=None, max_length=5000,
                                  description="Required on override")
    advice: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _override_says_what_and_why(self) -> Self:
        if self.action == "override":
            if self.rag is None or self.outcome is None:
                raise ValueError("an override gives the RAG and the outcome")
            if not (self.rationale or "").strip():
                raise ValueError("an override needs a rationale")
        return self


class DecideCommand(Event[DecideData]):
    """A MASH manager authorises or overrides: the final word."""

    event_type = "mash.command.decide"
    type: Literal["mash.command.decide"] = "mash.command.decide"


DecisionCommand = Annotated[RecommendCommand | DecideCommand, Field(discriminator="type")]


class ResearchNoteData(_Data):
    """An agency researcher adds to what their agency holds about a person
    on an enquiry: the agency's research service records it as one of its
    own records and answers the enquiry again under its disclosure policy."""

    case_id: str = Field(max_length=40)
    agency: str = Field(max_length=50)
    actor: Actor
    person_ref: str = Field(max_length=20, description="As in the enquiry, e.g. child-0")
    category: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$",
                          description="A record type, e.g. welfare-concern, missed-appointment")
    summary: str = Field(min_length=1, max_length=1000)
    occurred_on: date | None = None
    risk: Literal["low", "medium", "high"]

    @field_validator("summary")
    @classmethod
    def _summary_says_something(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a note needs words, not blank space")
        return text


class ResearchNoteCommand(Event[ResearchNoteData]):
    """Published by the desk (signed, the researcher authenticated) on that
    agency's own command topic; the finding it causes names it as its cause."""

    event_type = "mash.command.research-note"
    type: Literal["mash.command.research-note"] = "mash.command.research-note"


# --- the case's history ---------------------------------------------------

class HistoryKind(StrEnum):
    PROPOSED = "proposed"
    RECOMMENDED = "recommended"
    AUTHORISED = "authorised"
    OVERRIDDEN = "overridden"
    REVIEWED = "reviewed"
    LATE_FINDING = "late-finding"
    CONTACT_ADDED = "contact-added"
    FLAGGED_FOR_REVIEW = "flagged-for-review"
    REOPENED = "reopened"
    COMMAND_REFUSED = "command-refused"
    SLA_WARNING = "sla-warning"
    SLA_BREACHED = "sla-breached"
    OUTCOME_ACKNOWLEDGED = "outcome-acknowledged"
    OUTCOME_ESCALATED = "outcome-escalated"


class CaseChangeData(_Data):
    case_id: str = Field(max_length=40)
    kind: HistoryKind
    actor: Actor
    rag: Rag | None = None
    outcome: Outcome | None = None
    text: str = Field(max_length=6000,
                      description="What happened and why, in plain words (no personal data)")
    rule_ids: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list,
                                                                  max_length=40)
    explanation: Explanation | None = Field(
        default=None, description="On a proposal: the indicators, combinations and floors "
                                  "behind it, for the case view")
    at: AwareDatetime


class CaseChanged(Event[CaseChangeData]):
    """One line of a case's history: proposed, recommended, authorised or
    overridden, flagged for review, reopened, a command refused."""

    event_type = "mash.case.changed"


# --- timescales -----------------------------------------------------------

_SLA_EXAMPLE: dict[str, JsonValue] = {
    "case_id": "CASE-3F2A9C1B", "timescale": "decision-working-day",
    "text": "A decision on the type of response within one working day of the referral",
    "rag": "AMBER", "started_at": "2026-11-20T16:55:00Z", "due_at": "2026-11-23T16:55:00Z",
    "at": "2026-11-23T16:55:05Z",
}


class TimescaleData(_Data):
    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"examples": [_SLA_EXAMPLE]})

    case_id: str = Field(max_length=40)
    timescale: str = Field(max_length=50,
                           description="e.g. decision-rag, decision-working-day, s47-to-duty")
    text: str = Field(max_length=300)
    rag: Rag | None
    started_at: AwareDatetime
    due_at: AwareDatetime
    at: AwareDatetime = Field(description="When the warning or breach was raised")




def timescale_group(name: str) -> str:
    """A timescale as it is counted: ``decision-rag-v2`` (a reopened case) and
    ``review-7`` (one per late item) under one name each, as the metrics'
    `timescale` label and the board's report count them."""
    if re.fullmatch(r"decision-rag-v\d+", name):
        return "decision-rag-reopened"
    if re.fullmatch(r"review-\d+", name):
        return "review"
    return name


class SlaWarning(Event[TimescaleData]):
    """A timescale will pass soon and what it asks has not happened."""

    event_type = "mash.sla.warning"


class SlaBreached(Event[TimescaleData]):
    """A timescale passed and what it asks had not happened."""

    event_type = "mash.sla.breached"


# --- outcome acknowledgement ---------------------------------------------

class AcknowledgementData(_Data):
    outcome_id: str = Field(max_length=200,
                            description="The id of the mash.outcome.routed event acknowledged")
    case_id: str = Field(max_length=40)
    destination: Destination
    team: str = Field(min_length=1, max_length=100,
                      description="The receiving team, e.g. duty-team-north")
    actor: Actor | None = None
    acknowledged_at: AwareDatetime

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{
        "outcome_id": "5b0f3c4e-2d7a-5e61-9f0b-1c2d3e4f5a6b", "case_id": "CASE-3F2A9C1B",
        "destination": "social-care", "team": "duty-team-north",
        "actor": {"actor_id": "duty-mgr.kay", "role": "manager"},
        "acknowledged_at": "2026-11-20T13:10:00Z"}]})


class OutcomeAcknowledged(Event[AcknowledgementData]):
    """The receiving team has the outcome and has taken it on."""

    event_type = "mash.outcome.acknowledged"


class EscalationData(_Data):
    outcome_id: str = Field(max_length=200)
    case_id: str = Field(max_length=40)
    destination: Destination
    outcome: Outcome
    rag: Rag
    ack_due: AwareDatetime
    escalated_at: AwareDatetime
    text: str = Field(max_length=500)

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{
        "outcome_id": "5b0f3c4e-2d7a-5e61-9f0b-1c2d3e4f5a6b", "case_id": "CASE-3F2A9C1B",
        "destination": "social-care", "outcome": "strategy-discussion-s47", "rag": "RED",
        "ack_due": "2026-11-20T17:00:00Z", "escalated_at": "2026-11-20T17:00:04Z",
        "text": "Not acknowledged by social-care by 2026-11-20 17:00 UTC: escalated to the "
                "MASH manager and the receiving team's manager."}]})


class OutcomeEscalated(Event[EscalationData]):
    """An outcome the receiving team did not acknowledge in its timescale."""

    event_type = "mash.outcome.escalated"


CASEWORK_EVENTS: tuple[type[Event[Any]], ...] = (
    RecommendCommand, DecideCommand, ResearchNoteCommand, CaseChanged, SlaWarning, SlaBreached,
    OutcomeAcknowledged, OutcomeEscalated)

