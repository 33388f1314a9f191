"""How fast and how right the workload model is (`mash report workload`).

    python -m bench.workload [--contacts-per-month 3000] [--repeats 3] [--seeds 5]
                             [--no-search] [--target 0.98]

1. Generates a year of a hub of N contacts a month worked by the packaged
   example plan (mash/report/workload/staffing.toml) and measures its demand
   from the case views, timed.
2. Simulates one month (4 weeks after a week's warm-up) of that demand under
   the same plan, ``--repeats`` times on different seeds: wall and CPU
   seconds, cases, SimPy events. Target: a month in under 10 s.
3. Validation: for ``--seeds`` independent histories (the validation test's
   half year of 900 contacts a month, a RED-heavy mix and thin staffing),
   the model's predicted share within the timescale minus the share seen,
   per RAG, in percentage points. Target: within 3 points.
4. Unless ``--no-search``: the smallest staffing per shift meeting
   ``--target`` for N contacts a month, and how long the search took.

Prints the figures to standard output; nothing is written.
"""

import argparse
import statistics
import time
from datetime import datetime
from importlib.resources import files

from mash.report.workload import history, model, staffing
from mash.report.workload.assumptions import PEOPLE, RAGS, Assumptions, parse
from mash.report.workload.demand import Demand, measure

TARGET_MONTH_SECONDS = 10.0


def _packaged(name: str) -> str:
    return files("mash.report.workload").joinpath(name).read_text("utf-8")


def _timed(label: str, width: int = 44) -> "_Clock":
    return _Clock(label, width)


class _Clock:
    def __init__(self, label: str, width: int) -> None:
        self.label, self.width = label, width

    def __enter__(self) -> "_Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        print(f"{self.label:<{self.width}}  {self.wall:7.2f} s wall, {self.cpu:7.2f} s CPU")


def year(assumed: Assumptions, plan: staffing.StaffingPlan, volume: float) -> Demand:
    with _timed(f"generate a year at {volume:,.0f} contacts/month"):
        views, start, end = history.generate(history.Profile(contacts_per_month=volume),
                                             assumed, plan, weeks=52, seed=2027)
    with _timed(f"measure demand from {len(views):,} case views"):
        demand = measure(views, start, end, assumed)
    print(f"{'measured contacts a month':<44}  {demand.contacts_per_month():,.0f}")
    return demand


def month(assumed: Assumptions, plan: staffing.StaffingPlan, demand: Demand,
          repeats: int) -> float:
    walls: list[float] = []
    for i in range(repeats):
        with _timed(f"simulate a month, seed {i + 1}") as clock:
            p = model.simulate(demand, assumed, plan, weeks=4, seed=i + 1)
        walls.append(clock.wall)
        shares = ", ".join(f"{r.value} {p.share(r):.1%}" for r in RAGS if p.share(r) is not None)
        print(f"{'':<44}  {sum(x.cases for x in p.rags.values()):,} cases counted, "
              f"{p.events:,} decided; {shares}")
    median = statistics.median(walls)
    verdict = "meets" if median < TARGET_MONTH_SECONDS else "MISSES"
    print(f"{'a month simulated, median wall':<44}  {median:7.2f} s ({verdict} the "
          f"{TARGET_MONTH_SECONDS:.0f} s target)")
    return median


def validation(assumed: Assumptions, seeds: int) -> None:
    from tests.unit.report.test_workload_validation import HISTORY_WEEKS, PROFILE, TRUTH

    errors: dict[str, list[float]] = {r.value: [] for r in RAGS}
    for seed in range(seeds):
        views, start, end = history.generate(
            PROFILE, assumed, TRUTH, weeks=HISTORY_WEEKS, seed=11 + 1000 * seed,
            start=datetime.fromisoformat("2026-01-05T00:00+00:00"))
        seen = measure(views, start, end, assumed)
        p = model.pool([model.simulate(seen, assumed, TRUTH, weeks=HISTORY_WEEKS / 2,
                                       seed=100 + 2 * seed + i) for i in range(2)])
        row = []
        for rag in RAGS:
            s, g = seen.decisions[rag].share, p.share(rag)
            assert s is not None
            assert g is not None
            errors[rag.value].append(100 * (g - s))
            row.append(f"{rag.value} seen {s:.1%} predicted {g:.1%}")
        print(f"{'validation history ' + str(seed + 1):<44}  " + "; ".join(row))
    for name, found in errors.items():
        print(f"{'error, ' + name + ', percentage points':<44}  mean {statistics.mean(found):+.2f}, "
              f"largest {max(found, key=abs):+.2f} over {len(found)} histories")


def search(assumed: Assumptions, plan: staffing.StaffingPlan, demand: Demand,
           target: float) -> None:
    with _timed("search for the smallest staffing"):
        found = staffing.smallest(model.floor_plan(demand, assumed, plan),
                                  model.trial(demand, assumed, target=target, weeks=4, runs=3))
    print(f"{'plans simulated':<44}  {found.trials} ({'meets' if found.meets else 'does not meet'}"
          f" {target:.0%}{'; ' + found.stopped if found.stopped else ''})")
    roles = [*PEOPLE, *sorted(set(found.plan.roles) - set(PEOPLE))]
    print(f"{'shift':<16}" + "".join(f"{r[:12]:>13}" for r in roles) + f"{'people-h/wk':>13}")
    for s in found.plan.shifts:
        print(f"{s.name:<16}" + "".join(f"{s.staff.get(r, 0):>13}" for r in roles)
              + f"{sum(s.staff.values()) * s.hours():>13,.0f}")
    print(f"{'people-hours a week':<44}  {found.plan.people_hours():,.0f} "
          f"(the example plan: {plan.people_hours():,.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts-per-month", type=float, default=3000.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--no-search", action="store_true")
    args = parser.parse_args()
    assumed = parse(_packaged("assumptions.toml"))
    plan = staffing.parse(_packaged("staffing.toml"))
    print(f"assumptions {assumed.version}; plan '{plan.version}'")
    demand = year(assumed, plan, args.contacts_per_month)
    month(assumed, plan, demand, args.repeats)
    if args.seeds:
        validation(assumed, args.seeds)
    if not args.no_search:
        search(assumed, plan, demand, args.target)


if __name__ == "__main__":
    main()
