"""The staffing plan: shifts over the week, people on duty, the file read
back, and the search for the smallest plan."""

from importlib.resources import files

import pytest

from mash.report.workload.staffing import (
    MINUTES_A_WEEK,
    StaffingError,
    StaffingPlan,
    Trial,
    dumps,
    parse,
    smallest,
)

PLAN = """
version = "test"

[[shift]]
name = "day"
days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
start = "08:00"
end = "18:00"
staff = { social-worker = 3, manager = 1 }

[[shift]]
name = "night"
days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
start = "18:00"
end = "08:00"
staff = { social-worker = 1, manager = 1 }

[[shift]]
name = "twilight"
days = ["Fri"]
start = "16:00"
end = "20:00"
staff = { social-worker = 2 }
"""

DAY = 24 * 60


def at(day: int, hour: int, minute: int = 0) -> int:
    return day * DAY + hour * 60 + minute


def test_people_on_duty_follow_the_shifts_and_overlaps_add_up() -> None:
    plan = parse(PLAN)
    sw = plan.on_duty("social-worker")
    assert len(sw) == MINUTES_A_WEEK
    assert sw[at(0, 9)] == 3            # Monday day
    assert sw[at(0, 7, 59)] == 1        # Sunday's night shift runs into Monday
    assert sw[at(0, 18)] == 1           # Monday night
    assert sw[at(4, 17)] == 3 + 2       # Friday: day and twilight
    assert sw[at(4, 19)] == 1 + 2       # Friday: night and twilight
    assert sw[at(5, 12)] == 0           # Saturday day: nobody
    assert plan.on_duty("manager")[at(5, 12)] == 0
    assert plan.on_duty("police") == [0] * MINUTES_A_WEEK


def test_steps_are_the_changes_only() -> None:
    steps = parse(PLAN).steps("manager")
    assert steps[0] == (0, 1)
    assert (at(0, 8), 1) not in steps   # night hands over to day: still one manager
    assert (at(5, 8), 0) in steps
    assert (at(5, 18), 1) in steps


def test_a_shift_past_sunday_midnight_wraps_to_monday() -> None:
    plan = parse(PLAN)
    night = plan.shift("night")
    assert (at(6, 18), MINUTES_A_WEEK) in night.spans
    assert (0, at(0, 8)) in night.spans
    assert plan.shift_at(at(0, 3)) == "night"
    assert plan.shift_at(at(4, 17), "social-worker") == "day"
    assert plan.shift_at(at(5, 12)) is None


def test_people_hours_a_week() -> None:
    plan = parse(PLAN)
    assert plan.people_hours("manager") == 5 * 10 + 7 * 14
    assert plan.people_hours() == (3 + 1) * 50 + 2 * 98 + 2 * 4


def test_the_file_reads_back() -> None:
    plan = parse(PLAN).with_count("day", "police", 2)
    again = parse(dumps(plan, "a comment\nover two lines"))
    assert again == plan


def test_the_packaged_example_covers_every_minute_of_the_week() -> None:
    plan = parse(files("mash.report.workload").joinpath("staffing.toml").read_text("utf-8"))
    assert min(plan.on_duty("social-worker")) >= 1
    assert min(plan.on_duty("manager")) >= 1


@pytest.mark.parametrize(("text", "says"), [
    (PLAN.replace('version = "test"', ""), "version"),
    (PLAN.replace('"Sun", ', '"Sunday", '), "Sunday"),
    (PLAN.replace('start = "08:00"', 'start = "8am"', 1), "HH:MM"),
    (PLAN.replace("manager = 1 }", "manager = -1 }", 1), "whole number"),
    (PLAN.replace('name = "night"', 'name = "day"'), "share the name"),
    ('version = "x"', "no shifts"),
])
def test_a_broken_plan_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(StaffingError, match=says):
        parse(text)


def test_the_search_adds_where_the_waiting_is_then_takes_off_what_is_not_needed() -> None:
    """A toy hub whose truth is known: it meets when there are at least 4
    social workers on the day shift and 2 managers on the night shift."""
    need = {("day", "social-worker"): 4, ("night", "manager"): 2}
    tried: list[StaffingPlan] = []

    def trial(plan: StaffingPlan) -> Trial:
        tried.append(plan)
        short = {post: n - plan.count(*post) for post, n in need.items()
                 if plan.count(*post) < n}
        return Trial(not short, {post: float(gap) for post, gap in short.items()})

    start = parse(PLAN).with_count("twilight", "social-worker", 0)
    found = smallest(start, trial)
    assert found.meets
    assert found.plan.count("day", "social-worker") == 4
    assert found.plan.count("night", "manager") == 2
    # everything the toy does not need is taken off
    assert found.plan.count("day", "manager") == 0
    assert found.plan.count("night", "social-worker") == 0
    assert found.trials == len(tried)
    assert found.steps[0].change == "start"


def test_the_search_says_when_more_people_cannot_help() -> None:
    found = smallest(parse(PLAN), lambda plan: Trial(False, {}))
    assert not found.meets
    assert "cannot meet" in found.stopped


def test_the_search_stops_at_its_budget() -> None:
    found = smallest(parse(PLAN), lambda plan: Trial(False, {("day", "manager"): 1.0}),
                     budget=5)
    assert not found.meets
    assert found.trials == 5
    assert found.plan.count("day", "manager") == 1 + 4
