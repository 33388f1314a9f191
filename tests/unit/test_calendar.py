"""The working-day calendar: weekends, England and Wales bank holidays, out
of hours, and the contact that arrives at 16:55 on a Friday."""

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest

from services.decision.calendar import LONDON, WorkingCalendar

CAL = WorkingCalendar()


def london(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def test_england_and_wales_share_their_bank_holidays() -> None:
    years = range(2020, 2041)
    eng = holidays.country_holidays("GB", subdiv="ENG", years=years)
    wls = holidays.country_holidays("GB", subdiv="WLS", years=years)
    assert set(eng) == set(wls)
    sct = holidays.country_holidays("GB", subdiv="SCT", years=years)
    assert set(eng) != set(sct), "Scotland differs and must not be used"


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 20), True),    # a Friday
        (date(2026, 11, 21), False),   # Saturday
        (date(2026, 11, 22), False),   # Sunday
        (date(2026, 12, 25), False),   # Christmas Day (Friday)
        (date(2026, 12, 28), False),   # Boxing Day falls on Saturday: Monday is the substitute
        (date(2026, 12, 29), True),
        (date(2027, 3, 26), False),    # Good Friday 2027
        (date(2027, 3, 29), False),    # Easter Monday 2027
        (date(2027, 3, 30), True),
        (date(2027, 1, 1), False),     # New Year's Day
        (date(2023, 5, 8), False),     # a one-off: the coronation bank holiday
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


def test_a_contact_at_1655_on_a_friday_is_due_at_1655_on_monday() -> None:
    assert CAL.add_working_days(london(2026, 11, 20, 16, 55), 1) == london(2026, 11, 23, 16, 55)


def test_within_working_hours_one_working_day_is_the_same_time_next_working_day() -> None:
    assert CAL.add_working_days(london(2026, 11, 16, 10), 1) == london(2026, 11, 17, 10)


@pytest.mark.parametrize("received", [london(2026, 11, 21, 11), london(2026, 11, 20, 18),
                                      london(2026, 11, 23, 7, 30)])
def test_out_of_hours_starts_the_clock_at_the_next_opening(received: datetime) -> None:
    assert CAL.add_working_days(received, 1) == london(2026, 11, 23, 17)


def test_christmas_and_the_boxing_day_substitute_are_skipped() -> None:
    assert CAL.add_working_days(london(2026, 12, 24, 15), 1) == london(2026, 12, 29, 15)


def test_easter_2027_is_skipped() -> None:
    # Thursday 25 March 16:00 -> 1 h Thursday, Good Friday, weekend, Easter Monday -> Tuesday 16:00
    assert CAL.add_working_days(london(2027, 3, 25, 16), 1) == london(2027, 3, 30, 16)


def test_forty_five_working_days_for_an_assessment_across_christmas() -> None:
    # From Monday 16 November 2026: 45 working days, skipping 25 and 28 December
    # and 1 January 2027 -> Thursday 21 January 2027 at the same time.
    due = CAL.add_working_days(london(2026, 11, 16, 10), 45)
    assert due == london(2027, 1, 21, 10)
    weekdays = sum(1 for i in range(1, (due.date() - date(2026, 11, 16)).days + 1)
                   if CAL.is_working_day(date(2026, 11, 16) + timedelta(days=i)))
    assert weekdays == 45


def test_icpc_fifteen_working_days_from_a_friday_strategy_discussion() -> None:
    assert CAL.add_working_days(london(2026, 11, 20, 16, 55), 15) == london(2026, 12, 11, 16, 55)


def test_works_in_utc_and_across_the_clocks_changing() -> None:
    # 16:55 UTC on Friday 16 October 2026 is 17:55 BST: out of hours.
    friday_evening = datetime(2026, 10, 16, 16, 55, tzinfo=UTC)
    assert not CAL.in_working_hours(friday_evening)
    # Clocks go back on Sunday 25 October; Monday opens at 09:00 GMT.
    assert CAL.add_working_days(datetime(2026, 10, 23, 15, 0, tzinfo=UTC), 1) == \
        london(2026, 10, 26, 16)


def test_close_of_working_day_only_inside_hours() -> None:
    assert CAL.close_of_working_day(london(2026, 11, 20, 10)) == london(2026, 11, 20, 17)
    assert CAL.close_of_working_day(london(2026, 11, 20, 17, 30)) is None
    assert CAL.close_of_working_day(london(2026, 11, 21, 10)) is None


def test_the_working_day_is_a_setting() -> None:
    short = WorkingCalendar(opens=time(8, 30), closes=time(16, 30))
    assert short.add_working_days(london(2026, 11, 20, 16), 1) == london(2026, 11, 23, 16)
    with pytest.raises(ValueError, match="close after"):
        WorkingCalendar(opens=time(17), closes=time(9))
