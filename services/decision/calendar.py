"""Working days in England and Wales, and timescales counted in them. Pure.

Bank holidays come from the ``holidays`` package,
``holidays.country_holidays("GB", subdiv="ENG")``: England and Wales share
the same bank holidays (the package's ENG and WLS lists are identical; a unit
test checks it), Scotland and Northern Ireland differ and are not ours.
"Substitute" days (Boxing Day 2026 falls on a Saturday, so Monday 28 December
is the bank holiday) and one-off days (a coronation, a state funeral) are in
the package, not hand-written here.

**What "within n working days" means here, precisely.** A working day is a
weekday that is not a bank holiday in England and Wales, and its working hours
are ``opens`` to ``closes`` in Europe/London (09:00-17:00 by default, a setting).
Time is counted only inside working hours: *n working days* is *n* times the
length of the working day (8 hours) of working time. A contact received
inside working hours starts the clock at once; one received out of hours
(evenings, weekends, bank holidays) starts it at the next opening. So
"decision within 1 working day":

- Monday 10:00 → due Tuesday 10:00;
- Friday 16:55 → 5 minutes on Friday, 7 h 55 on Monday → due Monday 16:55;
- Saturday 11:00, or Friday 18:00 → the clock starts Monday 09:00 → due
  Monday 17:00 (the close of the first working day, never the next opening);
- Thursday 24 December 2026 15:00 → 2 h on Thursday, then Friday 25 (Christmas),
  Saturday, Sunday and Monday 28 (Boxing Day substitute) pass → due Tuesday
  29 December 15:00.

Clock-hour windows (RAG 4 / 24 / 72 hours, 48 hours for an outcome) are plain
``timedelta`` additions and do not use this calendar: RED runs out of hours.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")


def bank_holidays(years: range = range(2020, 2041)) -> frozenset[date]:
    """England and Wales bank holidays, from the holidays package."""
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=years).keys())


@dataclass(frozen=True)
class WorkingCalendar:
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    tz: ZoneInfo = LONDON
    holidays: frozenset[date] = field(default_factory=bank_holidays)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError("the working day must close after it opens")

    @cached_property
    def day_length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def _at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.tz)

    def in_working_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return (self.is_working_day(local.date())
                and self._at(local.date(), self.opens) <= local < self._at(local.date(), self.closes))

    def clock_starts(self, moment: datetime) -> datetime:
        """When working time starts counting for something that happened at `moment`."""
        local = moment.astimezone(self.tz)
        day = local.date()
        if self.is_working_day(day):
            if local < self._at(day, self.opens):
                return self._at(day, self.opens)
            if local < self._at(day, self.closes):
                return local
        return self._at(self.next_working_day(day), self.opens)

    def add_working_time(self, moment: datetime, amount: timedelta) -> datetime:
        """`amount` of working time after `moment` (see the module docstring)."""
        if amount < timedelta(0):
            raise ValueError("working time only runs forwards")
        current = self.clock_starts(moment)
        remaining = amount
        while True:
            close = self._at(current.date(), self.closes)
            left_today = close - current
            if remaining <= left_today:
                return current + remaining
            remaining -= left_today
            current = self._at(self.next_working_day(current.date()), self.opens)

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """Due time of "within `days` working day(s)" of `moment`, in Europe/London."""
        return self.add_working_time(moment, days * self.day_length)

    def close_of_working_day(self, moment: datetime) -> datetime | None:
        """The close of business on `moment`'s day, if `moment` is in working hours."""
        if not self.in_working_hours(moment):
            return None
        local = moment.astimezone(self.tz)
        return self._at(local.date(), self.closes)
