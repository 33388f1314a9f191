"""The domain metrics' logic, without a broker or a database: the live
picture of open cases and timescales, what a transition counts, and the
rejection reasons intake reports. Counters are read back from
prometheus-client's registry."""

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from contracts.contact import Rag
from plumbing.guard import Unusable
from services.decision import domain
from services.decision import metrics as decision_metrics
from services.decision.metrics import Before, LiveCase, band, count_step, snapshot
from services.intake import formats, problems
from services.intake import metrics as intake_metrics
from tests.unit.test_decision_domain import finding
from tests.unit.test_decision_workflow import AUTO, FRIDAY_1655, MANUAL, all_in, new_case


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(("left", "expected"), [
    (timedelta(seconds=-1), "breached"), (timedelta(0), "breached"),
    (timedelta(minutes=29), "under-30m"), (timedelta(minutes=30), "under-1h"),
    (timedelta(hours=3, minutes=59), "under-4h"), (timedelta(hours=23), "under-24h"),
    (timedelta(hours=24), "later"),
])
def test_time_left_bands(left: timedelta, expected: str) -> None:
    assert band(left) == expected


def test_a_case_still_researching_is_counted_with_the_agencies_it_waits_for() -> None:
    step = domain.advance(new_case(triage=Rag.RED), FRIDAY_1655, MANUAL)
    step.case.findings["police"] = finding("police")
    shot = snapshot([LiveCase.of(step.case)], FRIDAY_1655 + timedelta(hours=3, minutes=40),
                    ["police", "health", "housing"])
    assert dict(shot.cases) == {("RED", "researching"): 1}
    assert dict(shot.awaiting) == {"police": 0, "health": 1, "housing": 0}
    # The RED window is 4 clock hours from receipt: 20 minutes left.
    assert shot.timescales[("decision-rag", "RED", "under-30m")] == 1
    assert shot.least_left[("decision-rag", "RED")] == pytest.approx(20 * 60)


def test_a_timescale_past_its_limit_stays_owed_until_met() -> None:
    case = domain.advance(new_case(triage=Rag.RED), FRIDAY_1655, MANUAL).case
    late = FRIDAY_1655 + timedelta(hours=5)
    swept = domain.sla(case, late, MANUAL).case  # the sweeper marks the breach
    rag = next(t for t in swept.timescales if t.timescale == "decision-rag")
    assert rag.breached_at is not None
    shot = snapshot([LiveCase.of(swept)], late, [])
    assert shot.timescales[("decision-rag", "RED", "breached")] == 1
    assert shot.least_left[("decision-rag", "RED")] == pytest.approx(-3600)


def test_a_decided_case_with_nothing_owed_is_not_open() -> None:
    step = all_in(AUTO)
    for ts in step.case.timescales:
        ts.met_at = FRIDAY_1655
    assert not snapshot([LiveCase.of(step.case)], FRIDAY_1655, []).cases


def test_a_decision_is_counted_once_with_its_time_and_the_timescales_it_met() -> None:
    case = new_case()
    labels = {"rag": "GREEN", "outcome": "nfa", "decided_by": "rules"}
    decisions = sample("mash_decisions_total", **labels)
    met = sample("mash_timescales_closed_total", timescale="decision-working-day", result="met")
    timed = sample("mash_time_to_decision_seconds_count", rag="GREEN")
    before = Before.of(case)
    step = all_in(AUTO)
    assert step.decisions, "the rules decide when auto-authorise is on"
    count_step(before, step)
    assert sample("mash_decisions_total", **labels) == decisions + 1
    assert sample("mash_time_to_decision_seconds_count", rag="GREEN") == timed + 1
    assert sample("mash_timescales_closed_total", timescale="decision-working-day",
                  result="met") == met + 1


def test_a_first_proposal_at_the_deadline_counts_the_silent_agencies() -> None:
    gathering = domain.advance(new_case(), FRIDAY_1655, MANUAL).case
    gathering.findings["police"] = finding("police")
    expiries = sample("mash_research_deadline_expiries_total", agency="health")
    before = Before.of(gathering)
    step = domain.sla(gathering, FRIDAY_1655 + timedelta(hours=6), MANUAL)
    count_step(before, step)
    assert sample("mash_research_deadline_expiries_total", agency="health") == expiries + 1
    count_step(Before.of(step.case), domain.sla(step.case, FRIDAY_1655 + timedelta(hours=7),
                                                MANUAL))
    assert sample("mash_research_deadline_expiries_total", agency="health") == expiries + 1


def test_a_manager_is_a_role_not_a_label() -> None:
    step = all_in(AUTO)
    [made] = step.decisions
    assert decision_metrics.decided_by(made.data) == "rules"
    by_manager = made.data.model_copy(update={"decided_by": "mgr-bob"})
    assert decision_metrics.decided_by(by_manager) == "manager"


def rejection_of(parse: Callable[[], object]) -> str:
    try:
        parse()
    except (ValueError, ValidationError) as error:
        return intake_metrics.rejection_reason(error, problems.plain(error))
    raise AssertionError("expected a rejection")


def test_rejection_reasons_are_codes() -> None:
    assert rejection_of(lambda: json.loads(b"{not json")) == "unreadable"
    assert rejection_of(lambda: formats.parse({"type": "no.such.format"})) == "unknown-format"
    assert rejection_of(lambda: formats.parse(
        {"type": "mash.contact.submitted", "id": "x"})) == "invalid"
    forged = Unusable([("(message)", "signature does not match")], reason="not-authentic")
    assert intake_metrics.rejection_reason(forged, forged.problems) == "not-authentic"
    replayed = Unusable([("id", "already received")], reason="replayed")
    assert intake_metrics.rejection_reason(replayed, replayed.problems) == "replayed"
