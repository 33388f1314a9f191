"""`mash rules`: the threshold model's rule sets, checked against the
calibration set and replayed on past cases before a change goes live."""

from pathlib import Path
from typing import Annotated

import typer

from judgement import CURRENT_VERSION, named
from judgement.calibration import MIN_EXACT_RAG, MIN_OUTCOME, Verdict, check, load_vignettes
from mash.replay import replay

rules_app = typer.Typer(help="Threshold rule sets: check against the calibration set, replay.",
                        no_args_is_help=True)
rules_app.command("replay")(replay)


VIGNETTES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vignettes"


def _row(v: Verdict) -> str:
    j, x = v.judgement, v.vignette
    mark = ("DOWNGRADE" if v.downgrade else "over" if v.over_escalation
            else "" if v.exact and v.outcome_agrees else "differs")
    return (f"  {x.vignette_id:<8} {x.expected_rag.value:<5} {x.expected_outcome.value:<27} "
            f"{j.rag.value:<5} {j.outcome.value:<27} {mark:<9} "
            f"{' '.join(r.rule_id for r in j.reasons[:4])}")


@rules_app.command("check")
def check_command(
    rules: Annotated[str, typer.Option(help="A rule set file, or a version in judgement/rules.")]
    = CURRENT_VERSION,
    vignettes: Annotated[Path, typer.Option(help="The calibration set.")] = VIGNETTES,
    every: Annotated[bool, typer.Option("--all", help="Print every vignette, not only "
                                                      "those that differ.")] = False,
) -> None:
    """Run the calibration set through a rule set and print the agreement;
    exits 1 on any dangerous downgrade, exact RAG below 90% or outcome below 85%."""
    try:
        model = named(rules)
        agreement = check(model, load_vignettes(vignettes))
    except (OSError, ValueError) as exc:
        typer.echo(f"mash rules check: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"rule set {agreement.version}: {agreement.n} vignettes from {vignettes}")
    typer.echo(f"  {'id':<8} {'expected':<33} {'proposed':<33} {'':<9} reasons")
    for v in agreement.verdicts:
        if every or not (v.exact and v.outcome_agrees):
            typer.echo(_row(v))
    rows = [("exact RAG", f"{agreement.share('exact'):.1%}", f">= {MIN_EXACT_RAG:.0%}"),
            ("outcome", f"{agreement.share('outcome_agrees'):.1%}", f">= {MIN_OUTCOME:.0%}"),
            ("dangerous downgrades", str(len(agreement.downgrades)), "0"),
            ("over-escalations", str(len(agreement.over_escalations)), "(reported)"),
            ("pairs decided alike", str(len(agreement.pairs_missed())), "(reported)")]
    typer.echo("")
    for name, value, target in rows:
        typer.echo(f"  {name:<22} {value:>7}   {target}")
    failures = agreement.failures()
    for why in failures:
        typer.echo(f"mash rules check: FAIL: {why}", err=True)
    raise typer.Exit(1 if failures else 0)
