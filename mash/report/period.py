"""Periods in Europe/London, and how figures are written."""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """[start, end) between London midnights: a contact at 00:30 BST on
    1 October (23:30 UTC on 30 September) belongs to October."""

    start: datetime
    end: datetime
    label: str

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(seconds=1)).date()


def midnight(day: date) -> datetime:
    """The start of a day in London (zoneinfo resolves the clock change)."""
    return datetime.combine(day, time(0), tzinfo=LONDON)


def month(text: str) -> Period:
    """``2026-11`` -> November 2026, London time. ValueError if malformed."""
    found = MONTH.match(text.strip())
    if not found:
        raise ValueError(f"'{text}' is not a month: write it as YYYY-MM, e.g. 2026-11")
    year, number = int(found[1]), int(found[2])
    if not 1 <= number <= 12:
        raise ValueError(f"'{text}' is not a month: the month must be 01 to 12")
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return Period(midnight(first), midnight(following), f"{first:%B %Y}")


def days(first: date, last: date) -> Period:
    """``first`` to ``last``, both days included."""
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    return Period(midnight(first), midnight(last + timedelta(days=1)),
                  f"{first:%d %b %Y} to {last:%d %b %Y}")


def year_before(moment: datetime) -> datetime:
    """The same moment twelve months earlier (29 February -> 28 February)."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


def pct(part: int, whole: int) -> str:
    """``56.6%``; a dash when there is nothing to divide by."""
    return f"{100 * part / whole:.1f}%" if whole else "-"


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
