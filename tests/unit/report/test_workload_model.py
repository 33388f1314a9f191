"""The simulation on cases given by hand, with fixed work times: who waits
for whom, shifts, the research window, and what is counted."""

from datetime import UTC, datetime, timedelta
from importlib.resources import files

import pytest

from contracts.contact import Rag
from mash.report.workload import model
from mash.report.workload.assumptions import parse
from mash.report.workload.demand import Demand, measure
from mash.report.workload.model import Case, simulate
from mash.report.workload.staffing import StaffingPlan
from mash.report.workload.staffing import parse as plan_of
from tests.unit.report.test_workload_demand import END as UNTIL
from tests.unit.report.test_workload_demand import START as FROM
from tests.unit.report.test_workload_demand import hub

ASSUMED = parse(files("mash.report.workload").joinpath("assumptions.toml").read_text("utf-8"))
START = datetime(2026, 11, 2, tzinfo=UTC)
NONE = measure([], START, START + timedelta(weeks=1), ASSUMED)
DAY = 24 * 60


def plan(days: str = '"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"', start: str = "00:00",
         end: str = "00:00", **staff: int) -> StaffingPlan:
    people = {"referral-advisor": 1, "social-worker": 1, "manager": 1} | {
        k.replace("_", "-"): v for k, v in staff.items()}
    listed = ", ".join(f"{k} = {v}" for k, v in people.items())
    return plan_of(f'version = "t"\n[[shift]]\nname = "all"\ndays = [{days}]\n'
                   f'start = "{start}"\nend = "{end}"\nstaff = {{ {listed} }}\n')


def case(n: int, rag: Rag, at: float, *, screening: float = 10, research: tuple[tuple[str, float],
         ...] = (), social_worker: float = 30, decision: float = 10, feedback: float = 0) -> Case:
    return Case(n, rag, at, screening, research, social_worker, decision, feedback)


def run(cases: list[Case], staffing: StaffingPlan, demand: Demand = NONE,
        **options: object) -> model.Prediction:
    return simulate(demand, ASSUMED, staffing, weeks=1, warmup_weeks=0, given=cases,
                    **options)  # type: ignore[arg-type]


def test_one_case_alone_takes_its_work_and_no_more() -> None:
    p = run([case(0, Rag.RED, 100)], plan())
    red = p.rags[Rag.RED]
    assert (red.cases, red.within, red.undecided) == (1, 1, 0)
    assert red.p50 == pytest.approx(10 + 30 + 10)
    assert p.rags[Rag.AMBER].cases == 0
    assert p.share(Rag.AMBER) is None


def test_red_goes_before_earlier_green_and_fifo_does_not() -> None:
    """The referral advisor is busy for an hour; a GREEN then a RED arrive;
    the RED is screened first, though it came second."""
    cases = [case(0, Rag.AMBER, 0, screening=60), case(1, Rag.GREEN, 5, screening=60),
             case(2, Rag.RED, 10, screening=60)]
    p = run(cases, plan())
    # screened AMBER 0-60, RED 60-120, GREEN 120-180; RED's social worker
    # 120-150 and manager 150-160: 150 minutes after it arrived at 10
    assert p.rags[Rag.RED].p50 == pytest.approx(160 - 10)
    # GREEN's social worker 180-210, manager 210-220
    assert p.rags[Rag.GREEN].p50 == pytest.approx(220 - 5)
    fifo = run(cases, plan(), discipline="fifo")
    # in order of arrival: RED screened 120-180, social worker 180-210, manager 210-220
    assert fifo.rags[Rag.RED].p50 == pytest.approx(220 - 10)


def test_among_ambers_the_least_time_left_goes_first() -> None:
    """Two AMBERs wait for a social worker busy with a RED until 205. X came
    in first but asked last (its police research took 100 minutes); Y asked
    at 15. X has less time left, so X goes first."""
    cases = [case(0, Rag.RED, 0, screening=5, social_worker=200, decision=0),
             case(1, Rag.AMBER, 1, screening=5, research=(("police", 100),), social_worker=10),
             case(2, Rag.AMBER, 10, screening=5, social_worker=10)]
    p = run(cases, plan(police=1))
    # X: social worker 205-215, manager 215-225 (224 after arriving at 1);
    # Y: 215-225, manager 225-235 (225 after arriving at 10)
    assert p.rags[Rag.AMBER].p50 == pytest.approx(224)
    assert p.rags[Rag.AMBER].p90 == pytest.approx(225)


def test_nobody_on_shift_means_waiting_for_the_shift() -> None:
    """Weekday 08:00-18:00 only: a RED on Saturday noon waits until Monday."""
    saturday_noon = 5 * DAY + 12 * 60
    p = run([case(0, Rag.RED, saturday_noon)],
            plan(days='"Mon", "Tue", "Wed", "Thu", "Fri"', start="08:00", end="18:00"),
            )
    monday_eight = 7 * DAY + 8 * 60
    red = p.rags[Rag.RED]
    assert red.within == 0
    assert red.p50 == pytest.approx(monday_eight + 50 - saturday_noon)
    assert p.worst(1)[0].hour == 5 * 24 + 12


def test_work_in_hand_is_finished_after_the_shift_ends() -> None:
    """A 2-hour piece started at 17:00 ends at 19:00, not the next morning."""
    staffing = plan_of(
        'version = "t"\n'
        '[[shift]]\nname = "advisor"\ndays = ["Mon"]\nstart = "08:00"\nend = "18:00"\n'
        'staff = { referral-advisor = 1 }\n'
        '[[shift]]\nname = "always"\ndays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]\n'
        'start = "00:00"\nend = "00:00"\nstaff = { social-worker = 1, manager = 1 }\n')
    p = run([case(0, Rag.AMBER, 17 * 60, screening=120, social_worker=10, decision=10)],
            staffing)
    assert p.rags[Rag.AMBER].p50 == pytest.approx(120 + 10 + 10)
    # the next piece does wait for the next shift
    later = run([case(0, Rag.AMBER, 17 * 60, screening=120),
                 case(1, Rag.AMBER, 17 * 60 + 1, screening=10)], staffing)
    assert later.rags[Rag.AMBER].p90 == pytest.approx(7 * DAY + 8 * 60 + 10 + 30 + 10 - 17 * 60 - 1)


def test_the_social_worker_goes_on_when_the_research_window_passes() -> None:
    """Police answer in 20 minutes; health has nobody: after the RED window
    (2 h from receipt) the case goes on without it."""
    c = case(0, Rag.RED, 0, research=(("police", 20), ("health", 30)))
    p = run([c], plan(police=1, health=0))
    assert p.rags[Rag.RED].p50 == pytest.approx(120 + 30 + 10)
    research = {r.agency: r for r in p.research}
    assert (research["police"].asked, research["police"].within_window) == (1, 1)
    assert (research["health"].asked, research["health"].within_window) == (1, 0)
    both = run([c], plan(police=1, health=1))
    assert both.rags[Rag.RED].p50 == pytest.approx(10 + 30 + 30 + 10)


def test_no_manager_means_no_decision() -> None:
    p = run([case(0, Rag.GREEN, 0)], plan(manager=0))
    green = p.rags[Rag.GREEN]
    assert (green.cases, green.within, green.undecided) == (1, 0, 1)
    assert p.share(Rag.GREEN) == 0
    assert p.waits[("all", "manager", Rag.GREEN)] > 0


def test_cases_in_the_warm_up_are_not_counted() -> None:
    week = 7 * DAY
    p = simulate(NONE, ASSUMED, plan(), weeks=1, warmup_weeks=1,
                 given=[case(0, Rag.RED, 100), case(1, Rag.RED, week + 100)])
    assert p.rags[Rag.RED].cases == 1


def test_utilisation_is_work_over_people_hours_on_duty() -> None:
    p = run([case(0, Rag.RED, 0, screening=60, social_worker=120, decision=30)], plan())
    roles = {r.role: r for r in p.roles}
    assert roles["social-worker"].busy_hours == pytest.approx(2)
    assert roles["social-worker"].on_duty_hours == pytest.approx(168)
    assert p.overworked(0.8) == {}


def test_random_cases_follow_the_demand_and_the_seed() -> None:
    measured = measure(hub(), FROM, UNTIL, ASSUMED).scaled(3000)
    a = model.cases(measured, ASSUMED, 4, seed=7)
    b = model.cases(measured, ASSUMED, 4, seed=7)
    assert a == b
    assert a != model.cases(measured, ASSUMED, 4, seed=8)
    expected = 4 * measured.per_week()
    assert abs(len(a) - expected) < 4 * expected ** 0.5
    reds = [c for c in a if c.rag is Rag.RED]
    assert all(int(c.arrives % (7 * DAY)) // 60 == 9 for c in reds)   # Mondays 09:00 only
