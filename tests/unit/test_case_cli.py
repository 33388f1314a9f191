"""`mash case`: the product a practitioner reads, and the commands it sends."""

from datetime import date, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from contracts.contact import Rag
from contracts.events import FindingData, FindingItem, Outcome
from mash import case as case_cli
from mash.cli import app
from services.decision import domain
from tests.unit.test_decision_workflow import (
    FRIDAY_1655,
    MANUAL,
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


class Desk:
    """Stands in for the desk: records each form and answers with a verdict."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str], str, str]] = []
        self.answer: dict[str, str] = {"verdict": "accepted", "kind": "recommended",
                                       "text": "Pattern of incidents."}

    def __call__(self, case: str, what: str, form: dict[str, str], user: str, password: str,
                 _wait: float) -> dict[str, str]:
        self.sent.append((case, what, form, user, password))
        return self.answer


@pytest.fixture
def desk(monkeypatch: pytest.MonkeyPatch) -> Desk:
    fake = Desk()
    monkeypatch.setattr(case_cli, "send", fake)
    return fake


SIGNED_IN = {"MASH_USER": "ann.jones", "MASH_PASSWORD": "correct horse battery"}


def test_recommend_goes_through_the_desk_as_the_named_user(desk: Desk) -> None:
    run = CliRunner().invoke(app, ["case", "recommend", "CASE-1",
                                   "--rag", "AMBER", "--outcome", "child-and-family-assessment",
                                   "--rationale", "Pattern of incidents."], env=SIGNED_IN)
    assert run.exit_code == 0, run.output
    [(case, what, form, user, password)] = desk.sent
    assert (case, what, user, password) == ("CASE-1", "recommend", "ann.jones",
                                            "correct horse battery")
    assert form == {"rag": "AMBER", "outcome": "child-and-family-assessment",
                    "rationale": "Pattern of incidents."}
    assert "recommended: case CASE-1 by ann.jones" in run.output


def test_nobody_declares_who_they_are() -> None:
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1", "--actor", "mgr-bob"],
                             env=SIGNED_IN)
    assert run.exit_code == 2
    assert "No such option: --actor" in run.output


def test_a_refused_command_exits_non_zero_with_the_reason(desk: Desk) -> None:
    desk.answer = {"verdict": "refused", "kind": "command-refused",
                   "text": "Command refused: you made the recommendation on this case"}
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1"], env=SIGNED_IN)
    assert run.exit_code == 1
    assert "refused: you made the recommendation on this case" in run.output
    assert "sent" not in run.output


def test_no_verdict_in_time_exits_non_zero(desk: Desk) -> None:
    desk.answer = {"verdict": "waiting", "command_id": "c-1"}
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1", "--wait", "0.1"], env=SIGNED_IN)
    assert run.exit_code == 3
    assert "no answer from the decision service within 0.1s" in run.output


def test_the_desk_refusing_before_sending_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise case_cli.DeskRefused("That name and password do not match an account.")
    monkeypatch.setattr(case_cli, "send", refuse)
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1"], env=SIGNED_IN)
    assert run.exit_code == 2
    assert "do not match an account" in run.output


def test_decide_override_sends_what_and_why(desk: Desk) -> None:
    run = CliRunner().invoke(app, ["case", "decide", "CASE-1", "--override", "--rag", "RED",
                                   "--outcome", "strategy-discussion-s47",
                                   "--rationale", "Arrest for violence."], env=SIGNED_IN)
    assert run.exit_code == 0, run.output
    [(_, what, form, _, _)] = desk.sent
    assert what == "decide"
    assert form == {"action": "override", "rag": "RED", "outcome": "strategy-discussion-s47",
                    "rationale": "Arrest for violence."}


def test_the_alert_of_a_desk_page_is_read_as_words() -> None:
    page = '<p role="alert" class="refused" id="x"><span>✖ </span>No such case.</p>'
    assert case_cli._said(page) == "✖ No such case."


def test_list_is_the_tray_in_words_with_a_header_and_time_left() -> None:
    from contracts.caseview import Stage
    from services.desk import domain as desk

    opened = new_case().opened
    assert opened is not None
    view = desk.opened(desk.new("CASE-1"), opened, desk.Windows())
    doc = view.model_dump(mode="json", by_alias=True)
    doc["due_at"] = view.due_at
    text = case_cli._listed([doc], FRIDAY_1655 + timedelta(hours=1))
    header, line = text.splitlines()
    assert header.split()[:6] == ["CASE", "RAG", "STAGE", "RECEIVED", "DUE", "TIME"]
    assert line.split()[:3] == ["CASE-1", "AMBER", Stage.GATHERING.value]
    assert "23 h 00 m" in line
    assert line.endswith("police")
    assert "(no cases)" in case_cli._listed([], FRIDAY_1655)
