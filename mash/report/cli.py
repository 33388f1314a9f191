"""`mash report`: the board's monthly performance report, Ofsted's Annex A
List 1, and emerging risks. Each reads the case records (``load``), counts
them with the pure functions beside it, and writes files."""

import asyncio
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pymongo.errors import PyMongoError

from contracts.envelope import utc_now
from mash.report import annex_a, emerging, load, performance
from mash.report.period import LONDON, Period, days, month, year_before
from mash.report.records import CaseDoc, contacts

report_app = typer.Typer(help="Reports for the board and inspectors: performance, Ofsted "
                              "Annex A, emerging risks.", no_args_is_help=True)


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
