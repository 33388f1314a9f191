"""The desk's rules, free of I/O: events folded into a case view, the
tray's order, and who may see and do what."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contracts.caseview import (
    RAG_ORDER,
    AgencyLine,
    CaseView,
    ContactLine,
    Decided,
    HistoryLine,
    Proposed,
    Recommended,
    Stage,
    TimescaleLine,
)
from contracts.casework import (
    Actor,
    CaseChangeData,
    HistoryKind,
    Role,
    TimescaleData,
)
from contracts.contact import Rag
from contracts.events import CaseOpenedData, ContactAddedData, DecisionData, FindingData

# Lines of one instant in the order the decision service writes them (the
# rules propose, then authorise, in one step).
_WITHIN_INSTANT = {HistoryKind.REOPENED: 0, HistoryKind.CONTACT_ADDED: 1,
                   HistoryKind.LATE_FINDING: 1, HistoryKind.PROPOSED: 2,
                   HistoryKind.RECOMMENDED: 3, HistoryKind.AUTHORISED: 4,
                   HistoryKind.OVERRIDDEN: 4, HistoryKind.REVIEWED: 4,
                   HistoryKind.FLAGGED_FOR_REVIEW: 5}


@dataclass(frozen=True)
class Windows:
    """How long a decision may take at each RAG (the decision service's own
    setting, read from the same variables) and a manager's review."""

    red: timedelta = timedelta(hours=4)
    amber: timedelta = timedelta(hours=24)
    green: timedelta = timedelta(hours=72)
    review: timedelta = timedelta(hours=24)

    def of(self, rag: Rag) -> timedelta:
        return {Rag.RED: self.red, Rag.AMBER: self.amber, Rag.GREEN: self.green}[rag]


def new(case_id: str) -> CaseView:
    return CaseView(case_id=case_id)


def opened(view: CaseView, data: CaseOpenedData, windows: Windows) -> CaseView:
    v = view.model_copy(deep=True)
    v.opened_at, v.triage_rag = data.opened_at, data.triage_rag
    v.research_deadline = data.research_deadline
    if not any(c.contact.contact_id == data.contact.contact_id for c in v.contacts):
        v.contacts.insert(0, ContactLine(contact=data.contact, joined="opened",
                                         at=data.opened_at))
    for agency in data.expected_agencies:
        line = v.agency(agency)
        if line is None:
            v.agencies.append(AgencyLine(agency=agency))
            line = v.agencies[-1]
        line.answer_by = data.research_deadline
        line.consent = data.contact.consent.state
    v.agencies.sort(key=lambda a: a.agency)
    return settle(v, windows)


def contact_added(view: CaseView, data: ContactAddedData, windows: Windows) -> CaseView:
    v = view.model_copy(deep=True)
    if not any(c.contact.contact_id == data.contact.contact_id for c in v.contacts):
        v.contacts.append(ContactLine(contact=data.contact, joined=data.reason,
                                      at=data.added_at))
    return settle(v, windows)


def finding(view: CaseView, data: FindingData, windows: Windows,
            caused_by: str | None = None) -> CaseView:
    """An agency's answer; a later one (after a researcher's note) replaces it."""
    v = view.model_copy(deep=True)
    line = v.agency(data.agency)
    if line is None:
        v.agencies.append(AgencyLine(agency=data.agency))
        v.agencies.sort(key=lambda a: a.agency)
        line = v.agency(data.agency)
        assert line is not None
    if line.answered_at is not None and line.answered_at > data.answered_at:
        return settle(v, windows)  # an older answer, arriving late
    line.enquiry_id, line.caused_by = data.enquiry_id, caused_by
    line.answered_at, line.result = data.answered_at, data.result
    line.disclosure_level, line.items = data.disclosure_level, list(data.items)
    return settle(v, windows)


def changed(view: CaseView, event_id: str, data: CaseChangeData, caused_by: str | None,
            windows: Windows) -> CaseView:
    v = view.model_copy(deep=True)
    if any(h.event_id == event_id for h in v.history):
        return v
    v.history.append(HistoryLine(event_id=event_id, at=data.at, kind=data.kind,
                                 actor=data.actor, rag=data.rag, outcome=data.outcome,
                                 text=data.text, caused_by=caused_by))
    v.history.sort(key=lambda h: (h.at, _WITHIN_INSTANT.get(h.kind, 3)))
    if data.kind is HistoryKind.PROPOSED and data.rag is not None and \
            (v.proposal is None or v.proposal.at <= data.at):
        v.proposal = Proposed(rag=data.rag, outcome=data.outcome, text=data.text,
                                  rule_ids=list(data.rule_ids), explanation=data.explanation,
                                  at=data.at)
    return settle(v, windows)


def decided(view: CaseView, data: DecisionData, windows: Windows) -> CaseView:
    v = view.model_copy(deep=True)
    if v.decision is None or v.decision.version <= data.decision_version:
        v.decision = Decided(rag=data.rag, outcome=data.outcome,
                             level_of_need=data.level_of_need, decided_by=data.decided_by,
                             rationale=data.rationale, advice=data.advice,
                             reasons=[r.text for r in data.reasons],
                             version=data.decision_version, at=data.decided_at)
    return settle(v, windows)


def timescale(view: CaseView, data: TimescaleData, breached: bool,
              windows: Windows) -> CaseView:
    v = view.model_copy(deep=True)
    line = next((t for t in v.timescales if t.timescale == data.timescale), None)
    if line is None:
        line = TimescaleLine(timescale=data.timescale, text=data.text, due_at=data.due_at)
        v.timescales.append(line)
    line.due_at = data.due_at
    if breached or line.state != "breached":
        line.state = "breached" if breached else "warned"
    return settle(v, windows)


def settle(v: CaseView, windows: Windows) -> CaseView:
    """Stage, rating, what the case waits for and when, from what is known:
    events arrive in any order, so each is derived afresh."""
    stage, recommendation = Stage.GATHERING, None
    for h in v.history:
        match h.kind:
            case HistoryKind.PROPOSED | HistoryKind.REOPENED:
                if stage is not Stage.RECOMMENDED or h.kind is HistoryKind.REOPENED:
                    stage = Stage.AWAITING_DECISION
                if h.kind is HistoryKind.REOPENED:
                    recommendation = None
            case HistoryKind.RECOMMENDED if h.rag is not None:
                stage = Stage.RECOMMENDED
                recommendation = Recommended(actor=h.actor, rag=h.rag, outcome=h.outcome,
                                             rationale=h.text, at=h.at)
            case HistoryKind.AUTHORISED if h.actor.role is Role.RULES:
                stage = Stage.DECIDED if h.rag is Rag.GREEN else Stage.AWAITING_CONFIRMATION
            case HistoryKind.AUTHORISED | HistoryKind.OVERRIDDEN | HistoryKind.REVIEWED:
                stage = Stage.DECIDED  # the recommendation stays on the RAG trail
            case HistoryKind.FLAGGED_FOR_REVIEW:
                stage = Stage.REVIEW
    if stage is Stage.GATHERING and v.decision is not None:
        stage = Stage.DECIDED  # the decision came before its history line
    v.stage, v.recommendation = stage, recommendation
    v.received_at = min((c.contact.received_at for c in v.contacts), default=None)
    if stage in (Stage.DECIDED, Stage.AWAITING_CONFIRMATION) and v.decision is not None:
        v.rag = v.decision.rag
    else:
        v.rag = recommendation.rag if recommendation else \
            v.proposal.rag if v.proposal else v.triage_rag
    v.rag_order = RAG_ORDER[v.rag] if v.rag is not None else 3
    v.due_at = due(v, windows)
    for line in v.timescales:
        if line.state != "breached" and stage is Stage.DECIDED and \
                line.timescale.startswith("decision"):
            line.state = "met"
    v.breached = stage is not Stage.DECIDED and any(
        t.state == "breached" and not t.timescale.startswith(("outcome", "s47", "assessment"))
        for t in v.timescales)
    return v


def due(v: CaseView, windows: Windows) -> datetime | None:
    """When what the case waits for falls due: a decision within its RAG's
    window of the first contact; a review within a working day."""
    if v.stage is Stage.DECIDED or v.received_at is None or v.rag is None:
        return None
    if v.stage is Stage.REVIEW:
        flagged = [h.at for h in v.history if h.kind is HistoryKind.FLAGGED_FOR_REVIEW]
        return flagged[-1] + windows.review
    start = v.received_at
    reopened = [h.at for h in v.history if h.kind is HistoryKind.REOPENED]
    if reopened:
        start = reopened[-1]
    return start + windows.of(v.rag)


# --- the tray ----------------------------------------------------------------

NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AgencyState:
    agency: str
    answered_at: datetime | None
    answer_by: datetime | None


@dataclass(frozen=True, slots=True)
class TrayRow:
    """What the work tray shows of a case, and no more: thousands are kept
    and sorted in memory on every refresh."""

    case_id: str
    stage: Stage
    rag: Rag | None
    rag_order: int
    due_at: datetime | None
    breached: bool
    received_at: datetime | None
    referrer: str
    agencies: tuple[AgencyState, ...]

    @property
    def answered(self) -> int:
        return sum(1 for a in self.agencies if a.answered_at is not None)


def tray_row(v: CaseView) -> TrayRow:
    return TrayRow(v.case_id, v.stage, v.rag, v.rag_order, v.due_at, v.breached, v.received_at,
                   v.contacts[0].contact.referrer.agency if v.contacts else "—",
                   tuple(AgencyState(a.agency, a.answered_at, a.answer_by) for a in v.agencies))


def tray_key(v: TrayRow | CaseView) -> tuple[int, datetime, str]:
    """RED before AMBER before GREEN, then the least time left first."""
    return v.rag_order, v.due_at or NEVER, v.case_id


@dataclass(frozen=True)
class Gauge:
    """One agency across the open cases: answered, waiting (with the least
    time left to the research deadline), silent past it."""

    agency: str
    answered: int
    waiting: int
    silent: int
    least_left: timedelta | None


def gauges(views: Iterable[TrayRow | CaseView], now: datetime) -> list[Gauge]:
    counts: dict[str, list[int]] = {}
    least: dict[str, timedelta] = {}
    for v in views:
        for a in v.agencies:
            c = counts.setdefault(a.agency, [0, 0, 0])
            if a.answered_at is not None:
                c[0] += 1
            elif a.answer_by is not None and a.answer_by > now:
                c[1] += 1
                left = a.answer_by - now
                least[a.agency] = min(least.get(a.agency, left), left)
            else:
                c[2] += 1
    return [Gauge(name, c[0], c[1], c[2], least.get(name)) for name, c in sorted(counts.items())]


WAITING_FOR_MANAGER: frozenset[Stage] = frozenset(
    {Stage.RECOMMENDED, Stage.AWAITING_CONFIRMATION, Stage.REVIEW})


def waiting_for(v: TrayRow | CaseView) -> str:
    """Who the case waits for, in words for the tray."""
    return {Stage.GATHERING: "agencies' research",
            Stage.AWAITING_DECISION: "a social worker's recommendation",
            Stage.RECOMMENDED: "a manager's decision",
            Stage.AWAITING_CONFIRMATION: "a manager's confirmation",
            Stage.REVIEW: "a manager's review",
            Stage.DECIDED: "nobody"}[v.stage]


def waits_for(v: TrayRow | CaseView, actor: Actor) -> bool:
    """The tray's "waiting for me"."""
    if actor.role is Role.SOCIAL_WORKER:
        return v.stage is Stage.AWAITING_DECISION
    if actor.role is Role.MANAGER:
        return v.stage in WAITING_FOR_MANAGER or v.stage is Stage.AWAITING_DECISION
    return False


# --- who may see and do what --------------------------------------------------

def may_work_cases(actor: Actor) -> bool:
    """The tray and case pages: the MASH team, and the operator to read."""
    return actor.role in (Role.SOCIAL_WORKER, Role.MANAGER, Role.OPERATOR)


def may_recommend(actor: Actor, v: CaseView) -> str | None:
    """None when the actor may recommend now; why not otherwise. The
    decision service checks again: this only spares a refusal."""
    if actor.role not in (Role.SOCIAL_WORKER, Role.MANAGER):
        return "only a social worker or a manager recommends"
    if v.stage in (Stage.GATHERING, Stage.DECIDED):
        return f"the case is {v.stage.value.replace('-', ' ')}, not awaiting a recommendation"
    return None


def may_decide(actor: Actor, v: CaseView) -> str | None:
    if actor.role is not Role.MANAGER:
        return "only a MASH manager makes the final decision"
    if v.stage in (Stage.GATHERING, Stage.DECIDED):
        return f"the case is {v.stage.value}, not awaiting a decision"
    return None


def may_see_enquiry(actor: Actor, agency: str) -> bool:
    """An agency researcher sees their own agency's enquiries, and no other's."""
    return actor.role is Role.RESEARCHER and actor.agency == agency


def time_left(due_at: datetime | None, now: datetime) -> str:
    """"2 h 05 m left", "overdue by 12 m": words, never a colour alone."""
    if due_at is None:
        return "—"
    seconds = int((due_at - now).total_seconds())
    late, seconds = seconds < 0, abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = f"{days} d {hours} h" if days else f"{hours} h {minutes:02d} m" if hours \
        else f"{minutes} m"
    return f"overdue by {text}" if late else f"{text} left"
