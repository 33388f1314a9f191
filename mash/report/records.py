"""The case documents as the reports read them: the decision service's
``mash_decision.cases`` documents, through this package's own small models.

Only the fields the reports use are declared and every model ignores the rest,
so a field the decision service adds tomorrow changes nothing here. The
referrer's narrative (``analysis``) and every agency's findings are never read.

``contacts`` flattens the cases into one record per contact, the unit every
board figure and the Annex A list count: the contact that opened the case and
each contact that joined it (a re-contact, or the same incident).
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.contact import Rag
from contracts.events import Outcome


class _M(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChildDoc(_M):
    person_id: str | None = None
    gender: str = "unknown"
    ethnicity: str | None = None
    date_of_birth: date | None = None
    estimated_age: int | None = None
    expected_date_of_delivery: date | None = None
    postcode: str | None = None


class AdultDoc(_M):
    """A household member. Names are read only to print initials in the
    emerging-risks report; nothing else keeps them."""

    person_id: str | None = None
    given_name: str = ""
    family_name: str = ""
    postcode: str | None = None


class ReferrerDoc(_M):
    agency: str
    source_code: str


class ContactDoc(_M):
    contact_id: str
    received_at: AwareDatetime
    referrer: ReferrerDoc
    children: tuple[ChildDoc, ...] = ()
    household: tuple[AdultDoc, ...] = ()
    concerns: tuple[str, ...] = ()
    referrer_rag: Rag | None = None
    kind: str = "concern"


class OpenedDoc(_M):
    case_id: str
    contact: ContactDoc
    triage_rag: Rag
    opened_at: AwareDatetime


class AddedDoc(_M):
    contact: ContactDoc
    reason: str
    added_at: AwareDatetime


class ProposalDoc(_M):
    rag: Rag
    outcome: Outcome


class DecisionDoc(_M):
    rag: Rag
    outcome: Outcome
    decided_at: AwareDatetime
    decided_by: str
    contact_ids: tuple[str, ...] = ()
    proposed_rag: Rag | None = None
    decision_version: int = 1


class TimescaleDoc(_M):
    timescale: str
    rag: Rag | None = None
    started_at: AwareDatetime
    due_at: AwareDatetime
    met_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    withdrawn_at: AwareDatetime | None = None


class CaseDoc(_M):
    """One ``mash_decision.cases`` document, as far as the reports need it."""

    case_id: str = Field(alias="_id")
    opened: OpenedDoc | None = None
    added: tuple[AddedDoc, ...] = ()
    state: str = "gathering"
    proposal: ProposalDoc | None = None
    decision: DecisionDoc | None = None
    decisions: tuple[DecisionDoc, ...] = ()
    timescales: tuple[TimescaleDoc, ...] = ()

    @property
    def received_at(self) -> datetime:
        """When the contact that opened the case was received: every decision
        timescale runs from it."""
        assert self.opened is not None
        return self.opened.contact.received_at

    @property
    def first_decision(self) -> DecisionDoc | None:
        return self.decisions[0] if self.decisions else self.decision

    def timescale(self, name: str) -> TimescaleDoc | None:
        return next((t for t in self.timescales if t.timescale == name), None)


How = Literal["opened", "re-contact", "same-incident"]


@dataclass(frozen=True)
class ContactRecord:
    """One contact, with what its case made of it."""

    contact: ContactDoc
    case_id: str
    how: How
    outcome: Outcome | None  # the case's current decision; None while undecided

    @property
    def contact_id(self) -> str:
        return self.contact.contact_id

    @property
    def received_at(self) -> datetime:
        return self.contact.received_at

    @property
    def source_code(self) -> str:
        return self.contact.referrer.source_code

    @property
    def agency(self) -> str:
        return self.contact.referrer.agency

    @property
    def child_ids(self) -> tuple[str, ...]:
        return tuple(c.person_id for c in self.contact.children if c.person_id)


def contacts(cases: list[CaseDoc]) -> list[ContactRecord]:
    """Every contact on the cases that have opened, oldest first. A document
    that has only findings or a joined contact so far (its ``opened`` event
    has not arrived) holds no contact a report can place yet."""
    out: list[ContactRecord] = []
    for case in cases:
        if case.opened is None:
            continue
        outcome = case.decision.outcome if case.decision else None
        out.append(ContactRecord(case.opened.contact, case.case_id, "opened", outcome))
        for added in case.added:
            how: How = "re-contact" if added.reason == "re-contact" else "same-incident"
            out.append(ContactRecord(added.contact, case.case_id, how, outcome))
    out.sort(key=lambda c: (c.received_at, c.contact_id))
    return out
