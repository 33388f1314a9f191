"""Months in London time, and how figures are written."""

from datetime import UTC, date, datetime

import pytest

from mash.report.period import days, month, pct, year_before


def test_a_month_runs_between_london_midnights() -> None:
    november = month("2026-11")
    assert november.start == datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # GMT
    assert november.end == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    july = month("2026-07")
    assert july.start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)  # BST
    assert datetime(2026, 7, 31, 22, 59, tzinfo=UTC) in july
    assert datetime(2026, 7, 31, 23, 0, tzinfo=UTC) not in july
    assert (november.label, november.first_day, november.last_day) == (
        "November 2026", date(2026, 11, 1), date(2026, 11, 30))
    assert month("2026-12").end == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "Nov 2026", "2026-1", ""])
def test_a_malformed_month_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a month"):
        month(text)


def test_days_include_both_ends() -> None:
    span = days(date(2026, 3, 1), date(2026, 3, 31))
    assert span.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert span.end == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)  # BST from 29 March
    with pytest.raises(ValueError, match="ends"):
        days(date(2026, 3, 2), date(2026, 3, 1))


def test_twelve_months_back_and_percentages() -> None:
    assert year_before(datetime(2028, 2, 29, 9, tzinfo=UTC)) == datetime(2027, 2, 28, 9, tzinfo=UTC)
    assert year_before(datetime(2026, 11, 2, 9, tzinfo=UTC)) == datetime(2025, 11, 2, 9, tzinfo=UTC)
    assert (pct(1, 3), pct(2, 3), pct(0, 5), pct(0, 0)) == ("33.3%", "66.7%", "0.0%", "-")
