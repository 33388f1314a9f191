"""A case from gathering to its final decision, and every timescale it is
held to, free of I/O.

- **Gathering**: the case knows which agencies it expects and which have
  answered; it completes when all have answered or the research deadline
  passes (the sweeper reads the deadline from the database).
- **Proposed**: the threshold model (``judgement``, the same one intake's
  triage uses) proposes RAG, outcome and level of need, explained in
  indicators, never below the referrer's RAG or intake's triage. A social worker
  (or a manager) may record a recommendation; a manager authorises or overrides
  (with a rationale), but never a recommendation of their own: another manager
  must. With ``auto_authorise`` the rules authorise at once and the
  decision is marked as made by ``rules``.
- **Decided**: the decision goes to notify. A late finding or a further
  contact is attached and flags the case for review; if it would change the
  RAG the case is reopened for decision, and says so.

Every transition returns the new record and the events it causes; the app
writes both in one transaction. "Now" is always passed in.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts import topics
from contracts.casework import (
    Actor,
    CaseChanged,
    CaseChangeData,
    DecideCommand,
    HistoryKind,
    RecommendCommand,
    Role,
    SlaBreached,
    SlaWarning,
    TimescaleData,
)
from contracts.contact import Contact, Rag
from contracts.envelope import Event, clipped, derived_id
from contracts.events import (
    CaseOpenedData,
    ContactAddedData,
    DecisionData,
    DecisionMade,
    Due,
    Explanation,
    FindingData,
    Outcome,
    Reason,
    Referral,
)
from judgement import CURRENT_VERSION, Facts, Model, load
from judgement.facts import below, higher
from services.decision.calendar import WorkingCalendar

SOURCE = "/mash/decision"
Clock = Callable[[], datetime]

RULE_SET_VERSION = CURRENT_VERSION
MISSING_RULE = "N1-AGENCIES-MISSING"
RULES_ACTOR = Actor(actor_id="rules", role=Role.RULES)
SYSTEM = Actor(actor_id="mash-decision", role=Role.RULES)
LEVEL_FOR = {Outcome.STRATEGY_DISCUSSION: 4, Outcome.ASSESSMENT: 3, Outcome.EARLY_HELP: 2,
             Outcome.SINGLE_AGENCY: 1, Outcome.NFA: 1}
# Timescales an acknowledgement from the receiving team meets.
MET_BY_ACK = frozenset({"s47-to-duty", "outcome-48h"})
CONFIRMATION = ("Authorised by the rules (auto-authorise, a demo convenience): a manager "
                "confirms or overrides every RED and AMBER decision")
# A reason's words (the whole rationale stays on the decision and in the history).
REASON_CHARS = 1000

__all__ = ["MISSING_RULE", "RULE_SET_VERSION", "Facts"]


def ready(expected: list[str], answered: set[str], deadline: datetime, now: datetime) -> bool:
    """Decide when every expected agency has answered, or the deadline passed."""
    return set(expected) <= answered or now >= deadline


def initials(contact: Contact) -> list[str]:
    """Children as the decision names them: refs and initials, never full names."""
    return [f"child-{i} ({c.given_name[:1]}.{c.family_name[:1]}.)"
            for i, c in enumerate(contact.children)]


# --- policy -----------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    """How this MASH runs: settings turned into values the domain uses."""

    auto_authorise: bool = False
    rag_windows: Mapping[Rag, timedelta] = field(default_factory=lambda: {
        Rag.RED: timedelta(hours=4), Rag.AMBER: timedelta(hours=24),
        Rag.GREEN: timedelta(hours=72)})
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    warn_fraction: float = 0.75
    enquiry_window: timedelta = timedelta(hours=24)
    outcome_window: timedelta = timedelta(hours=48)
    out_of_hours_duty: timedelta = timedelta(hours=4)
    overrides: Mapping[str, timedelta] = field(default_factory=dict)
    ruleset: Model = field(default_factory=load)


# --- the record ---------------------------------------------------------------

class _M(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Proposal(_M):
    number: int
    rag: Rag
    outcome: Outcome
    level_of_need: int
    reasons: list[Reason]
    rule_set_version: str
    advice: str | None
    agencies_answered: list[str]
    agencies_missing: list[str]
    proposed_at: AwareDatetime
    explanation: Explanation | None = None


class Recommendation(_M):
    actor: Actor
    rag: Rag
    outcome: Outcome
    level_of_need: int | None
    rationale: str
    advice: str | None
    at: AwareDatetime


class Timescale(_M):
    timescale: str
    text: str
    phase: Literal["decision", "outcome", "review"]
    rag: Rag | None = None
    started_at: AwareDatetime
    due_at: AwareDatetime
    warn_at: AwareDatetime
    met_at: AwareDatetime | None = None
    warned_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    withdrawn_at: AwareDatetime | None = None

    @property
    def open(self) -> bool:
        return not (self.met_at or self.breached_at or self.withdrawn_at)

    def next_alert(self) -> datetime | None:
        if not self.open:
            return None
        return self.warn_at if self.warned_at is None else self.due_at


class HistoryEntry(_M):
    at: AwareDatetime
    kind: HistoryKind
    actor: Actor
    rag: Rag | None = None
    outcome: Outcome | None = None
    text: str
    rule_ids: list[str] = Field(default_factory=list)


class AddedContact(_M):
    contact: Contact
    sender: str | None = None
    reason: str
    added_at: AwareDatetime


class CaseRecord(_M):
    """One case as the decision service keeps it (one database document)."""

    case_id: str = Field(alias="_id")
    opened: CaseOpenedData | None = None
    correlation_id: str | None = None
    findings: dict[str, FindingData] = Field(default_factory=dict)
    added: list[AddedContact] = Field(default_factory=list)
    state: Literal["gathering", "proposed", "decided"] = "gathering"
    proposal: Proposal | None = None
    recommendation: Recommendation | None = None
    decision: DecisionData | None = None
    decisions: list[DecisionData] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    timescales: list[Timescale] = Field(default_factory=list)
    review: list[str] = Field(default_factory=list)
    acknowledged_by: list[str] = Field(default_factory=list)

    def contacts(self) -> list[Contact]:
        assert self.opened is not None
        return [self.opened.contact, *(a.contact for a in self.added)]

    def referrals(self) -> list[Referral]:
        """Every contact in the case and who sent it: each hears the outcome."""
        assert self.opened is not None
        sent = [(self.opened.contact, self.opened.sender),
                *((a.contact, a.sender) for a in self.added)]
        return [Referral(contact_id=c.contact_id, referrer_reference=c.referrer_reference,
                         agency=c.referrer.agency, sender=sender, kind=c.kind)
                for c, sender in sent]

    def timescale(self, name: str) -> Timescale | None:
        return next((t for t in self.timescales if t.timescale == name), None)

    def next_alert(self) -> datetime | None:
        times = [t for t in (ts.next_alert() for ts in self.timescales) if t is not None]
        return min(times) if times else None


@dataclass
class Step:
    """What a transition did: the new record, what to publish, what to log."""

    case: CaseRecord
    emit: list[tuple[str, Event[Any]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def decisions(self) -> list[DecisionMade]:
        return [e for _, e in self.emit if isinstance(e, DecisionMade)]


# --- helpers ------------------------------------------------------------------

def _record(step: Step, kind: HistoryKind, actor: Actor, text: str, now: datetime, *,
            rag: Rag | None = None, outcome: Outcome | None = None,
            rule_ids: list[str] | None = None, cause: str | None = None,
            explanation: Explanation | None = None, publish: bool = True) -> None:
    case = step.case
    entry = HistoryEntry(at=now, kind=kind, actor=actor, rag=rag, outcome=outcome, text=text,
                         rule_ids=rule_ids or [])
    case.history.append(entry)
    if publish:
        step.emit.append((topics.CASE_HISTORY, CaseChanged.new(
            CaseChangeData(case_id=case.case_id, kind=kind, actor=actor, rag=rag,
                           outcome=outcome, text=text, rule_ids=rule_ids or [],
                           explanation=explanation, at=now),
            id=derived_id("case-changed", case.case_id, str(len(case.history))),
            source=SOURCE, subject=case.case_id,
            correlation_id=case.correlation_id or case.case_id, causation_id=cause, time=now)))


def _timescale(policy: Policy, name: str, text: str, phase: Literal["decision", "outcome", "review"],
               started: datetime, due: datetime, rag: Rag | None = None,
               working_days: int | None = None) -> Timescale:
    """A timescale, warned at ``warn_fraction`` of the way: of working time
    for one counted in working days (never a warning at 22:00 on a Sunday),
    of clock time otherwise. Configured overrides are plain seconds."""
    base = name.split("-v")[0]
    if base in policy.overrides:
        due = started + policy.overrides[base]
        working_days = None
    if working_days is not None:
        warn = policy.calendar.add_working_time(
            started, working_days * policy.calendar.day_length * policy.warn_fraction)
    else:
        warn = started + (due - started) * policy.warn_fraction
    return Timescale(timescale=name, text=text, phase=phase, rag=rag, started_at=started,
                     due_at=due, warn_at=warn)


def _start_decision_timescales(case: CaseRecord, policy: Policy) -> None:
    if case.timescales or case.opened is None:
        return
    opened = case.opened
    received = opened.contact.received_at
    rag = opened.triage_rag
    case.timescales += [
        _timescale(policy, "decision-rag",
                   f"MASH decision within the RAG window ({rag.value}: "
                   f"{policy.rag_windows[rag].total_seconds() / 3600:g} clock hours)",
                   "decision", received, received + policy.rag_windows[rag], rag),
        _timescale(policy, "decision-working-day",
                   "A decision on the type of response within one working day of the referral, "
                   "with feedback to the referrer", "decision", received,
                   policy.calendar.add_working_days(received, 1), working_days=1),
        _timescale(policy, "confidential-enquiry",
                   "Partner agencies answer the MASH's confidential enquiry within "
                   f"{policy.enquiry_window.total_seconds() / 3600:g} hours", "decision",
                   opened.opened_at, opened.opened_at + policy.enquiry_window),
    ]
    if opened.contact.kind == "confidential-enquiry":
        case.timescales.append(_la_enquiry(opened.contact, policy))


LA_ENQUIRY = "la-enquiry-answer"


def _la_enquiry(contact: Contact, policy: Policy) -> Timescale:
    """Another local authority's confidential enquiry is owed its answer (the
    decision, fed back on its own topic) by the time it asked for, or within
    the enquiry window (24 hours) of receipt."""
    received = contact.received_at
    due = contact.answer_due or received + policy.enquiry_window
    return _timescale(policy, LA_ENQUIRY, "Another local authority's confidential enquiry "
                      f"answered by {due:%Y-%m-%d %H:%M} UTC", "decision", received, due)


def _meet(case: CaseRecord, names: set[str] | frozenset[str], now: datetime,
          phase: str | None = None) -> None:
    for ts in case.timescales:
        if ts.open and (ts.timescale in names or (phase is not None and ts.phase == phase)):
            ts.met_at = now


def outcome_timescales(outcome: Outcome, received: datetime, decided: datetime,
                       policy: Policy) -> list[Timescale]:
    """What runs from a decision. 'Same day' for s47: the close of the working
    day it was decided on, or, decided out of hours, the emergency duty team
    within ``out_of_hours_duty`` (4 clock hours by default)."""
    cal = policy.calendar
    out: list[Timescale] = []
    if outcome is Outcome.STRATEGY_DISCUSSION:
        close = cal.close_of_working_day(decided)
        out.append(_timescale(policy, "s47-to-duty",
                              "Section 47: passed to duty social work the same day "
                              "(out of hours: the emergency duty team)", "outcome", decided,
                              close or decided + policy.out_of_hours_duty))
        out.append(_timescale(policy, "icpc-15wd",
                              "Initial Child Protection Conference within 15 working days of the "
                              "strategy discussion (taken as the day of the s47 decision)",
                              "outcome", decided, cal.add_working_days(decided, 15),
                              working_days=15))
    else:
        out.append(_timescale(policy, "outcome-48h",
                              "Outcome passed to and taken on by the receiving team within "
                              f"{policy.outcome_window.total_seconds() / 3600:g} hours of receipt",
                              "outcome", received, received + policy.outcome_window))
    if outcome in (Outcome.STRATEGY_DISCUSSION, Outcome.ASSESSMENT):
        out.append(_timescale(policy, "assessment-45wd",
                              "Assessment completed within 45 working days of the referral",
                              "outcome", received, cal.add_working_days(received, 45),
                              working_days=45))
    return out


def _facts(case: CaseRecord, now: datetime) -> Facts:
    assert case.opened is not None
    missing = [a for a in case.opened.expected_agencies if a not in case.findings]
    return Facts(case.opened.contact, case.findings, missing, now.date(),
                 tuple(a.contact for a in case.added), triage_rag=case.opened.triage_rag)


def _propose(case: CaseRecord, now: datetime, policy: Policy) -> Proposal:
    facts = _facts(case, now)
    j = policy.ruleset.judge(facts)
    return Proposal(number=(case.proposal.number + 1) if case.proposal else 1, rag=j.rag,
                    outcome=j.outcome, level_of_need=j.level, reasons=j.reasons,
                    rule_set_version=j.version, advice=j.advice,
                    agencies_answered=sorted(case.findings), agencies_missing=facts.missing,
                    proposed_at=now, explanation=j.explanation)


def _default_advice(outcome: Outcome, policy: Policy) -> str | None:
    return policy.ruleset.advice_for(outcome)


def _decision_event(case: CaseRecord, *, rag: Rag, outcome: Outcome, level: int,
                    reasons: list[Reason], decided_by: str, rationale: str | None,
                    advice: str | None, now: datetime, policy: Policy,
                    cause: str | None) -> DecisionMade:
    assert case.opened is not None
    assert case.proposal is not None
    contact = case.opened.contact
    version = len(case.decisions) + 1
    children: list[str] = []
    for c in case.contacts():
        children += [x for x in initials(c) if x not in children]
    due = [Due(timescale=t.timescale, text=t.text, due_at=t.due_at)
           for t in outcome_timescales(outcome, contact.received_at, now, policy)]
    return DecisionMade.new(
        DecisionData(
            case_id=case.case_id,
            contact_ids=[c.contact_id for c in case.contacts()],
            rag=rag, outcome=outcome, level_of_need=level, reasons=reasons,
            rule_set_version=case.proposal.rule_set_version,
            referrer_rag=contact.referrer_rag,
            agencies_answered=case.proposal.agencies_answered,
            agencies_missing=case.proposal.agencies_missing,
            decided_by=decided_by,
            referrer_agency=contact.referrer.agency,
            referrer_reference=contact.referrer_reference,
            children=children,
            contact_received_at=contact.received_at,
            decided_at=now,
            decision_version=version,
            proposed_rag=case.proposal.rag,
            recommended_rag=case.recommendation.rag if case.recommendation else None,
            rationale=rationale,
            advice=advice if outcome in (Outcome.NFA, Outcome.SINGLE_AGENCY) else None,
            due=due,
            referrals=case.referrals(),
            explanation=case.proposal.explanation,
            triage_rag=case.opened.triage_rag,
        ),
        id=derived_id("decision", case.case_id) if version == 1
        else derived_id("decision", case.case_id, f"v{version}"),
        source=SOURCE, subject=case.case_id,
        correlation_id=case.correlation_id or contact.contact_id, causation_id=cause, time=now)


def _finalise(step: Step, decision: DecisionMade, now: datetime, policy: Policy) -> None:
    case = step.case
    d = decision.data
    case.decision = d
    case.decisions.append(d)
    case.state = "decided"
    case.review = []
    case.recommendation = None
    _meet(case, {"decision-rag", "decision-working-day"}, now, phase="decision")
    _meet(case, set(), now, phase="review")
    wanted = outcome_timescales(d.outcome, d.contact_received_at, now, policy)
    names = {t.timescale for t in wanted}
    for ts in case.timescales:  # a changed outcome withdraws what no longer applies
        if ts.phase == "outcome" and ts.open and ts.timescale not in names:
            ts.withdrawn_at = now
    for ts in wanted:
        if case.timescale(ts.timescale) is None:
            case.timescales.append(ts)
    step.emit.append((topics.DECISIONS, decision))
    step.notes.append(f"case {case.case_id} decided {d.rag.value} {d.outcome.value} "
                      f"(v{d.decision_version}, by {d.decided_by}, "
                      f"{len(d.agencies_answered)}/{len(d.agencies_answered) + len(d.agencies_missing)}"
                      " agencies)")


def _authorise_by_rules(step: Step, now: datetime, policy: Policy, cause: str | None) -> None:
    case = step.case
    p = case.proposal
    assert p is not None
    decision = _decision_event(case, rag=p.rag, outcome=p.outcome, level=p.level_of_need,
                               reasons=p.reasons, decided_by=RULES_ACTOR.actor_id,
                               rationale=None, advice=p.advice, now=now, policy=policy,
                               cause=cause)
    _record(step, HistoryKind.AUTHORISED, RULES_ACTOR,
            "Authorised by the rules: auto-authorise is on, no person reviewed this decision",
            now, rag=p.rag, outcome=p.outcome, rule_ids=[r.rule_id for r in p.reasons],
            cause=cause)
    _finalise(step, decision, now, policy)
    if p.rag is not Rag.GREEN:
        # Auto-authorise is a demo convenience: a RED or AMBER decision still
        # waits for a manager to confirm it (`decide` authorise) or override it.
        case.review.append(CONFIRMATION)


def _set_proposal(step: Step, now: datetime, policy: Policy, why: str,
                  cause: str | None) -> None:
    case = step.case
    case.proposal = p = _propose(case, now, policy)
    case.state = "proposed"
    # A more urgent RAG than triage shortens the decision window still running.
    ts = case.timescale("decision-rag")
    if ts is not None and ts.open and case.opened is not None and "decision-rag" not in policy.overrides:
        due = case.opened.contact.received_at + policy.rag_windows[p.rag]
        if due < ts.due_at:
            ts.due_at, ts.rag = due, p.rag
            ts.warn_at = min(ts.warn_at, ts.started_at + (due - ts.started_at) * policy.warn_fraction)
    _record(step, HistoryKind.PROPOSED, RULES_ACTOR,
            f"{why}: the rules ({p.rule_set_version}) propose {p.rag.value} "
            f"{p.outcome.value}, level of need {p.level_of_need}",
            now, rag=p.rag, outcome=p.outcome, rule_ids=[r.rule_id for r in p.reasons],
            cause=cause, explanation=p.explanation)
    if policy.auto_authorise:
        _authorise_by_rules(step, now, policy, cause)
    else:
        step.notes.append(f"case {case.case_id} proposed {p.rag.value} {p.outcome.value}; "
                          "awaiting a manager's decision")


# --- transitions ----------------------------------------------------------------

def advance(case: CaseRecord, now: datetime, policy: Policy, cause: str | None = None) -> Step:
    """Start the clocks, meet what is met, and propose once gathering is complete."""
    step = Step(case.model_copy(deep=True))
    _advance(step, now, policy, cause)
    return step


def _advance(step: Step, now: datetime, policy: Policy, cause: str | None) -> None:
    c = step.case
    if c.opened is None:
        return
    _start_decision_timescales(c, policy)
    if set(c.opened.expected_agencies) <= set(c.findings):
        _meet(c, {"confidential-enquiry"}, now)
    if c.state == "gathering" and ready(c.opened.expected_agencies, set(c.findings),
                                        c.opened.research_deadline, now):
        missing = [a for a in c.opened.expected_agencies if a not in c.findings]
        why = ("Every agency has answered" if not missing
               else "The research deadline passed without " + ", ".join(missing))
        _set_proposal(step, now, policy, why, cause)


def late_information(case: CaseRecord, now: datetime, policy: Policy, *, what: str,
                     contact_added: bool, cause: str | None) -> Step:
    """A finding or a further contact: attached already by the store; here is
    what it means for the case."""
    step = Step(case.model_copy(deep=True))
    c = step.case
    kind = HistoryKind.CONTACT_ADDED if contact_added else HistoryKind.LATE_FINDING
    if c.opened is None or c.state == "gathering":
        if contact_added:
            _record(step, kind, SYSTEM, f"{what} joined the case while it is gathered", now,
                    cause=cause)
        _advance(step, now, policy, cause)
        return step
    _advance(step, now, policy, cause)
    if c.state == "proposed":
        _record(step, kind, SYSTEM, f"{what} arrived while the case awaits a decision", now,
                cause=cause)
        _set_proposal(step, now, policy, "Proposal refreshed", cause)
        return step
    assert c.decision is not None
    _record(step, kind, SYSTEM, f"{what} arrived after the decision "
            f"(v{c.decision.decision_version}, {c.decision.rag.value} {c.decision.outcome.value})",
            now, cause=cause)
    proposal = _propose(c, now, policy)
    changes_rag = proposal.rag is not c.decision.rag
    if changes_rag or (contact_added and policy.auto_authorise):
        why = (f"{what} would change the RAG from {c.decision.rag.value} to {proposal.rag.value}"
               if changes_rag else f"{what} must be included in the decision")
        _record(step, HistoryKind.REOPENED, SYSTEM, f"Reopened for decision: {why}", now,
                rag=proposal.rag, outcome=proposal.outcome, cause=cause)
        n = len(c.decisions) + 1
        c.timescales.append(_timescale(
            policy, f"decision-rag-v{n}",
            f"Reopened case decided again within the RAG window ({proposal.rag.value})",
            "decision", now, now + policy.rag_windows[proposal.rag], proposal.rag))
        c.recommendation = None
        _set_proposal(step, now, policy, "Reopened", cause)
        return step
    c.proposal = proposal
    reason = f"{what} after the decision; it would not change the RAG ({proposal.rag.value})"
    c.review.append(reason)
    c.timescales.append(_timescale(
        policy, f"review-{len(c.history)}", "A manager reviews late information within one "
        "working day", "review", now, policy.calendar.add_working_days(now, 1), working_days=1))
    _record(step, HistoryKind.FLAGGED_FOR_REVIEW, SYSTEM, f"Flagged for review: {reason}", now,
            rag=proposal.rag, outcome=proposal.outcome, cause=cause)
    step.notes.append(f"case {c.case_id} flagged for review")
    return step


def contact_added(case: CaseRecord, added: ContactAddedData, now: datetime, policy: Policy,
                  cause: str | None) -> Step:
    """The store has attached the contact already; here is what it means."""
    if added.contact.kind == "confidential-enquiry" and case.timescale(LA_ENQUIRY) is None \
            and case.state != "decided" and case.timescales:  # the case's clocks have started
        case = case.model_copy(deep=True)
        case.timescales.append(_la_enquiry(added.contact, policy))
    return late_information(case, now, policy,
                            what=f"A further contact ({added.contact.contact_id}, {added.reason}, "
                                 f"from {added.contact.referrer.agency})",
                            contact_added=True, cause=cause)


def finding(case: CaseRecord, agency: str, now: datetime, policy: Policy,
            cause: str | None) -> Step:
    if case.state == "gathering":
        return advance(case, now, policy, cause)
    return late_information(case, now, policy, what=f"A finding from {agency}",
                            contact_added=False, cause=cause)


def _refuse(step: Step, actor: Actor, why: str, now: datetime, cause: str) -> Step:
    _record(step, HistoryKind.COMMAND_REFUSED, actor, f"Command refused: {why}", now, cause=cause)
    step.notes.append(f"case {step.case.case_id}: command refused ({why})")
    return step


# Who may do what: a social worker or a manager recommends; only a manager
# decides. The desk authenticated the actor; the role is still checked here,
# where the rule lives, not trusted to every client.
MAY_RECOMMEND = frozenset({Role.SOCIAL_WORKER, Role.MANAGER})
MAY_DECIDE = frozenset({Role.MANAGER})
WHO_ACTS = ("only a MASH social worker or manager recommends, and only a MASH manager "
            "decides")
NOT_THEIRS = {
    Role.RULES: "commands come from people, not the rules",
    Role.RESEARCHER: f"an agency researcher answers their own agency's enquiries: {WHO_ACTS}",
    Role.OPERATOR: f"an operator watches the desk and acts on no case: {WHO_ACTS}",
}
OWN_RECOMMENDATION = ("you made the recommendation on this case: another manager must "
                      "authorise or override it, so that no one signs off their own "
                      "recommendation")


def _not_allowed(cmd: RecommendCommand | DecideCommand, case: CaseRecord) -> str | None:
    """Why this actor may not give this command on this case, if they may not."""
    actor = cmd.data.actor
    if isinstance(cmd, RecommendCommand):
        if actor.role not in MAY_RECOMMEND:
            return NOT_THEIRS.get(actor.role, WHO_ACTS)
        return None
    if actor.role not in MAY_DECIDE:
        return NOT_THEIRS.get(actor.role, "only a MASH manager makes the final decision")
    rec = case.recommendation
    if rec is not None and rec.actor.actor_id == actor.actor_id:
        return OWN_RECOMMENDATION  # separation of duties
    return None


def command(case: CaseRecord, cmd: RecommendCommand | DecideCommand, now: datetime,
            policy: Policy) -> Step:
    """A practitioner's recommendation or a manager's decision."""
    step = Step(case.model_copy(deep=True))
    c = step.case
    data = cmd.data
    reviewing = c.state == "decided" and bool(c.review)
    # Who may act comes first: "not yours to do" outlasts "not now".
    if (why := _not_allowed(cmd, c)) is not None:
        return _refuse(step, data.actor, why, now, cmd.id)
    if c.state == "gathering":
        missing = [a for a in c.opened.expected_agencies if a not in c.findings] if c.opened else []
        return _refuse(step, data.actor, "the case is still gathered; waiting on "
                       + (", ".join(missing) or "the case to open"), now, cmd.id)
    if c.state == "decided" and not reviewing:
        return _refuse(step, data.actor, "the case is decided and not open for review", now, cmd.id)
    if isinstance(cmd, RecommendCommand):
        r = cmd.data
        c.recommendation = Recommendation(actor=r.actor, rag=r.rag, outcome=r.outcome,
                                          level_of_need=r.level_of_need, rationale=r.rationale,
                                          advice=r.advice, at=now)
        _record(step, HistoryKind.RECOMMENDED, r.actor, r.rationale, now, rag=r.rag,
                outcome=r.outcome, cause=cmd.id)
        step.notes.append(f"case {c.case_id} recommendation recorded by {r.actor.actor_id}")
        return step
    d = cmd.data
    p = c.proposal
    assert p is not None
    rec = c.recommendation
    reasons = list(p.reasons)
    if rec is not None:
        reasons.append(Reason(rule_id="SW-RECOMMENDATION",
                              text=clipped(f"Recommended {rec.rag.value} {rec.outcome.value} by "
                                         f"{rec.actor.actor_id}: {rec.rationale}", REASON_CHARS)))
    if d.action == "override":
        assert d.rag is not None
        assert d.outcome is not None
        rag, outcome = d.rag, d.outcome
        level = d.level_of_need or LEVEL_FOR[outcome]
        reasons.append(Reason(rule_id="MANAGER-OVERRIDE",
                              text=clipped(f"Overridden to {rag.value} {outcome.value} by "
                                         f"{d.actor.actor_id}: {d.rationale}", REASON_CHARS)))
        kind = HistoryKind.OVERRIDDEN
    else:
        if rec is not None:
            rag, outcome, level = rec.rag, rec.outcome, rec.level_of_need or LEVEL_FOR[rec.outcome]
        elif reviewing and c.decision is not None:
            rag, outcome, level = c.decision.rag, c.decision.outcome, c.decision.level_of_need
        else:
            rag, outcome, level = p.rag, p.outcome, p.level_of_need
        level = d.level_of_need or level
        reasons.append(Reason(rule_id="MANAGER-AUTHORISED",
                              text=clipped(f"Authorised by {d.actor.actor_id}"
                                         + (f": {d.rationale}" if d.rationale else ""),
                                         REASON_CHARS)))
        kind = HistoryKind.AUTHORISED
    floor = _floor(c)
    if floor is not None and below(rag, floor[1]):
        if not (d.rationale or "").strip():
            return _refuse(step, d.actor, f"{rag.value} is below the {floor[0]}'s {floor[1].value}: "
                           "only a manager with a rationale may lower it", now, cmd.id)
        reasons.append(Reason(rule_id="FLOOR-LOWERED", text=clipped(
            f"Rated {rag.value}, below the {floor[0]}'s {floor[1].value}, by {d.actor.actor_id}: "
            f"{d.rationale}", REASON_CHARS)))
    if reviewing and c.decision is not None and (rag, outcome) == (c.decision.rag, c.decision.outcome) \
            and [x.contact_id for x in c.contacts()] == c.decision.contact_ids:
        c.review = []
        c.recommendation = None
        _meet(c, set(), now, phase="review")
        _record(step, HistoryKind.REVIEWED, d.actor,
                "Reviewed: the decision stands" + (f" ({d.rationale})" if d.rationale else ""),
                now, rag=rag, outcome=outcome, cause=cmd.id)
        step.notes.append(f"case {c.case_id} reviewed; the decision stands")
        return step
    advice = d.advice or (rec.advice if rec else None) or \
        (p.advice if outcome is p.outcome else _default_advice(outcome, policy))
    decision = _decision_event(c, rag=rag, outcome=outcome, level=level, reasons=reasons,
                               decided_by=d.actor.actor_id, rationale=d.rationale,
                               advice=advice, now=now, policy=policy, cause=cmd.id)
    _record(step, kind, d.actor, d.rationale or "Authorised as proposed"
            + (" and recommended" if rec else ""), now, rag=rag, outcome=outcome, cause=cmd.id)
    _finalise(step, decision, now, policy)
    return step


def _floor(case: CaseRecord) -> tuple[str, Rag] | None:
    """The rating a decision may not fall below without a manager's
    rationale: the referrer's (any contact in the case), then intake's triage."""
    if case.opened is None:
        return None
    referrer = higher(*(c.referrer_rag for c in case.contacts()))
    top = higher(referrer, case.opened.triage_rag)
    if top is None:
        return None
    return ("referrer" if referrer is top else "MASH triage", top)


def _refusal(cmd: RecommendCommand | DecideCommand, actor: Actor, why: str,
             now: datetime) -> CaseChanged:
    """A command refused outside the case's record; one id per command, so a
    redelivery refuses it once."""
    data = cmd.data
    return CaseChanged.new(
        CaseChangeData(case_id=data.case_id, kind=HistoryKind.COMMAND_REFUSED, actor=actor,
                       text=clipped(f"Command refused: {why}", 6000), at=now),
        id=derived_id("case-changed", data.case_id, "refused", cmd.id), source=SOURCE,
        subject=data.case_id, correlation_id=cmd.correlation_id, causation_id=cmd.id, time=now)


def unknown_case_refusal(cmd: RecommendCommand | DecideCommand, now: datetime) -> CaseChanged:
    return _refusal(cmd, cmd.data.actor, "no such case", now)


def unverified_command_refusal(cmd: RecommendCommand | DecideCommand, why: str,
                               now: datetime) -> CaseChanged:
    """A command the desk did not sign: refused, never applied, and kept out
    of the case's record. The actor it names is a claim nobody checked, so
    the refusal is the decision service's own, not put to that person's name
    on the audit chain."""
    return _refusal(cmd, SYSTEM, why, now)


def command_named(raw: bytes) -> tuple[str, str, Actor] | None:
    """The command id, case and actor of a command that failed validation,
    when it names them; None for a message that is not a command at all."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    data = body.get("data") if isinstance(body, dict) else None
    cmd_id, case_id = body.get("id") if isinstance(body, dict) else None, \
        data.get("case_id") if isinstance(data, dict) else None
    if not (isinstance(cmd_id, str) and 0 < len(cmd_id) <= 200
            and isinstance(case_id, str) and 0 < len(case_id) <= 40):
        return None
    try:
        actor = Actor.model_validate(data.get("actor")) if isinstance(data, dict) else SYSTEM
    except ValueError:
        actor = SYSTEM
    return cmd_id, case_id, actor


def unreadable_command_refusal(cmd_id: str, case_id: str, actor: Actor, problems: str,
                               now: datetime) -> CaseChanged:
    """A command refused for what it says (a blank rationale, an override
    without its RAG): on the case's history, where its sender waits for it."""
    text = clipped(f"Command refused: {problems}", 6000)
    return CaseChanged.new(
        CaseChangeData(case_id=case_id, kind=HistoryKind.COMMAND_REFUSED, actor=actor,
                       text=text, at=now),
        id=derived_id("case-changed", case_id, "refused", cmd_id), source=SOURCE,
        subject=case_id, correlation_id=case_id, causation_id=cmd_id, time=now)


def sla(case: CaseRecord, now: datetime, policy: Policy) -> Step:
    """The sweeper: the research deadline, then a warning before each
    timescale falls due and a breach when it passes."""
    step = advance(case, now, policy)
    c = step.case
    for ts in c.timescales:
        if not ts.open:
            continue
        kind: Literal["warning", "breached"] | None = None
        if now >= ts.due_at:
            ts.breached_at, kind = now, "breached"
        elif ts.warned_at is None and now >= ts.warn_at:
            ts.warned_at, kind = now, "warning"
        if kind is None:
            continue
        data = TimescaleData(case_id=c.case_id, timescale=ts.timescale, text=ts.text, rag=ts.rag,
                             started_at=ts.started_at, due_at=ts.due_at, at=now)
        cls = SlaBreached if kind == "breached" else SlaWarning
        event = cls.new(data, id=derived_id("sla", c.case_id, ts.timescale, kind), source=SOURCE,
                        subject=c.case_id, correlation_id=c.correlation_id or c.case_id, time=now)
        step.emit.append((topics.SLA_BREACHED if kind == "breached" else topics.SLA_WARNINGS,
                          event))
        when = f"{ts.due_at.astimezone(policy.calendar.tz):%a %d %b %H:%M}"
        _record(step, HistoryKind.SLA_BREACHED if kind == "breached" else HistoryKind.SLA_WARNING,
                SYSTEM, f"{ts.timescale} {'breached' if kind == 'breached' else 'due soon'}: "
                f"{ts.text} (due {when})", now, publish=False)
        step.notes.append(f"case {c.case_id}: {ts.timescale} {kind}")
    return step


def acknowledged(case: CaseRecord, team: str, destination: str, now: datetime,
                 cause: str) -> Step:
    step = Step(case.model_copy(deep=True))
    c = step.case
    _meet(c, MET_BY_ACK, now)
    c.acknowledged_by.append(team)
    _record(step, HistoryKind.OUTCOME_ACKNOWLEDGED, SYSTEM,
            f"Outcome acknowledged by {team} ({destination})", now, cause=cause, publish=False)
    return step


def escalated(case: CaseRecord, text: str, now: datetime, cause: str) -> Step:
    step = Step(case.model_copy(deep=True))
    _record(step, HistoryKind.OUTCOME_ESCALATED, SYSTEM, text, now, cause=cause, publish=False)
    return step


def decision_event(opened: CaseOpenedData, findings: dict[str, FindingData],
                   correlation_id: str, now: datetime) -> DecisionMade:
    """The decision the rules alone make on what has arrived (auto-authorise)."""
    case = CaseRecord.model_validate({"_id": opened.case_id, "opened": opened,
                                      "correlation_id": correlation_id, "findings": findings})
    step = Step(case)
    _set_proposal(step, now, Policy(auto_authorise=True), "Decided on what has arrived", None)
    [decision] = step.decisions
    return decision
