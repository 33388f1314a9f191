"""The queueing model: a discrete-event simulation of the MASH (SimPy).

Servers are people: referral advisors, social workers, managers and each
agency's researchers, each role a pool whose size follows the staffing plan
shift by shift. A case arrives (Poisson, at the measured rate for its hour of
the week and RAG) and meets, in order:

1. **screening** by a referral advisor, once for each of its contacts;
2. **research** by each agency it asks, all at once; the social worker goes
   on when every agency has answered or the research window has passed
   (a late answer is still worked: it costs the researcher's time);
3. **collation** and the **recommendation** by one social worker;
4. the **decision** by a manager: the moment the timescale is measured to;
5. **feedback** to the referrer by a referral advisor.

Every pool works its queue in the hub's own order (the desk's tray): RED
before AMBER before GREEN, then the least time left. A person whose shift
ends finishes what is in hand and takes nothing new; nobody starts before
their shift. Each piece of work takes a gamma-distributed time with the
assumed mean and coefficient of variation.

Time is in minutes from a Monday midnight. The first ``warmup_weeks`` fill
the queues and are not counted; cases arriving in the ``weeks`` after are;
the simulation then runs on (no new arrivals) until they are decided or two
more weeks have passed (undecided ones count as late). Pure: no I/O; the
random numbers come from the seed, and a case's work is drawn when it
arrives, so two plans are compared on the same cases (common random numbers).
"""

import heapq
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import simpy

from contracts.contact import Rag
from mash.report.workload.assumptions import (
    MANAGER,
    PEOPLE,
    RAGS,
    SCREENER,
    SOCIAL_WORKER,
    Assumptions,
)
from mash.report.workload.demand import HOURS_A_WEEK, Demand, percentile
from mash.report.workload.staffing import MINUTES_A_WEEK, Post, StaffingPlan, Trial

Discipline = Literal["priority", "fifo"]
RAG_ORDER = {Rag.RED: 0, Rag.AMBER: 1, Rag.GREEN: 2}
DRAIN_WEEKS = 2.0


@dataclass(frozen=True)
class Case:
    number: int
    rag: Rag
    arrives: float                      # minutes
    screening: float                    # minutes, all its contacts
    research: tuple[tuple[str, float], ...]
    social_worker: float                # collation + recommendation
    decision: float
    feedback: float


@dataclass(frozen=True)
class RagPrediction:
    rag: Rag
    cases: int
    within: int
    undecided: int
    p50: float | None   # minutes from receipt to decision
    p90: float | None
    p95: float | None

    @property
    def share(self) -> float | None:
        return self.within / self.cases if self.cases else None


@dataclass(frozen=True)
class RolePrediction:
    role: str
    busy_hours: float
    on_duty_hours: float

    @property
    def utilisation(self) -> float | None:
        return self.busy_hours / self.on_duty_hours if self.on_duty_hours else None


@dataclass(frozen=True)
class ResearchPrediction:
    agency: str
    asked: int
    within_window: int

    @property
    def share(self) -> float | None:
        return self.within_window / self.asked if self.asked else None


@dataclass(frozen=True)
class HourPrediction:
    hour: int          # of the week, 0 = Monday 00:00
    cases: int
    within: int
    mean_minutes: float


@dataclass(frozen=True)
class Prediction:
    weeks: float
    rags: MappingProxyType[Rag, RagPrediction]
    roles: tuple[RolePrediction, ...]
    research: tuple[ResearchPrediction, ...]
    hours: tuple[HourPrediction, ...]
    waits: MappingProxyType[tuple[str, str, Rag], float]   # (shift, role, rag) -> minutes waited
    busy_posts: MappingProxyType[Post, float]              # (shift, role) -> hours of work begun
    events: int

    def share(self, rag: Rag) -> float | None:
        return self.rags[rag].share

    def shortfall(self, target: float) -> dict[Rag, float]:
        """How far each RAG's share within its timescale is below ``target``."""
        out: dict[Rag, float] = {}
        for rag, p in self.rags.items():
            share = p.share
            if share is not None and share < target:
                out[rag] = target - share
        return out

    def research_shortfall(self, target: float) -> dict[str, float]:
        out: dict[str, float] = {}
        for r in self.research:
            share = r.share
            if share is not None and share < target:
                out[r.agency] = target - share
        return out

    def overworked(self, casework_share: float) -> dict[str, float]:
        """Roles whose hands-on work exceeds the share of their shifts
        available for casework, by how much."""
        return {r.role: u - casework_share for r in self.roles
                if (u := r.utilisation) is not None and u > casework_share}

    def meets(self, target: float, research_target: float | None = None,
              casework_share: float = 1.0) -> bool:
        return not self.shortfall(target) and not self.research_shortfall(
            target if research_target is None else research_target) and not self.overworked(
            casework_share)

    def busiest(self, n: int = 5) -> list[HourPrediction]:
        return sorted(self.hours, key=lambda h: (-h.cases, h.hour))[:n]

    def worst(self, n: int = 5, least: int = 1) -> list[HourPrediction]:
        """The hours of arrival least often decided in time."""
        seen = [h for h in self.hours if h.cases >= least]
        return sorted(seen, key=lambda h: (h.within / h.cases, -h.cases, h.hour))[:n]


# --- the cases ----------------------------------------------------------------

def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:   # normal approximation, ample for a count of cases
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def cases(demand: Demand, assumptions: Assumptions, weeks: float, seed: int) -> list[Case]:
    """Arrivals over ``weeks`` from a Monday midnight, with each case's work
    drawn at once: the same seed gives the same cases whatever the staff."""
    arrivals, work = random.Random(seed), random.Random(seed * 7919 + 1)
    times: list[tuple[float, Rag]] = []
    whole = math.ceil(weeks)
    for week in range(whole):
        for hour in range(HOURS_A_WEEK):
            base = week * MINUTES_A_WEEK + hour * 60
            for rag in RAGS:
                for _ in range(_poisson(arrivals, demand.arrivals[rag][hour])):
                    times.append((base + 60 * arrivals.random(), rag))
    limit = weeks * MINUTES_A_WEEK
    times = sorted(t for t in times if t[0] < limit)
    out: list[Case] = []
    act = assumptions.activities
    for i, (at, rag) in enumerate(times):
        contacts = 1 + _poisson(work, max(0.0, demand.contacts_per_case[rag] - 1))
        screening = sum(act["screening"].draw(work, rag) for _ in range(contacts))
        research = []
        for agency, share in demand.asked[rag].items():
            if work.random() < share:
                r = assumptions.research_of(agency)
                research.append((agency, r.draw(work, rag)))
        sw = act["collation"].draw(work, rag) + act["recommendation"].draw(work, rag)
        out.append(Case(i, rag, at, screening, tuple(research), sw,
                        act["decision"].draw(work, rag), act["feedback"].draw(work, rag)))
    return out


# --- the people -----------------------------------------------------------------

class Rota:
    """One role's people: those on duty follow the plan minute by minute of
    the week, and each free person takes the first piece of work in the
    queue (the lowest key). SimPy's own ``PriorityResource`` re-sorts its
    whole queue on every request, which a GREEN backlog makes slow; a heap
    does the same job."""

    def __init__(self, env: simpy.Environment, steps: list[tuple[int, int]]) -> None:
        self.env = env
        self.steps = steps
        self.on_duty = 0
        self.busy = 0
        self.queue: list[tuple[float, int, simpy.Event]] = []
        self.order = 0
        env.process(self._shifts())

    def request(self, key: float) -> simpy.Event:
        granted = self.env.event()
        self.order += 1
        heapq.heappush(self.queue, (key, self.order, granted))
        self._dispatch()
        return granted

    def release(self) -> None:
        self.busy -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        while self.queue and self.busy < self.on_duty:
            _, _, granted = heapq.heappop(self.queue)
            self.busy += 1
            granted.succeed()

    def _shifts(self) -> Generator[simpy.Event, Any, None]:
        week = 0
        while True:
            for minute, on_duty in self.steps:
                at = week * MINUTES_A_WEEK + minute
                if at > self.env.now:
                    yield self.env.timeout(at - self.env.now)
                self.on_duty = on_duty
                self._dispatch()
            week += 1


@dataclass
class _Tally:
    start: float
    end: float
    plan: StaffingPlan
    decided: dict[int, float] = field(default_factory=dict)
    busy: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    busy_posts: defaultdict[Post, float] = field(default_factory=lambda: defaultdict(float))
    waits: defaultdict[tuple[str, str, Rag], float] = field(
        default_factory=lambda: defaultdict(float))
    asked: Counter[str] = field(default_factory=Counter)
    in_window: Counter[str] = field(default_factory=Counter)
    shift_cache: dict[tuple[int, str], str | None] = field(default_factory=dict)
    pending: dict[int, tuple[float, str, Rag]] = field(default_factory=dict)

    def counts(self, case: Case) -> bool:
        return self.start <= case.arrives < self.end

    def waited(self, asked: float, now: float, role: str, rag: Rag) -> None:
        shift = self.shift(asked, role)
        if shift is not None and now > asked:
            self.waits[(shift, role, rag)] += now - asked

    def shift(self, minute: float, role: str) -> str | None:
        key = (int(minute) % MINUTES_A_WEEK, role)
        if key not in self.shift_cache:
            self.shift_cache[key] = self.plan.shift_at(key[0], role)
        return self.shift_cache[key]


def simulate(demand: Demand, assumptions: Assumptions, plan: StaffingPlan, *,
             weeks: float = 4.0, warmup_weeks: float = 1.0, seed: int = 1,
             discipline: Discipline = "priority", given: list[Case] | None = None
             ) -> Prediction:
    """Simulate ``weeks`` of the hub under ``plan``; what it predicts.
    ``given`` replaces the random arrivals with these cases (times in
    minutes from the first Monday midnight, warm-up included)."""
    env = simpy.Environment()
    agencies = sorted({a for r in RAGS for a in demand.asked[r]}
                      | {a for c in given or () for a, _ in c.research})
    plan = plan.with_roles((*PEOPLE, *agencies))
    rotas = {role: Rota(env, plan.steps(role)) for role in plan.roles}
    start = warmup_weeks * MINUTES_A_WEEK
    tally = _Tally(start, start + weeks * MINUTES_A_WEEK, plan)
    every = given if given is not None else cases(demand, assumptions, warmup_weeks + weeks,
                                                  seed)

    def key(case: Case) -> float:
        if discipline == "fifo":
            return case.arrives
        due = case.arrives + assumptions.timescale_minutes(case.rag)
        return RAG_ORDER[case.rag] * 1e9 + due

    def work(role: str, minutes: float, case: Case) -> Generator[simpy.Event, Any, None]:
        rota = rotas[role]
        asked = env.now
        counted = tally.counts(case)
        granted = rota.request(key(case))
        if counted:
            tally.pending[id(granted)] = (asked, role, case.rag)
        yield granted
        if counted:
            del tally.pending[id(granted)]
            tally.waited(asked, env.now, role, case.rag)
            tally.busy[role] += minutes
            shift = tally.shift(env.now, role)
            if shift is not None:
                tally.busy_posts[(shift, role)] += minutes / 60
        yield env.timeout(minutes)
        rota.release()

    def research(agency: str, minutes: float, case: Case,
                 by: float) -> Generator[simpy.Event, Any, None]:
        if tally.counts(case):
            tally.asked[agency] += 1
        yield from work(agency, minutes, case)
        if tally.counts(case):
            tally.in_window[agency] += env.now <= by

    def one(case: Case) -> Generator[simpy.Event, Any, None]:
        yield from work(SCREENER, case.screening, case)
        if case.research:
            by = case.arrives + assumptions.window_minutes(case.rag)
            answers = [env.process(research(a, m, case, by)) for a, m in case.research]
            yield env.all_of(answers) | env.timeout(max(0.0, by - env.now))
        yield from work(SOCIAL_WORKER, case.social_worker, case)
        yield from work(MANAGER, case.decision, case)
        tally.decided[case.number] = env.now
        yield from work(SCREENER, case.feedback, case)

    def arrivals() -> Generator[simpy.Event, Any, None]:
        for case in every:
            if case.arrives > env.now:
                yield env.timeout(case.arrives - env.now)
            env.process(one(case))

    env.process(arrivals())
    env.run(until=tally.end + DRAIN_WEEKS * MINUTES_A_WEEK)
    for asked, role, rag in tally.pending.values():   # never started: waited to the end
        tally.waited(asked, env.now, role, rag)
    return _prediction(every, tally, plan, assumptions, weeks, agencies)


def _prediction(every: Iterable[Case], tally: _Tally, plan: StaffingPlan,
                assumptions: Assumptions, weeks: float, agencies: list[str]) -> Prediction:
    counted = [c for c in every if tally.counts(c)]
    rags: dict[Rag, RagPrediction] = {}
    hours: dict[int, list[float]] = {}
    within_hour: Counter[int] = Counter()
    for rag in RAGS:
        mine = [c for c in counted if c.rag is rag]
        took = [tally.decided[c.number] - c.arrives for c in mine if c.number in tally.decided]
        limit = assumptions.timescale_minutes(rag)
        for c in mine:
            hour = int(c.arrives % MINUTES_A_WEEK) // 60
            spent = tally.decided.get(c.number, math.inf) - c.arrives
            hours.setdefault(hour, []).append(spent)
            within_hour[hour] += spent <= limit
        rags[rag] = RagPrediction(rag, len(mine), sum(1 for t in took if t <= limit),
                                  len(mine) - len(took), percentile(took, 50),
                                  percentile(took, 90), percentile(took, 95))
    roles = tuple(RolePrediction(role, tally.busy[role] / 60,
                                 plan.people_hours(role) * weeks) for role in plan.roles)
    finite = {h: [t for t in ts if math.isfinite(t)] for h, ts in hours.items()}
    return Prediction(
        weeks=weeks, rags=MappingProxyType(rags), roles=roles,
        research=tuple(ResearchPrediction(a, tally.asked[a], tally.in_window[a])
                       for a in agencies),
        hours=tuple(HourPrediction(h, len(hours[h]), within_hour[h],
                                   sum(finite[h]) / len(finite[h]) if finite[h] else math.inf)
                    for h in sorted(hours)),
        waits=MappingProxyType(dict(tally.waits)),
        busy_posts=MappingProxyType(dict(tally.busy_posts)), events=len(tally.decided))


# --- what the staffing search needs ------------------------------------------------

def work_minutes(demand: Demand, assumptions: Assumptions, role: str, rag: Rag) -> float:
    """The mean minutes of ``role``'s work one case of ``rag`` brings."""
    act = assumptions.activities
    if role == SCREENER:
        return (act["screening"].mean(rag) * demand.contacts_per_case[rag]
                + act["feedback"].mean(rag))
    if role == SOCIAL_WORKER:
        return act["collation"].mean(rag) + act["recommendation"].mean(rag)
    if role == MANAGER:
        return act["decision"].mean(rag)
    return demand.asked[rag].get(role, 0.0) * assumptions.research_of(role).mean(rag)


def offered_load(demand: Demand, assumptions: Assumptions, plan: StaffingPlan
                 ) -> dict[Post, float]:
    """People busy on average (Erlangs) in each post's hours if work were
    done as it arrives: a floor to start the search from."""
    agencies = sorted({a for r in RAGS for a in demand.asked[r]})
    plan = plan.with_roles((*PEOPLE, *agencies))
    out: dict[Post, float] = {}
    for shift in plan.shifts:
        hours = sorted({m // 60 for a, b in shift.spans for m in range(a, b, 60)})
        for role in shift.staff:
            per_hour = [sum(demand.arrivals[r][h] * work_minutes(demand, assumptions, role, r)
                            for r in RAGS) / 60 for h in hours]
            out[(shift.name, role)] = sum(per_hour) / len(per_hour) if per_hour else 0.0
    return out


def floor_plan(demand: Demand, assumptions: Assumptions, plan: StaffingPlan) -> StaffingPlan:
    """``plan``'s shifts with the offered load on each post, rounded up: at
    least one person wherever work arrives."""
    agencies = sorted({a for r in RAGS for a in demand.asked[r]})
    out = plan.with_roles((*PEOPLE, *agencies))
    for (shift, role), load in offered_load(demand, assumptions, plan).items():
        out = out.with_count(shift, role, math.ceil(load - 1e-9))
    return out


def trial(demand: Demand, assumptions: Assumptions, *, target: float,
          research_target: float | None = None, weeks: float = 4.0, seed: int = 1,
          runs: int = 1) -> Callable[[StaffingPlan], Trial]:
    """A plan -> whether it meets the target over ``runs`` simulations of
    ``weeks`` (seeds ``seed``, ``seed + 1``, ...), and where the waiting was.
    A post's pressure is the minutes waited there by the RAGs short of their
    target (and, for an agency, its answers short of the window), each
    weighted by how far short; and, for a role busier than the share of its
    shifts available for casework, the hours worked there weighted by the
    excess."""
    on_time = research_target if research_target is not None else target
    cap = assumptions.casework_share

    def judge(plan: StaffingPlan) -> Trial:
        results = [simulate(demand, assumptions, plan, weeks=weeks, seed=seed + i)
                   for i in range(runs)]
        pooled = pool(results)
        short = pooled.shortfall(target)
        late_answers = pooled.research_shortfall(on_time)
        pressure: defaultdict[Post, float] = defaultdict(float)
        for (shift, role, rag), minutes in pooled.waits.items():
            weight = short.get(rag, 0.0) + late_answers.get(role, 0.0)
            if weight > 0:
                pressure[(shift, role)] += weight * minutes
        over = pooled.overworked(cap)
        for (shift, role), hours in pooled.busy_posts.items():
            if role in over:
                pressure[(shift, role)] += over[role] * hours * 60
        shares = ", ".join(f"{r.value} {p.share:.1%}" for r, p in pooled.rags.items()
                           if p.share is not None)
        if late_answers:
            shares += "; answers late: " + ", ".join(
                f"{a} {s:.1%} short" for a, s in sorted(late_answers.items()))
        if over:
            shares += "; busier than casework allows: " + ", ".join(
                f"{r} {cap + e:.0%}" for r, e in sorted(over.items()))
        return Trial(not short and not late_answers and not over, dict(pressure), shares)

    return judge


def pool(results: list[Prediction]) -> Prediction:
    """Several runs as one: counts add up, percentiles are the runs' mean."""
    if len(results) == 1:
        return results[0]

    def mean(values: list[float | None]) -> float | None:
        seen = [v for v in values if v is not None]
        return sum(seen) / len(seen) if seen else None

    rags = {rag: RagPrediction(
        rag, sum(p.rags[rag].cases for p in results), sum(p.rags[rag].within for p in results),
        sum(p.rags[rag].undecided for p in results), mean([p.rags[rag].p50 for p in results]),
        mean([p.rags[rag].p90 for p in results]), mean([p.rags[rag].p95 for p in results]))
        for rag in RAGS}
    roles = tuple(RolePrediction(r.role, sum(p.roles[i].busy_hours for p in results),
                                 sum(p.roles[i].on_duty_hours for p in results))
                  for i, r in enumerate(results[0].roles))
    research = tuple(ResearchPrediction(r.agency, sum(p.research[i].asked for p in results),
                                        sum(p.research[i].within_window for p in results))
                     for i, r in enumerate(results[0].research))
    waits: defaultdict[tuple[str, str, Rag], float] = defaultdict(float)
    hours: dict[int, list[HourPrediction]] = {}
    busy: defaultdict[Post, float] = defaultdict(float)
    for p in results:
        for k, v in p.waits.items():
            waits[k] += v
        for post, hours_ in p.busy_posts.items():
            busy[post] += hours_
        for h in p.hours:
            hours.setdefault(h.hour, []).append(h)
    return Prediction(
        weeks=sum(p.weeks for p in results), rags=MappingProxyType(rags), roles=roles,
        research=research,
        hours=tuple(HourPrediction(h, sum(x.cases for x in xs), sum(x.within for x in xs),
                                   sum(x.mean_minutes * x.cases for x in xs)
                                   / max(1, sum(x.cases for x in xs)))
                    for h, xs in sorted(hours.items())),
        waits=MappingProxyType(dict(waits)), busy_posts=MappingProxyType(dict(busy)),
        events=sum(p.events for p in results))
