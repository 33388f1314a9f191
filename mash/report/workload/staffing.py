"""A staffing plan: who is on which shift, and the search for the smallest
plan that meets the target.

The plan is a small TOML file a MASH manager writes (``staffing.toml`` beside
this module is an example for a hub of about 3,000 contacts a month)::

    version = "my-hub-2026-12"

    [[shift]]
    name = "weekday day"
    days = ["Mon", "Tue", "Wed", "Thu", "Fri"]   # the days the shift starts on
    start = "08:00"
    end = "18:00"                                 # at or before start: ends next day
    staff = { referral-advisor = 5, social-worker = 12, manager = 3, police = 3 }

Roles are the hub's own people (``referral-advisor``, ``social-worker``,
``manager``) and each agency's researchers under the agency's name. Where
shifts overlap, their staff add up. Nothing here reads a file or simulates:
``parse`` takes the text, and ``smallest`` takes the simulation as a function.
"""

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MINUTES_A_WEEK = 7 * 24 * 60
HOURS_A_WEEK = 7 * 24


class StaffingError(ValueError):
    """The plan says something the model cannot use; the message says what."""


@dataclass(frozen=True)
class Shift:
    name: str
    days: tuple[int, ...]   # 0 Monday ... 6 Sunday: the days it starts on
    start: int              # minutes after midnight
    end: int                # minutes after midnight; <= start: the next day
    staff: MappingProxyType[str, int]

    @property
    def length(self) -> int:
        return (self.end - self.start) % (24 * 60) or 24 * 60

    @cached_property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """[from, to) in minutes of the week; one that runs past Sunday
        midnight is cut in two."""
        out: list[tuple[int, int]] = []
        for day in self.days:
            begin = day * 24 * 60 + self.start
            finish = begin + self.length
            if finish <= MINUTES_A_WEEK:
                out.append((begin, finish))
            else:
                out += [(begin, MINUTES_A_WEEK), (0, finish - MINUTES_A_WEEK)]
        return tuple(out)

    def covers(self, minute_of_week: float) -> bool:
        return any(a <= minute_of_week < b for a, b in self.spans)

    def hours(self) -> float:
        return len(self.days) * self.length / 60


@dataclass(frozen=True)
class StaffingPlan:
    version: str
    shifts: tuple[Shift, ...]

    @property
    def roles(self) -> tuple[str, ...]:
        seen = dict.fromkeys(r for s in self.shifts for r in s.staff)
        return tuple(seen)

    def shift(self, name: str) -> Shift:
        return next(s for s in self.shifts if s.name == name)

    def count(self, shift: str, role: str) -> int:
        return self.shift(shift).staff.get(role, 0)

    def with_count(self, shift: str, role: str, count: int) -> "StaffingPlan":
        if count < 0:
            raise StaffingError(f"{shift}/{role}: a negative number of people")
        shifts = tuple(replace(s, staff=MappingProxyType({**s.staff, role: count}))
                       if s.name == shift else s for s in self.shifts)
        return replace(self, shifts=shifts)

    def with_roles(self, roles: Iterable[str]) -> "StaffingPlan":
        """Every shift lists every one of ``roles`` (0 where it had none)."""
        wanted = tuple(roles)
        shifts = tuple(replace(s, staff=MappingProxyType(
            {**{r: 0 for r in wanted}, **s.staff})) for s in self.shifts)
        return replace(self, shifts=shifts)

    def on_duty(self, role: str) -> list[int]:
        """People of ``role`` on duty in each minute of the week."""
        minutes = [0] * MINUTES_A_WEEK
        for s in self.shifts:
            n = s.staff.get(role, 0)
            if n:
                for a, b in s.spans:
                    for m in range(a, b):
                        minutes[m] += n
        return minutes

    def steps(self, role: str) -> list[tuple[int, int]]:
        """(minute of the week, people on duty from then): the changes only,
        the first at minute 0."""
        minutes = self.on_duty(role)
        out = [(0, minutes[0])]
        for m in range(1, MINUTES_A_WEEK):
            if minutes[m] != out[-1][1]:
                out.append((m, minutes[m]))
        return out

    def shift_at(self, minute_of_week: float, role: str | None = None) -> str | None:
        """The first shift covering the moment (with ``role`` on it, if
        given), else the first covering it at all."""
        covering = [s for s in self.shifts if s.covers(minute_of_week)]
        with_role = [s for s in covering if role is None or s.staff.get(role, 0)]
        chosen = with_role or covering
        return chosen[0].name if chosen else None

    def people_hours(self, role: str | None = None) -> float:
        """People x hours a week, for one role or all."""
        return sum(n * s.hours() for s in self.shifts for r, n in s.staff.items()
                   if role is None or r == role)


def _clock(text: Any, where: str) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise StaffingError(f"{where}: expected HH:MM, got {text!r}")
    try:
        hours, minutes = int(text[:2]), int(text[3:])
    except ValueError as error:
        raise StaffingError(f"{where}: expected HH:MM, got {text!r}") from error
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise StaffingError(f"{where}: not a time of day: {text!r}")
    return hours * 60 + minutes


def _days(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise StaffingError(f"{where}: a list of days, e.g. [\"Mon\", \"Tue\"]")
    out = []
    for day in value:
        if day not in DAYS:
            raise StaffingError(f"{where}: {day!r} is not one of {', '.join(DAYS)}")
        out.append(DAYS.index(day))
    if len(set(out)) != len(out):
        raise StaffingError(f"{where}: a day is listed twice")
    return tuple(sorted(out))


def parse(text: str) -> StaffingPlan:
    """The plan file's text -> the plan; StaffingError saying what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StaffingError(f"not TOML: {error}") from error
    version = data.get("version")
    if not isinstance(version, str | int) or not str(version).strip():
        raise StaffingError("version: a staffing plan carries a version")
    tables = data.get("shift")
    if not isinstance(tables, list) or not tables:
        raise StaffingError("shift: no shifts ([[shift]] tables)")
    shifts: list[Shift] = []
    for i, t in enumerate(tables):
        where = f"shift {i + 1}"
        name = t.get("name")
        if not isinstance(name, str) or not name.strip():
            raise StaffingError(f"{where}: every shift has a name")
        where = f"shift '{name}'"
        if any(s.name == name for s in shifts):
            raise StaffingError(f"{where}: two shifts share the name")
        staff = t.get("staff", {})
        if not isinstance(staff, dict):
            raise StaffingError(f"{where}.staff: a table of role = people")
        for role, n in staff.items():
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise StaffingError(f"{where}.staff.{role}: a whole number of people, got {n!r}")
        shifts.append(Shift(name.strip(), _days(t.get("days"), f"{where}.days"),
                            _clock(t.get("start"), f"{where}.start") % (24 * 60),
                            _clock(t.get("end"), f"{where}.end") % (24 * 60),
                            MappingProxyType(dict(staff))))
    return StaffingPlan(str(version).strip(), tuple(shifts))


def dumps(plan: StaffingPlan, comment: str = "") -> str:
    """The plan as a file ``parse`` reads back."""
    out = [f"# {line}" for line in comment.splitlines()]
    out += [f'version = "{plan.version}"', ""]
    for s in plan.shifts:
        staff = ", ".join(f"{role} = {n}" for role, n in s.staff.items())
        out += ["[[shift]]", f'name = "{s.name}"',
                "days = [" + ", ".join(f'"{DAYS[d]}"' for d in s.days) + "]",
                f'start = "{s.start // 60:02d}:{s.start % 60:02d}"',
                f'end = "{s.end // 60:02d}:{s.end % 60:02d}"',
                f"staff = {{ {staff} }}", ""]
    return "\n".join(out)


# --- the search ----------------------------------------------------------------

Post = tuple[str, str]  # (shift, role)


@dataclass(frozen=True)
class Trial:
    """What one simulated plan gave: whether every target was met and, where
    not, how much waiting each post (shift, role) caused: where one more
    person would help most."""

    meets: bool
    pressure: Mapping[Post, float]
    summary: str = ""


@dataclass(frozen=True)
class Step:
    change: str        # "start", "+1 police on weekday day", "-1 ..."
    kept: bool
    meets: bool
    people_hours: float
    summary: str


@dataclass(frozen=True)
class Search:
    plan: StaffingPlan
    meets: bool
    trials: int
    steps: tuple[Step, ...] = field(default=())
    stopped: str = ""   # why the search gave up, if it did


def smallest(start: StaffingPlan, trial: Callable[[StaffingPlan], Trial], *,
             budget: int = 80) -> Search:
    """The smallest plan with ``start``'s shifts that ``trial`` says meets the
    target: from ``start`` (a floor, e.g. the offered load), add one person
    at a time where the waiting is (the post with the most pressure) until
    it meets; then try one person fewer on each post in turn, largest posts
    first, keeping every removal that still meets. ``budget`` caps the simulations. Deterministic when
    ``trial`` is (the model runs every plan on the same random numbers)."""
    plan, result = start, trial(start)
    steps = [Step("start", True, result.meets, plan.people_hours(), result.summary)]
    tried = 1
    while not result.meets:
        if tried >= budget:
            return Search(plan, False, tried, tuple(steps), "the search budget ran out")
        posts = {k: v for k, v in result.pressure.items() if v > 0}
        if not posts:
            return Search(plan, False, tried, tuple(steps),
                          "no post has waiting to relieve: more people cannot meet the "
                          "target (the work itself takes longer than the timescale)")
        shift, role = max(posts, key=lambda k: (posts[k], k))
        plan = plan.with_count(shift, role, plan.count(shift, role) + 1)
        result = trial(plan)
        tried += 1
        steps.append(Step(f"+1 {role} on {shift}", True, result.meets, plan.people_hours(),
                          result.summary))
    staffed = sorted(((s.name, r) for s in plan.shifts for r, n in s.staff.items() if n > 0),
                     key=lambda k: (plan.count(*k), k), reverse=True)
    for shift, role in staffed:
        if tried >= budget:
            return Search(plan, True, tried, tuple(steps),
                          "the search budget ran out while taking people off")
        fewer = plan.with_count(shift, role, plan.count(shift, role) - 1)
        attempt = trial(fewer)
        tried += 1
        steps.append(Step(f"-1 {role} on {shift}", attempt.meets, attempt.meets,
                          fewer.people_hours(), attempt.summary))
        if attempt.meets:
            plan, result = fewer, attempt
    return Search(plan, True, tried, tuple(steps))
