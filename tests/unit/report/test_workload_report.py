"""The workload report: its figures, its words and charts, and the command
on a generated year and on case views (the database stood in for)."""

from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.caseview import CaseView
from contracts.contact import Rag
from mash.report import cli, load
from mash.report.workload import charts, report
from mash.report.workload.assumptions import parse
from mash.report.workload.demand import measure
from mash.report.workload.staffing import parse as plan_of
from tests.unit.report.test_workload_demand import END, START, hub

ASSUMED = parse(files("mash.report.workload").joinpath("assumptions.toml").read_text("utf-8"))
PLAN = plan_of(files("mash.report.workload").joinpath("staffing.toml").read_text("utf-8"))


@pytest.fixture(scope="module")
def workload() -> report.Workload:
    measured = measure(hub(), START, END, ASSUMED)
    return report.build(measured.scaled(600), ASSUMED, PLAN, source="Test views",
                        as_of=END, target=0.95, measured=measured, weeks=1, runs=1,
                        budget=12)


def test_build_simulates_the_plan_searches_and_traces_the_curve(
        workload: report.Workload) -> None:
    w = workload
    assert w.predicted.rags[Rag.RED].cases > 0
    assert w.search is not None
    assert w.recommended is not None
    assert w.search.trials <= 12
    assert w.curve
    assert w.curve[0].people_hours < w.curve[-1].people_hours
    assert len({c.people_hours for c in w.curve}) == len(w.curve)
    assert all(c.busiest is not None and c.busiest[1] > 0 for c in w.curve)


def test_the_words_say_what_is_measured_and_what_is_assumed(workload: report.Workload) -> None:
    text = report.markdown(workload, {"arrivals": "a.png", "staff": "s.png"})
    for heading in ("## Headlines", "## Measured demand", "## What is measured and what is assumed",
                    "## Simulated timeliness under the plan 'example-2026.12'",
                    "## Staff needed to meet 95.0%"):
        assert heading in text
    assert "scaled to 600 with the same hours" in text
    assert "| Minutes of research: police | assumed | estimate" in text
    assert "| Arrivals by hour of the week and RAG | measured |" in text
    assert f"Assumptions version {ASSUMED.version}" in text
    assert "![Arrivals by hour of the week](a.png)" in text
    assert "![Timeliness against staff on shift](s.png)" in text
    assert "| Mon 09:00 |" in text   # the busiest hour of the hand-built hub
    assert "Caution: only 4 of the week's 168 hours saw a case" in text


def test_the_charts_are_drawn(workload: report.Workload, tmp_path: Path) -> None:
    drawn = charts.draw(workload, tmp_path)
    assert set(drawn) == {"arrivals", "staff"}
    for name in drawn.values():
        assert (tmp_path / name).stat().st_size > 1000


def test_an_empty_period_says_so() -> None:
    empty = measure([], START, END, ASSUMED)
    w = report.build(empty, ASSUMED, PLAN, source="Nothing", as_of=END, target=0.98, weeks=1,
                     runs=1)
    assert w.search is None
    assert "No case was opened in the period" in report.markdown(w)


def test_the_command_on_a_generated_year(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.report_app, [
        "workload", "--generated-year", "--contacts-per-month", "300", "--weeks", "8",
        "--horizon-weeks", "1", "--runs", "1", "--no-search", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "report.md").read_text()
    assert "A generated year: 300 contacts a month" in text
    assert "8.0 weeks" in text
    assert (tmp_path / "arrivals_by_hour_of_week.png").exists()
    assert not (tmp_path / "staffing-recommended.toml").exists()


def test_the_command_reads_the_case_views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[datetime, datetime]] = []

    async def views(uri: str, start: datetime, end: datetime) -> list[CaseView]:
        asked.append((start, end))
        return hub()

    monkeypatch.setattr(load, "case_views", views)
    monkeypatch.setattr(load.ReportSettings, "mongo", lambda self: "mongodb://nowhere")
    monkeypatch.setattr(cli, "utc_now", lambda: END)
    staffing = tmp_path / "plan.toml"
    staffing.write_text(files("mash.report.workload").joinpath("staffing.toml").read_text())
    result = CliRunner().invoke(cli.report_app, [
        "workload", "--weeks", "2", "--staffing", str(staffing), "--contacts-per-month",
        "400", "--horizon-weeks", "1", "--runs", "1", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert asked == [(END - timedelta(weeks=2), END)]
    assert "The hub's case views (7 read)" in (tmp_path / "out" / "report.md").read_text()
    recommended = plan_of((tmp_path / "out" / "staffing-recommended.toml").read_text())
    assert recommended.roles


def test_the_command_refuses_a_broken_plan(tmp_path: Path) -> None:
    broken = tmp_path / "plan.toml"
    broken.write_text('version = "x"\n')
    result = CliRunner().invoke(cli.report_app, ["workload", "--staffing", str(broken)])
    assert result.exit_code == 2
    assert "no shifts" in result.output
