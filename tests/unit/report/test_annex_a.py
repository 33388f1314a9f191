"""Ofsted ILACS Annex A List 1: its columns, one row per child per contact,
and what the record does not hold written as not recorded."""

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from mash.cli import app
from mash.report import annex_a
from mash.report.period import month
from mash.report.records import CaseDoc, contacts
from tests.unit.report.builders import case, child, contact

HEADER = ("Child Unique ID,Gender,Ethnicity,Date of Birth,Age of Child (Years),"
          "Date of Contact,Contact Source\r\n")


def rows_for(*cases_: CaseDoc, period: str = "2026-11") -> list[annex_a.Row]:
    return annex_a.rows(contacts(list(cases_)), month(period))


def test_the_header_is_the_templates() -> None:
    assert annex_a.to_csv([]) == HEADER


def test_one_row_per_child_per_contact() -> None:
    siblings = case("CASE-1", contact("C1", "2026-11-20T09:30:00Z", children=[
        child("P-A", date_of_birth="2019-04-02", gender="female", ethnicity="White British"),
        child("P-B", date_of_birth="2016-11-21", gender="male", ethnicity="BAFR")]),
        added=[(contact("C2", "2026-11-21T10:00:00Z", source="2A", agency="education",
                        children=[child("P-B", date_of_birth="2016-11-21", gender="male")]),
                "re-contact")])
    table = rows_for(siblings)
    assert annex_a.to_csv(table) == HEADER + (
        "P-A,Female,WBRI,02/04/2019,7,20/11/2026,6\r\n"
        "P-B,Male,BAFR,21/11/2016,9,20/11/2026,6\r\n"      # the day before his birthday
        "P-B,Male,NOBT,21/11/2016,10,21/11/2026,2A\r\n")   # ethnicity not given this time


def test_what_the_record_does_not_hold_is_not_recorded_never_invented() -> None:
    c = case("CASE-2", contact("C3", "2026-11-05T12:00:00Z", source="3B", agency="health",
                               children=[child("P-U", expected_date_of_delivery="2027-02-01"),
                                         child("P-E", estimated_age=9, gender="other"),
                                         child(None, ethnicity="Polish")]))
    table = rows_for(c)
    assert [r.cells() for r in table] == [
        # unborn: no date of birth, so no age; the due date is not a birth date
        ("C3/child-2", "Not stated/recorded", "Polish", "", "", "05/11/2026", "3B"),
        ("P-E", "Neither", "NOBT", "", "9", "05/11/2026", "3B"),
        ("P-U", "Not stated/recorded", "NOBT", "", "", "05/11/2026", "3B"),
    ]
    assert [r.ethnicity_uncoded for r in table] == [True, False, False]


def test_the_date_of_contact_is_the_london_day_and_picks_the_month() -> None:
    late = case("CASE-3", contact("C4", "2026-07-31T23:30:00Z",
                                  children=[child("P-L", date_of_birth="2020-08-01")]))
    assert rows_for(late, period="2026-07") == []
    [r] = rows_for(late, period="2026-08")
    assert (r.date_of_contact, r.age) == ("01/08/2026", "6")  # her birthday, in London


@pytest.mark.parametrize(("written", "code"), [
    ("White British", "WBRI"), ("white - british", "WBRI"), ("wbri", "WBRI"),
    ("Bangladeshi", "ABAN"), ("Black Caribbean", "BCRB"), ("Gypsy/Roma", "WROM"),
    ("Refused", "REFU"), (None, "NOBT"), ("  ", "NOBT")])
def test_ethnicity_in_cin_codes(written: str | None, code: str) -> None:
    assert annex_a.ethnicity(written) == (code, False)


def test_only_list_1_is_built() -> None:
    annex_a.check_list(1)
    with pytest.raises(annex_a.ListNotBuilt, match="only list 1"):
        annex_a.check_list(3)


def test_the_cli_refuses_other_lists_with_exit_2() -> None:
    result = CliRunner().invoke(app, ["report", "annex-a", "--list", "2", "--month", "2026-11"])
    assert result.exit_code == 2
    assert "Annex A list 2 is not built: only list 1 (contacts) is" in result.output


def test_the_cli_refuses_a_month_and_a_range_together() -> None:
    result = CliRunner().invoke(app, ["report", "annex-a", "--list", "1", "--month", "2026-11",
                                      "--from", "2026-11-01", "--to", "2026-11-30"])
    assert result.exit_code == 2
    assert "either --month or --from and --to" in result.output


def test_contacts_outside_the_period_are_left_out() -> None:
    c = case("CASE-4", contact("C5", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)))
    assert rows_for(c) == []
