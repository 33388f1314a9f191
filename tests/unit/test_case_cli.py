"""`mash case`: the product a practitioner reads, and the commands it sends."""

from datetime import date, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from contracts.casework import (
    CaseChanged,
    CaseChangeData,
    DecideCommand,
    HistoryKind,
    RecommendCommand,
    Role,
)
from contracts.contact import Rag
from contracts.envelope import Event
from contracts.events import FindingData, FindingItem, Outcome
from mash import case as case_cli
from mash.cli import app
from services.decision import domain
from tests.unit.test_decision_workflow import (
    FRIDAY_1655,
    MANUAL,
    SW,
    answered,
    decide,
    new_case,
    recommend,
)


def traced(agency: str, *items: tuple[str, str, str, date | None]) -> FindingData:
    return FindingData(
        enquiry_id=f"e-{agency}", case_id="CASE-1", agency=agency, result="trace",
        items=[FindingItem(person_ref=ref, category=cat, summary=f"{cat} summary", risk=risk,  # type: ignore[arg-type]
                           occurred_on=on) for ref, cat, risk, on in items],
        disclosure_level="full", lawful_basis="x", answered_at=FRIDAY_1655)


def product() -> dict[str, Any]:
    police = traced("police", ("adult-0", "domestic-abuse-incident", "medium", date(2026, 6, 1)),
                    ("adult-0", "arrest", "high", date(2025, 2, 3)))
    health = traced("health", ("child-0", "missed-appointment", "low", None))
    step = answered(new_case(), FRIDAY_1655, MANUAL, police=police, health=health)
    step = domain.command(step.case, recommend(Rag.AMBER, Outcome.ASSESSMENT), FRIDAY_1655,
                          MANUAL)
    step = domain.command(step.case, decide("override", rag=Rag.RED,
                                            outcome=Outcome.STRATEGY_DISCUSSION,
                                            rationale="Arrest for violence in the home."),
                          FRIDAY_1655 + timedelta(minutes=20), MANUAL)
    step = domain.sla(step.case, FRIDAY_1655 + timedelta(hours=5), MANUAL)
    doc = step.case.model_dump(mode="json", by_alias=True)
    return doc


def test_show_prints_the_product_as_one_readable_record() -> None:
    text = "\n".join(case_cli.render(product()))
    assert text.startswith("Case CASE-1 - decided (v1)")
    assert "Ava Smith, born 2019-04-02" in text       # the practitioner sees who
    assert "adult-0: Kerry Smith (mother)" in text
    assert "3B " in text
    chronology = text.split("Chronology")[1].split("RAG")[0].splitlines()
    dated = [line.split()[0] for line in chronology[1:] if line.strip()]
    assert dated == ["2025-02-03", "2026-06-01", "2026-11-20", "undated"]
    assert "police     high   arrest - Kerry Smith (mother)" in text
    for row in ("referrer     AMBER", "triage       AMBER",
                "proposed     AMBER  rules 2026.12-1: L3",
                "recommended  AMBER  sw-ann: Second incident",
                "final        RED    mgr-bob: Arrest for violence"):
        assert row in text, row
    assert "Decision v1: RED strategy-discussion-s47, level of need 4, by mgr-bob" in text
    assert "MANAGER-OVERRIDE" in text
    assert "s47-to-duty" in text
    assert "BREACHED" in text  # nobody acknowledged within the out-of-hours 4 hours
    assert "overridden           mgr-bob" in text


def test_show_a_case_awaiting_decision_says_what_it_waits_for() -> None:
    step = answered(new_case(), FRIDAY_1655, MANUAL, police=traced("police"),
                    health=traced("health"))
    text = "\n".join(case_cli.render(step.case.model_dump(mode="json", by_alias=True)))
    assert "awaiting a manager's decision" in text
    assert "waiting for `mash case decide`" in text


def test_a_case_not_yet_opened() -> None:
    assert "not opened yet" in case_cli.render({"_id": "CASE-9", "findings": {}})[0]


class Decision:
    """Stands in for the decision service: records each command and answers it."""

    def __init__(self) -> None:
        self.sent: list[Event[Any]] = []
        self.answer: tuple[HistoryKind, str] | None = (HistoryKind.RECOMMENDED, "ok")

    async def __call__(self, _bootstrap: str, event: Event[Any],
                       _timeout: float) -> CaseChanged | None:
        self.sent.append(event)
        if self.answer is None:
            return None
        kind, text = self.answer
        return CaseChanged.new(
            CaseChangeData(case_id=event.subject, kind=kind, actor=event.data.actor, text=text,
                           at=FRIDAY_1655),
            source="/mash/decision", subject=event.subject, correlation_id=event.subject,
            causation_id=event.id)


@pytest.fixture
def decision(monkeypatch: pytest.MonkeyPatch) -> Decision:
    fake = Decision()
    monkeypatch.setattr(case_cli, "send_and_wait", fake)
    return fake


def test_recommend_sends_a_command_with_the_actor_and_says_it_was_taken(
        decision: Decision) -> None:
    run = CliRunner().invoke(app, ["case", "recommend", "CASE-1", "--actor", "sw-ann",
                                   "--rag", "AMBER", "--outcome", "child-and-family-assessment",
                                   "--rationale", "Pattern of incidents."])
    assert run.exit_code == 0, run.output
    [event] = decision.sent
    assert isinstance(event, RecommendCommand)
    assert (event.subject, event.data.actor.actor_id, event.data.actor.role) == \
        ("CASE-1", "sw-ann", Role.SOCIAL_WORKER)
    assert "recommended: case CASE-1 by sw-ann" in run.output


def test_a_refused_command_exits_non_zero_with_the_reason(decision: Decision) -> None:
    decision.answer = (HistoryKind.COMMAND_REFUSED, "Command refused: no such case")
    run = CliRunner().invoke(app, ["case", "decide", "CASE-404", "--actor", "mgr-bob"])
    assert run.exit_code == 1
    assert "refused: no such case" in run.output
    assert "sent" not in run.output


def test_no_verdict_in_time_exits_non_zero(decision: Decision) -> None:
    decision.answer = None
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1", "--actor", "mgr-bob",
                                   "--wait", "0.1"])
    assert run.exit_code == 3
    assert "no answer from the decision service within 0.1s" in run.output


def test_decide_override_needs_a_rationale(decision: Decision) -> None:
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1", "--actor", "mgr-bob",
                                   "--override", "--rag", "RED",
                                   "--outcome", "strategy-discussion-s47"])
    assert run.exit_code == 2
    assert "an override needs a rationale" in run.output
    assert not decision.sent


def test_a_blank_rationale_is_refused_before_anything_is_sent(decision: Decision) -> None:
    run = CliRunner().invoke(app, ["case", "recommend", "CASE-1", "--actor", "sw-ann",
                                   "--rag", "GREEN", "--outcome", "nfa", "--rationale", "   "])
    assert run.exit_code == 2
    assert "a recommendation needs a rationale, not blank space" in run.output
    assert not decision.sent


def test_decide_authorise_from_the_environment_actor(decision: Decision) -> None:
    decision.answer = (HistoryKind.AUTHORISED, "Authorised as proposed")
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1"], env={"MASH_ACTOR": "mgr-bob"})
    assert run.exit_code == 0, run.output
    [event] = decision.sent
    assert isinstance(event, DecideCommand)
    assert (event.data.action, event.data.actor.role) == ("authorise", Role.MANAGER)


def test_the_cli_sends_commands_the_decision_service_accepts() -> None:
    cmd = case_cli.recommend_command("CASE-1", SW.actor_id, Rag.GREEN, Outcome.NFA, "why")
    step = answered(new_case(), FRIDAY_1655, MANUAL, police=traced("police"),
                    health=traced("health"))
    after = domain.command(step.case, cmd, FRIDAY_1655, MANUAL)
    assert after.case.recommendation is not None
