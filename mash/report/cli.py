"""`mash report`: the board's monthly performance report, Ofsted's Annex A
List 1, emerging risks and the workload model. Each reads the case records
or the case views (``load``), counts them with the pure functions beside it,
and writes files."""

import asyncio
import sys
from datetime import date, datetime, time, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from pymongo.errors import PyMongoError

from contracts.envelope import utc_now
from mash.report import annex_a, emerging, load, performance
from mash.report.period import LONDON, Period, days, month, year_before
from mash.report.records import CaseDoc, contacts

report_app = typer.Typer(help="Reports for the board and inspectors: performance, Ofsted "
                              "Annex A, emerging risks, workload.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"mash report: {message}", err=True)
    return typer.Exit(code)


def _month(text: str) -> Period:
    try:
        return month(text)
    except ValueError as error:
        raise _fail(str(error)) from error


def _cases(start: datetime, end: datetime) -> list[CaseDoc]:
    try:
        return asyncio.run(load.cases(load.ReportSettings().mongo(), start, end))
    except PyMongoError as error:
        raise _fail(f"cannot read the case database: {type(error).__name__}") from error


def _rejected(period: Period) -> int | None:
    try:
        return asyncio.run(load.rejected(load.ReportSettings().mongo(), period.start, period.end))
    except PyMongoError:
        return None  # the figure is a footnote; the report stands without it


@report_app.command("performance")
def performance_cmd(
    month_: Annotated[str, typer.Option("--month", help="The month, YYYY-MM (Europe/London).")],
    out: Annotated[Path | None, typer.Option(
        help="Directory for report.md and the charts (default: reports/performance-YYYY-MM).")
    ] = None,
) -> None:
    """The month's performance for the MASH board, as report.md and PNG charts.

    Contacts by source, conversion by source, timeliness against each
    timescale, RAG changes and re-contacts within 12 months."""
    period = _month(month_)
    target = out or Path("reports") / f"performance-{period.start:%Y-%m}"
    # Re-contacts look back twelve months from each contact of the month.
    found = _cases(year_before(period.start), period.end)
    figures = performance.build(found, period, utc_now(), _rejected(period))
    target.mkdir(parents=True, exist_ok=True)
    from mash.report.charts import draw

    charts = draw(figures, target)
    (target / "report.md").write_text(performance.markdown(figures, charts), "utf-8")
    typer.echo(f"{target / 'report.md'}: {figures.contacts} contact(s) in {period.label}"
               + (f"; charts: {', '.join(charts.values())}" if charts else "; no charts"))


def _annex_period(month_: str | None, from_: date | None, to: date | None) -> Period:
    if month_ is not None and (from_ is not None or to is not None):
        raise _fail("give either --month or --from and --to, not both")
    if month_ is not None:
        return _month(month_)
    if from_ is None and to is None:
        return _month(f"{utc_now().astimezone(LONDON):%Y-%m}")
    if from_ is None or to is None:
        raise _fail("--from and --to go together")
    try:
        return days(from_, to)
    except ValueError as error:
        raise _fail(str(error)) from error


@report_app.command("annex-a")
def annex_a_cmd(
    list_: Annotated[int, typer.Option("--list", help="The Annex A list; only 1 is built.")],
    month_: Annotated[str | None, typer.Option("--month", help="YYYY-MM (Europe/London).")
                      ] = None,
    from_: Annotated[datetime | None, typer.Option(
        "--from", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD (included).")] = None,
    to: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Last day, YYYY-MM-DD (included).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="CSV file, or '-' for standard output "
             "(default: reports/annex-a-list-1-<period>.csv).")
    ] = None,
) -> None:
    """Ofsted ILACS Annex A List 1 (contacts) as CSV.

    One row per child per contact received in the period (default: this
    month so far). Lists 2-5 are not built: exit 2."""
    try:
        annex_a.check_list(list_)
    except annex_a.ListNotBuilt as error:
        raise _fail(str(error)) from error
    period = _annex_period(month_, from_.date() if from_ else None, to.date() if to else None)
    table = annex_a.rows(contacts(_cases(period.start, period.end)), period)
    text = annex_a.to_csv(table)
    uncoded = sum(1 for r in table if r.ethnicity_uncoded)
    if out is not None and str(out) == "-":
        sys.stdout.write(text)
        where = "standard output"
    else:
        name = (f"{period.start:%Y-%m}" if month_ or not from_ else
                f"{period.first_day:%Y-%m-%d}-to-{period.last_day:%Y-%m-%d}")
        target = out or Path("reports") / f"annex-a-list-1-{name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8", newline="")
        where = str(target)
    typer.echo(f"Annex A list 1, {period.label}: {len(table)} row(s) to {where}", err=True)
    if uncoded:
        typer.echo(f"mash report: {uncoded} row(s) carry an ethnicity as the referrer wrote it, "
                   "which matches no CIN code: a practitioner should code them", err=True)


@report_app.command("emerging-risks")
def emerging_cmd(
    days_: Annotated[int, typer.Option("--days", min=1, help="The rolling window, in days.")
                     ] = 28,
    minimum: Annotated[int, typer.Option("--min", min=2, help="Contacts that make a cluster.")
                       ] = 3,
    as_of: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="End the window with this day, London (default: now).")
    ] = None,
    out: Annotated[Path | None, typer.Option(
        help="Markdown file (default: reports/emerging-risks-YYYY-MM-DD.md).")] = None,
) -> None:
    """Clusters of contacts by district, concern and linked adult.

    Over a rolling window: a table here and Markdown for the strategic
    board, with counts and postcode districts, no names."""
    end = (datetime.combine(as_of.date() + timedelta(days=1), time(0), tzinfo=LONDON)
           if as_of else utc_now())
    w = emerging.window(end, days_, minimum)
    considered = [c for c in contacts(_cases(w.start, w.end)) if w.start <= c.received_at < w.end]
    found = emerging.clusters(considered, w)
    typer.echo(emerging.summary(w, found, len(considered)))
    if found:
        for line in emerging.table(found):
            typer.echo(line)
    target = out or Path("reports") / f"emerging-risks-{w.end.astimezone(LONDON):%Y-%m-%d}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(emerging.markdown(w, found, len(considered)), "utf-8")
    typer.echo(f"written to {target}")


def _text(path: Path | None, packaged: str, what: str) -> str:
    if path is None:
        return files("mash.report.workload").joinpath(packaged).read_text("utf-8")
    try:
        return path.read_text("utf-8")
    except OSError as error:
        raise _fail(f"cannot read the {what} {path}: {error.strerror}") from error


@report_app.command("workload")
def workload_cmd(
    weeks: Annotated[int | None, typer.Option(
        min=1, help="Weeks of history to measure demand from, ending now (default 4; with "
                    "--generated-year, the whole 52).")] = None,
    staffing_file: Annotated[Path | None, typer.Option(
        "--staffing", help="The staffing plan: who is on which shift (TOML; default: the "
                           "packaged example, mash/report/workload/staffing.toml).")] = None,
    target: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of each RAG to decide within its timescale.")] = 0.98,
    research_target: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="Share of each agency's answers within the research window "
                               "(default: --target).")] = None,
    assumptions_file: Annotated[Path | None, typer.Option(
        "--assumptions", help="The assumed minutes per activity (TOML; default: "
                              "mash/report/workload/assumptions.toml).")] = None,
    generated_year: Annotated[bool, typer.Option(
        "--generated-year", help="Measure a generated year of a hub worked by --staffing "
                                 "instead of the case views: no running stack needed.")] = False,
    contacts_per_month: Annotated[float | None, typer.Option(
        min=1.0, help="Simulate this volume: the generated year's, or the measured demand "
                      "scaled with the same hours, RAG mix and agencies.")] = None,
    horizon_weeks: Annotated[float, typer.Option(
        min=1.0, help="Weeks each simulated run counts (after a week's warm-up).")] = 4.0,
    runs: Annotated[int, typer.Option(min=1, help="Simulated runs pooled per plan.")] = 3,
    seed: Annotated[int, typer.Option(help="The first run's random seed.")] = 1,
    search: Annotated[bool, typer.Option(
        help="Search for the smallest staffing that meets the target.")] = True,
    out: Annotated[Path | None, typer.Option(
        help="Directory for report.md, the charts and staffing-recommended.toml "
             "(default: reports/workload-<date>).")] = None,
) -> None:
    """How many people each shift needs to meet the timescales.

    Measures the demand from the case views (arrivals by hour of week and
    RAG, agencies asked, what the hub achieved), simulates the staffing plan,
    and searches for the smallest plan that meets the target."""
    from mash.report.workload import assumptions, demand, history, staffing
    from mash.report.workload import report as workload

    try:
        assumed = assumptions.parse(_text(assumptions_file, assumptions.FILE, "assumptions"))
        plan = staffing.parse(_text(staffing_file, "staffing.toml", "staffing plan"))
    except (assumptions.AssumptionsError, staffing.StaffingError) as error:
        raise _fail(str(error)) from error
    now = utc_now()
    if generated_year:
        volume = contacts_per_month or 3000.0
        typer.echo(f"generating a year of a hub of {volume:,.0f} contacts a month worked by "
                   f"'{plan.version}'", err=True)
        views, start, end = history.generate(history.Profile(contacts_per_month=volume),
                                             assumed, plan, weeks=52, seed=seed + 2026)
        begin = max(start, end - timedelta(weeks=weeks or 52))
        source = (f"A generated year: {volume:,.0f} contacts a month (this project's "
                  f"estimated hours and RAG mix), worked by the plan '{plan.version}'")
        measured = demand.measure(views, begin, end, assumed, as_of=end)
        simulated = measured
        name = f"workload-generated-{volume:.0f}"
    else:
        end = now
        begin = end - timedelta(weeks=weeks or 4)
        try:
            views = asyncio.run(load.case_views(load.ReportSettings().mongo(), begin, end))
        except PyMongoError as error:
            raise _fail(f"cannot read the case views: {type(error).__name__}") from error
        source = f"The hub's case views ({len(views)} read)"
        measured = demand.measure(views, begin, end, assumed, as_of=now)
        simulated = measured
        if contacts_per_month is not None:
            if not measured.per_week():
                raise _fail("no case was opened in the period: there is nothing to scale")
            simulated = measured.scaled(contacts_per_month)
        name = f"workload-{now.astimezone(LONDON):%Y-%m-%d}"
    figures = workload.build(
        simulated, assumed, plan, source=source, as_of=now, target=target,
        research_target=research_target, measured=measured, weeks=horizon_weeks, runs=runs,
        seed=seed, search=search, progress=lambda text: typer.echo(text, err=True))
    target_dir = out or Path("reports") / name
    target_dir.mkdir(parents=True, exist_ok=True)
    from mash.report.workload.charts import draw

    charts = draw(figures, target_dir)
    (target_dir / "report.md").write_text(workload.markdown(figures, charts), "utf-8")
    if figures.search is not None:
        (target_dir / "staffing-recommended.toml").write_text(staffing.dumps(
            figures.search.plan, f"The smallest staffing found meeting {target:.0%} "
                                 f"({figures.search.trials} simulated plans), for "
                                 f"{simulated.contacts_per_month():,.0f} contacts a month."),
            "utf-8")
    for line in workload.headlines(figures) if measured.per_week() else ["no case in the period"]:
        typer.echo(f"- {line}")
    typer.echo(f"written to {target_dir / 'report.md'}"
               + (f"; charts: {', '.join(charts.values())}" if charts else ""))
