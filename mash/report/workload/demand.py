"""Measured demand: what the case views say arrived and how it was worked.

From the case view (``contracts/caseview.py``, the desk's read model folded
from the decision service's public events), never a service's working
document:

- **arrivals**: cases opened per hour, by hour of the week (London time) and
  triage RAG, averaged over the weeks looked at;
- **contacts per case**: the contacts that joined a case each need screening;
- **agencies asked**: the share of cases of each RAG that asked each agency;
- **research turnaround**: each agency's answer after the case opened, and
  the share within the research window;
- **time to decision** and the share decided within the RAG timescale: what
  the hub actually achieved, against which the model is checked.

A practitioner's hands-on minutes are not in any event: they are assumed
(``assumptions.toml``). Pure: the caller loads the views.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from contracts.caseview import RAG_ORDER, CaseView
from contracts.casework import HistoryKind
from contracts.contact import Rag
from mash.report.period import LONDON
from mash.report.workload.assumptions import RAGS, Assumptions

HOURS_A_WEEK = 168
WEEKS_A_MONTH = 365.25 / 12 / 7
DECIDING = (HistoryKind.AUTHORISED, HistoryKind.OVERRIDDEN)


def hour_of_week(moment: datetime) -> int:
    """0 = Monday 00:00-00:59 London time ... 167 = Sunday 23:00-23:59."""
    local = moment.astimezone(LONDON)
    return local.weekday() * 24 + local.hour


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Turnaround:
    """One agency's answers to the cases opened in the period, in minutes
    from the case's opening."""

    agency: str
    asked: int
    answered: int
    within_window: int
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Seen:
    """Decisions on the cases of one RAG opened in the period: decided in
    time, decided late or undecided past the timescale, still open within it."""

    cases: int
    within: int
    late: int
    open: int
    p50: float | None   # minutes from receipt to the first decision
    p90: float | None
    by_people: int      # decided by a person (a manager), not by the rules alone

    @property
    def resolved(self) -> int:
        return self.within + self.late

    @property
    def share(self) -> float | None:
        return self.within / self.resolved if self.resolved else None


@dataclass(frozen=True)
class Demand:
    start: datetime
    end: datetime
    arrivals: MappingProxyType[Rag, tuple[float, ...]]   # cases per hour, by hour of week
    contacts_per_case: MappingProxyType[Rag, float]
    asked: MappingProxyType[Rag, MappingProxyType[str, float]]
    cases: MappingProxyType[Rag, int]
    contacts: int
    research: tuple[Turnaround, ...]
    decisions: MappingProxyType[Rag, Seen]

    @property
    def weeks(self) -> float:
        return (self.end - self.start) / timedelta(weeks=1)

    def per_week(self, rag: Rag | None = None) -> float:
        """Cases a week (one RAG, or all)."""
        rags = RAGS if rag is None else (rag,)
        return sum(sum(self.arrivals[r]) for r in rags)

    def contacts_per_month(self) -> float:
        return WEEKS_A_MONTH * sum(sum(self.arrivals[r]) * self.contacts_per_case[r]
                                   for r in RAGS)

    def scaled(self, contacts_per_month: float) -> "Demand":
        """The same shape (hours, RAG mix, agencies) at another volume."""
        now = self.contacts_per_month()
        if now <= 0:
            raise ValueError("no contacts were measured: there is nothing to scale")
        k = contacts_per_month / now
        return replace(self, arrivals=MappingProxyType(
            {r: tuple(k * x for x in self.arrivals[r]) for r in RAGS}))

    def flattened(self) -> "Demand":
        """The same volume spread evenly over the week: what a model that
        ignores the hour of the week would assume."""
        return replace(self, arrivals=MappingProxyType(
            {r: (sum(self.arrivals[r]) / HOURS_A_WEEK,) * HOURS_A_WEEK for r in RAGS}))

    def busiest_hours(self, n: int = 5) -> list[tuple[int, float]]:
        """The hours of the week with the most cases arriving, most first
        (hours with none left out)."""
        total = [sum(self.arrivals[r][h] for r in RAGS) for h in range(HOURS_A_WEEK)]
        busy = [(h, x) for h, x in enumerate(total) if x > 0]
        return sorted(busy, key=lambda kv: (-kv[1], kv[0]))[:n]


def rag_of(view: CaseView) -> Rag | None:
    """The RAG the case's decision timescale ran at: the more urgent of the
    triage RAG (what research ran at) and the rules' proposal (which shortens
    the timescale when it raises the rating), as the board's report counts
    RED; else the rating it has now."""
    rated = [r for r in (view.triage_rag, view.proposal.rag if view.proposal else None) if r]
    if not rated:
        return view.rag
    return min(rated, key=lambda r: RAG_ORDER[r])


def first_decision(view: CaseView) -> datetime | None:
    """When a manager (or the rules) first decided the case."""
    times = [h.at for h in view.history if h.kind in DECIDING]
    if view.decision is not None:
        times.append(view.decision.at)
    return min(times) if times else None


def decided_by_person(view: CaseView) -> bool:
    if view.decision is None:
        return False
    return view.decision.decided_by != "rules"


def measure(views: Iterable[CaseView], start: datetime, end: datetime,
            assumptions: Assumptions, as_of: datetime | None = None) -> Demand:
    """Demand from the cases whose first contact was received in [start,
    end). ``as_of`` (default ``end``) says which undecided cases are already
    late."""
    if end <= start:
        raise ValueError("the period ends before it starts")
    as_of = as_of or end
    weeks = (end - start) / timedelta(weeks=1)
    counts = {r: [0] * HOURS_A_WEEK for r in RAGS}
    contacts: Counter[Rag] = Counter()
    cases: Counter[Rag] = Counter()
    asked: dict[Rag, Counter[str]] = {r: Counter() for r in RAGS}
    answers: dict[str, list[float]] = {}
    asked_of: Counter[str] = Counter()
    in_window: Counter[str] = Counter()
    to_decision: dict[Rag, list[float]] = {r: [] for r in RAGS}
    within: Counter[Rag] = Counter()
    late: Counter[Rag] = Counter()
    still: Counter[Rag] = Counter()
    by_people: Counter[Rag] = Counter()
    for v in views:
        received = v.received_at or v.opened_at
        rag = rag_of(v)
        if received is None or rag is None or not start <= received < end:
            continue
        cases[rag] += 1
        counts[rag][hour_of_week(received)] += 1
        contacts[rag] += max(1, len(v.contacts))
        opened = v.opened_at or received
        window = timedelta(minutes=assumptions.window_minutes(rag))
        for line in v.agencies:
            asked[rag][line.agency] += 1
            asked_of[line.agency] += 1
            if line.answered_at is not None:
                took = max(0.0, (line.answered_at - opened) / timedelta(minutes=1))
                answers.setdefault(line.agency, []).append(took)
                if line.answered_at <= opened + window:
                    in_window[line.agency] += 1
        due = received + timedelta(minutes=assumptions.timescale_minutes(rag))
        decided = first_decision(v)
        if decided is not None:
            to_decision[rag].append(max(0.0, (decided - received) / timedelta(minutes=1)))
            if decided <= due:
                within[rag] += 1
            else:
                late[rag] += 1
            by_people[rag] += decided_by_person(v)
        elif as_of >= due:
            late[rag] += 1
        else:
            still[rag] += 1
    per_hour = MappingProxyType({r: tuple(n / weeks for n in counts[r]) for r in RAGS})
    return Demand(
        start=start, end=end, arrivals=per_hour,
        contacts_per_case=MappingProxyType(
            {r: contacts[r] / cases[r] if cases[r] else 1.0 for r in RAGS}),
        asked=MappingProxyType({r: MappingProxyType(
            {a: n / cases[r] for a, n in sorted(asked[r].items())}) for r in RAGS}),
        cases=MappingProxyType({r: cases[r] for r in RAGS}),
        contacts=sum(contacts.values()),
        research=tuple(Turnaround(a, asked_of[a], len(answers.get(a, [])), in_window[a],
                                  percentile(answers.get(a, []), 50),
                                  percentile(answers.get(a, []), 90))
                       for a in sorted(asked_of)),
        decisions=MappingProxyType({r: Seen(
            cases[r], within[r], late[r], still[r], percentile(to_decision[r], 50),
            percentile(to_decision[r], 90), by_people[r]) for r in RAGS}))
