"""The case view: one case as the people who work it see it.

A read model, not a working document. The desk builds one per case from
public events only (cases opened, contacts added, enquiries, findings, the
case's history, decisions, timescales) and keeps it in its own database
(``mash_desk.case_views``); the CLI and the reports read the same view. No
reader opens the decision service's own records.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.casework import Actor, HistoryKind
from contracts.contact import ConsentState, Contact, Rag
from contracts.events import Explanation, FindingItem, Outcome

COLLECTION = "case_views"
RAG_ORDER = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2}


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stage(StrEnum):
    """Where a case is, and so who it waits for."""

    GATHERING = "gathering"                 # agencies are researching
    AWAITING_DECISION = "awaiting-decision"  # proposed: a social worker recommends, a manager decides
    RECOMMENDED = "recommended"              # a social worker recommended: a manager decides
    AWAITING_CONFIRMATION = "awaiting-confirmation"  # the rules authorised RED/AMBER: a manager confirms
    REVIEW = "review"                        # late information: a manager reviews
    DECIDED = "decided"


OPEN_STAGES = frozenset(set(Stage) - {Stage.DECIDED})


class ContactLine(_View):
    contact: Contact
    joined: Literal["opened", "re-contact", "same-incident"]
    at: AwareDatetime


class AgencyLine(_View):
    """One agency's part: asked, answered or silent."""

    agency: str
    enquiry_id: str | None = None
    answer_by: AwareDatetime | None = None
    consent: ConsentState | None = None
    answered_at: AwareDatetime | None = None
    result: Literal["trace", "no-trace"] | None = None
    disclosure_level: str | None = None
    items: list[FindingItem] = Field(default_factory=list)
    caused_by: str | None = Field(default=None,
                                  description="The researcher's note the answer follows, if any")


class RagStep(_View):
    """One line of the RAG trail: referrer, triage, proposed, recommended, final."""

    stage: Literal["referrer", "triage", "proposed", "recommended", "final"]
    rag: Rag
    outcome: Outcome | None = None
    who: str | None = None
    why: str | None = None
    at: AwareDatetime | None = None


class HistoryLine(_View):
    event_id: str
    at: AwareDatetime
    kind: HistoryKind
    actor: Actor
    rag: Rag | None = None
    outcome: Outcome | None = None
    text: str
    caused_by: str | None = Field(default=None, description="The command or event it answers")


class TimescaleLine(_View):
    timescale: str
    text: str
    due_at: AwareDatetime
    state: Literal["open", "warned", "breached", "met"] = "open"


class Proposed(_View):
    rag: Rag
    outcome: Outcome | None
    text: str
    rule_ids: list[str] = Field(default_factory=list)
    explanation: Explanation | None = None
    at: AwareDatetime


class Recommended(_View):
    actor: Actor
    rag: Rag
    outcome: Outcome | None
    rationale: str
    at: AwareDatetime


class Decided(_View):
    rag: Rag
    outcome: Outcome
    level_of_need: int
    decided_by: str
    rationale: str | None = None
    advice: str | None = None
    reasons: list[str] = Field(default_factory=list)
    version: int = 1
    at: AwareDatetime


class CaseView(_View):
    case_id: str = Field(alias="_id")
    stage: Stage = Stage.GATHERING
    opened_at: AwareDatetime | None = None
    received_at: AwareDatetime | None = Field(default=None,
                                              description="The first contact's receipt")
    triage_rag: Rag | None = None
    rag: Rag | None = Field(default=None, description="The rating now: final, recommended, "
                                                      "proposed or triage, in that order")
    rag_order: int = Field(default=3, description="RED 0, AMBER 1, GREEN 2: the tray's sort")
    research_deadline: AwareDatetime | None = None
    due_at: AwareDatetime | None = Field(default=None,
                                         description="What the case waits for falls due")
    breached: bool = False
    contacts: list[ContactLine] = Field(default_factory=list)
    agencies: list[AgencyLine] = Field(default_factory=list)
    proposal: Proposed | None = None
    recommendation: Recommended | None = None
    decision: Decided | None = None
    history: list[HistoryLine] = Field(default_factory=list)
    timescales: list[TimescaleLine] = Field(default_factory=list)
    events_seen: list[str] = Field(default_factory=list,
                                   description="Event ids applied: each changes the view once")
    updated_at: datetime | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @property
    def open(self) -> bool:
        return self.stage in OPEN_STAGES

    def agency(self, name: str) -> AgencyLine | None:
        return next((a for a in self.agencies if a.agency == name), None)

    def trail(self) -> list[RagStep]:
        """Referrer → triage → proposed → recommended → final, with who and why."""
        steps: list[RagStep] = []
        for line in self.contacts:
            c = line.contact
            if c.referrer_rag is not None:
                steps.append(RagStep(stage="referrer", rag=c.referrer_rag,
                                     who=c.referrer.agency, at=c.received_at,
                                     why=f"the referrer's own rating ({c.referrer_reference})"))
        if self.triage_rag is not None:
            steps.append(RagStep(stage="triage", rag=self.triage_rag, who="MASH triage",
                                 at=self.opened_at, why="the threshold model on the contact"))
        if self.proposal is not None:
            steps.append(RagStep(stage="proposed", rag=self.proposal.rag,
                                 outcome=self.proposal.outcome, who="the rules",
                                 at=self.proposal.at, why=self.proposal.text))
        if self.recommendation is not None:
            r = self.recommendation
            steps.append(RagStep(stage="recommended", rag=r.rag, outcome=r.outcome,
                                 who=r.actor.actor_id, at=r.at, why=r.rationale))
        if self.decision is not None:
            d = self.decision
            steps.append(RagStep(stage="final", rag=d.rag, outcome=d.outcome, who=d.decided_by,
                                 at=d.at, why=d.rationale or "; ".join(d.reasons[-1:])))
        return steps
