"""A generated history: a year (or any number of weeks) of case views from a
MASH whose arrival and service processes are known, for a hub without one
(``mash report workload --generated-year``) and to validate the model.

It is deliberately **not** the model's engine. Arrivals come from a smooth
intensity over the week (an office-hours curve on weekdays plus a police
curve that peaks late in the evening every day), drawn by thinning, not from
hourly rates; the queue is a hand-written event loop (``heapq``), not SimPy.
What the two share is the service process the history's people really have
(the assumptions' means and coefficients of variation) and the hub's rules
of work: screening, research by each agency asked (until all answer or the
window passes), the social worker, the manager, feedback; RED first, then
the least time left; people finish what is in hand when their shift ends.

The RAG mix, the hours and the agencies asked are this project's estimates
of a plausible hub, not measured figures (see ``Profile``). Pure: no I/O.
"""

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType

from contracts.caseview import RAG_ORDER, AgencyLine, CaseView, ContactLine, Decided, HistoryLine, Stage
from contracts.casework import Actor, HistoryKind, Role
from contracts.contact import Child, Consent, ConsentState, Contact, Rag, Referrer
from contracts.events import Outcome
from mash.report.period import LONDON
from mash.report.workload.assumptions import (
    MANAGER,
    RAGS,
    SCREENER,
    SOCIAL_WORKER,
    Assumptions,
)
from mash.report.workload.staffing import MINUTES_A_WEEK, StaffingPlan

AGENCIES = ("police", "health", "education", "childrens-social-care", "probation", "housing")
MINUTES_A_MONTH = 365.25 / 12 * 24 * 60


def _agencies(*shares: float) -> MappingProxyType[str, float]:
    return MappingProxyType(dict(zip(AGENCIES, shares, strict=True)))


@dataclass(frozen=True)
class Profile:
    """What the generated hub receives. Every figure is an estimate (seed
    004 gives the volume, 2,400-4,000 contacts a month, and says police are
    the largest source; no seed gives the RAG mix or the hours)."""

    contacts_per_month: float = 3000.0
    police_share: float = 0.45          # of contacts, spread over the whole day
    # The RAG mix of each stream (police notifications are more often urgent at night).
    police_rags: MappingProxyType[Rag, float] = field(default_factory=lambda: MappingProxyType(
        {Rag.RED: 0.10, Rag.AMBER: 0.25, Rag.GREEN: 0.65}))
    office_rags: MappingProxyType[Rag, float] = field(default_factory=lambda: MappingProxyType(
        {Rag.RED: 0.06, Rag.AMBER: 0.34, Rag.GREEN: 0.60}))
    # A further contact about the same case (a re-contact or the same incident).
    further_contact: float = 0.08
    asked: MappingProxyType[Rag, MappingProxyType[str, float]] = field(
        default_factory=lambda: MappingProxyType({
            Rag.RED: _agencies(1.0, 1.0, 1.0, 1.0, 0.8, 0.6),
            Rag.AMBER: _agencies(1.0, 1.0, 0.9, 1.0, 0.4, 0.4),
            Rag.GREEN: _agencies(0.8, 0.8, 0.7, 1.0, 0.2, 0.2)}))

    def police(self, minute_of_week: float) -> float:
        """Relative intensity of police notifications: every day, highest
        about 22:00, lowest about 10:00."""
        hour = (minute_of_week / 60) % 24
        return 1.0 + 0.6 * math.cos(2 * math.pi * (hour - 22) / 24)

    def office(self, minute_of_week: float) -> float:
        """Relative intensity of everyone else: weekdays, a curve centred on
        12:30 (schools, health, housing), a trickle at night and weekends."""
        day, hour = divmod(minute_of_week / 60, 24)
        weekday = day < 5
        peak = math.exp(-0.5 * ((hour - 12.5) / 2.8) ** 2)
        return (4.0 * peak + 0.15) if weekday else 0.25


@dataclass
class _Case:
    number: int
    rag: Rag
    arrives: float
    police: bool
    contacts: int
    work: dict[str, float]
    research: dict[str, float]
    answered: dict[str, float] = field(default_factory=dict)
    waiting_research: bool = False
    collated: bool = False
    recommended: float | None = None
    decided: float | None = None


def _arrivals(profile: Profile, weeks: float, rng: random.Random) -> Iterator[tuple[float, bool]]:
    """(minute, is police) by thinning a non-homogeneous Poisson process."""
    grid = range(0, MINUTES_A_WEEK, 5)
    police_mean = sum(profile.police(m) for m in grid) / len(grid)
    office_mean = sum(profile.office(m) for m in grid) / len(grid)
    rate = profile.contacts_per_month / (1 + profile.further_contact) / MINUTES_A_MONTH
    police_k = rate * profile.police_share / police_mean
    office_k = rate * (1 - profile.police_share) / office_mean
    top = police_k * 1.6 + office_k * 4.15
    t, end = 0.0, weeks * MINUTES_A_WEEK
    while True:
        t += rng.expovariate(top)
        if t >= end:
            return
        week_minute = t % MINUTES_A_WEEK
        p, o = police_k * profile.police(week_minute), office_k * profile.office(week_minute)
        u = rng.random() * top
        if u < p:
            yield t, True
        elif u < p + o:
            yield t, False


def _pick(rng: random.Random, shares: MappingProxyType[Rag, float]) -> Rag:
    u, total = rng.random(), 0.0
    for rag in RAGS:
        total += shares[rag]
        if u < total:
            return rag
    return Rag.GREEN


@dataclass
class _Desk:
    """One role: people on duty now, people busy, and its queue."""

    on_duty: list[int]
    busy: int = 0
    queue: list[tuple[float, int, int, str]] = field(default_factory=list)


def run(profile: Profile, assumptions: Assumptions, plan: StaffingPlan, weeks: float,
        seed: int) -> list[_Case]:
    """The history's own queue: an event loop over arrivals, work done,
    research windows and shift changes."""
    rng = random.Random(seed)
    draw = random.Random(seed + 104729)
    cases: list[_Case] = []
    for number, (t, police) in enumerate(_arrivals(profile, weeks, rng)):
        rag = _pick(rng, profile.police_rags if police else profile.office_rags)
        contacts = 1
        while draw.random() < profile.further_contact / (1 + profile.further_contact):
            contacts += 1
        act = assumptions.activities
        work = {"screening": sum(act["screening"].draw(draw, rag) for _ in range(contacts)),
                "social-worker": act["collation"].draw(draw, rag)
                + act["recommendation"].draw(draw, rag),
                "decision": act["decision"].draw(draw, rag),
                "feedback": act["feedback"].draw(draw, rag)}
        research = {}
        for agency, share in profile.asked[rag].items():
            if draw.random() < share:
                r = assumptions.research_of(agency)
                research[agency] = r.draw(draw, rag)
        cases.append(_Case(number, rag, t, police, contacts, work, research))

    roles = (SCREENER, SOCIAL_WORKER, MANAGER, *AGENCIES)
    desks = {role: _Desk(plan.on_duty(role)) for role in roles}
    events: list[tuple[float, int, str, int, str]] = []   # (time, seq, kind, case, what)
    seq = 0

    def at(when: float, kind: str, number: int = -1, what: str = "") -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (when, seq, kind, number, what))

    def queue(role: str, case: _Case, what: str) -> None:
        due = case.arrives + assumptions.timescale_minutes(case.rag)
        heapq.heappush(desks[role].queue, (RAG_ORDER[case.rag] * 1e9 + due, case.number,
                                           case.number, what))
        start_work(role)

    def start_work(role: str) -> None:
        desk = desks[role]
        now_on = desk.on_duty[int(now) % MINUTES_A_WEEK]
        while desk.queue and desk.busy < now_on:
            _, _, number, what = heapq.heappop(desk.queue)
            desk.busy += 1
            case = cases[number]
            minutes = case.research[role] if what == "research" else case.work[what]
            at(now + minutes, "done", number, f"{role}|{what}")

    def collate(case: _Case) -> None:
        if not case.collated:
            case.collated = True
            queue(SOCIAL_WORKER, case, "social-worker")

    for case in cases:
        at(case.arrives, "arrive", case.number)
    # Every minute a role's headcount changes, each week.
    changes = sorted({m for role in roles for m, _ in plan.steps(role)})
    for week in range(math.ceil(weeks) + 3):
        for m in changes:
            at(week * MINUTES_A_WEEK + m, "shift")
    end = (weeks + 2) * MINUTES_A_WEEK
    now = 0.0
    while events:
        now, _, kind, number, what = heapq.heappop(events)
        if now > end:
            break
        if kind == "shift":
            for role in roles:
                start_work(role)
            continue
        case = cases[number]
        if kind == "arrive":
            queue(SCREENER, case, "screening")
        elif kind == "window":
            if case.waiting_research:
                case.waiting_research = False
                collate(case)
        elif kind == "done":
            role, task = what.split("|")
            desks[role].busy -= 1
            start_work(role)
            if task == "screening":
                if case.research:
                    case.waiting_research = True
                    for agency in case.research:
                        queue(agency, case, "research")
                    at(max(now, case.arrives + assumptions.window_minutes(case.rag)),
                       "window", number)
                else:
                    collate(case)
            elif task == "research":
                case.answered[role] = now
                if case.waiting_research and len(case.answered) == len(case.research):
                    case.waiting_research = False
                    collate(case)
            elif task == "social-worker":
                case.recommended = now
                queue(MANAGER, case, "decision")
            elif task == "decision":
                case.decided = now
                queue(SCREENER, case, "feedback")
    return cases


# --- as the hub would record it ----------------------------------------------------

MANAGER_ACTOR = Actor(actor_id="mgr-generated", role=Role.MANAGER)
OUTCOMES = {Rag.RED: Outcome.STRATEGY_DISCUSSION, Rag.AMBER: Outcome.ASSESSMENT,
            Rag.GREEN: Outcome.NFA}


def first_monday(on_or_after: date) -> datetime:
    """Midnight, London, of the first Monday on or after the day."""
    day = on_or_after + timedelta(days=(7 - on_or_after.weekday()) % 7)
    return datetime.combine(day, time(0), tzinfo=LONDON)


def _moment(start: datetime, minutes: float) -> datetime:
    """``minutes`` of the model's week clock after a London Monday midnight:
    counted in wall-clock hours, so that hour 9 of a day is 09:00 London
    whatever the season."""
    whole = timedelta(minutes=minutes)
    local = start.replace(tzinfo=None) + whole
    return local.replace(tzinfo=LONDON)


def views(cases: list[_Case], start: datetime) -> list[CaseView]:
    """Each generated case as the desk's case view would hold it."""
    template = Contact(
        contact_id="GEN-0", referrer_reference="GEN-0", received_at=start, channel="portal",
        referrer=Referrer(agency="police", source_code="6"),
        children=[Child(given_name="Generated", family_name="Child")],
        concerns=["20"], analysis="A generated contact: no narrative.",
        consent=Consent(state=ConsentState.GIVEN))
    police, other = Referrer(agency="police", source_code="6"), Referrer(
        agency="education", source_code="2A")
    out: list[CaseView] = []
    for c in cases:
        received = _moment(start, c.arrives)
        contacts = [ContactLine(
            contact=template.model_copy(update={
                "contact_id": f"GEN-{c.number}-{i}", "referrer_reference": f"GEN-{c.number}-{i}",
                "received_at": received, "referrer": police if c.police else other}),
            joined="opened" if i == 0 else "re-contact", at=received) for i in range(c.contacts)]
        agencies = [AgencyLine(
            agency=a, answered_at=_moment(start, c.answered[a]) if a in c.answered else None,
            result="no-trace" if a in c.answered else None, items=[])
            for a in sorted(c.research)]
        view = CaseView(
            case_id=f"GEN-CASE-{c.number}", received_at=received, opened_at=received,
            triage_rag=c.rag, rag=c.rag, rag_order=RAG_ORDER[c.rag], contacts=contacts,
            agencies=agencies)
        if c.decided is not None:
            decided = _moment(start, c.decided)
            view.decision = Decided(
                rag=c.rag, outcome=OUTCOMES[c.rag], level_of_need=4 - RAG_ORDER[c.rag],
                decided_by=MANAGER_ACTOR.actor_id, rationale="generated", advice=None,
                reasons=[], version=1, at=decided)
            view.history = [HistoryLine(
                event_id=f"GEN-{c.number}-decided", at=decided, kind=HistoryKind.AUTHORISED,
                actor=MANAGER_ACTOR, rag=c.rag, outcome=OUTCOMES[c.rag], text="generated",
                caused_by=None)]
            view.stage = Stage.DECIDED
        out.append(view)
    return out


def generate(profile: Profile, assumptions: Assumptions, plan: StaffingPlan, *,
             weeks: float = 52.0, seed: int = 2026,
             start: datetime | None = None) -> tuple[list[CaseView], datetime, datetime]:
    """(the case views, the first moment, the end of the last week)."""
    begin = start or first_monday(date(2025, 12, 1))
    cases = run(profile, assumptions, plan, weeks, seed)
    return views(cases, begin), begin, _moment(begin, weeks * MINUTES_A_WEEK)
