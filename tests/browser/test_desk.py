"""The desk, driven through headless Chromium on a stack of its own: people
sign in as who they are, the tray puts the most urgent first, and every
command's fate is the decision service's word, shown on the page.

The tests run in this order so that each begins as the person the last one
ended as where it can (a login costs an Argon2 check); any order passes."""

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from contracts import topics
from contracts.contact import Rag
from contracts.events import DecisionMade, OutcomeRouted
from mash.stack import Stack
from tests.browser.conftest import SEEDS, Case, Desk, Person, on_case, step
from tests.embedded import Wire, mash_cli

pytestmark = pytest.mark.integration

ACCEPTED = "Accepted by the decision service: "
REFUSED = "Refused by the decision service: "


async def test_each_role_signs_in_and_a_wrong_password_is_refused(
        desk: Desk, people: dict[str, Person]) -> None:
    def steps() -> tuple[tuple[str, str, bool], dict[str, tuple[str, str, str]]]:
        desk.login(people["sw"], password="not-the-password-at-all")
        refused = (desk.path, desk.text("login-error"), desk.has("me"))
        signed: dict[str, tuple[str, str, str]] = {}
        for key, person in people.items():
            desk.login(person)
            signed[key] = (desk.path, desk.text("me"), desk.driver.find_element(
                By.CSS_SELECTOR, "form.who span").text)
        return refused, signed

    refused, signed = await step(steps)
    assert refused == ("/login", "That name and password do not match an account.", False)
    assert signed["sw"] == ("/tray", "sw.ann", "Signed in as sw.ann (social worker)")
    assert signed["manager"] == ("/tray", "mgr.bea", "Signed in as mgr.bea (manager)")
    assert signed["manager2"] == ("/tray", "mgr.cal", "Signed in as mgr.cal (manager)")
    assert signed["police"] == ("/enquiries", "police.dee",
                                "Signed in as police.dee (agency researcher, police)")
    assert signed["operator"] == ("/tray", "ops.eve", "Signed in as ops.eve (operator)")


async def test_opening_a_case_puts_who_viewed_it_on_the_audit_trail(
        desk: Desk, desk_stack: Stack, people: dict[str, Person], cases: dict[str, Case]) -> None:
    case = cases["green-2"].case_id

    def steps() -> str:
        desk.login(people["operator"])
        desk.open(f"/cases/{case}")
        return desk.heading()

    assert await step(steps) == f"Case {case} ● GREEN"
    shown = await mash_cli(desk_stack.settings, "audit", "show", case)
    assert shown.returncode == 0, shown.stderr
    viewed = [line for line in shown.stdout.splitlines()
              if re.search(r"\bdesk\b.*\sops\.eve\s+case viewed\s", line)]
    assert len(viewed) == 1, shown.stdout


async def test_a_social_worker_has_no_decide_form_and_an_operator_no_form(
        desk: Desk, people: dict[str, Person], cases: dict[str, Case]) -> None:
    case = cases["amber-2"].case_id

    def forms(person: Person) -> tuple[bool, bool, str]:
        desk.login(person)
        desk.open(f"/cases/{case}")
        return desk.has("recommend"), desk.has("decide"), desk.heading()

    def steps() -> dict[str, tuple[bool, bool, str]]:
        return {key: forms(people[key]) for key in ("operator", "manager", "sw")}

    seen = await step(steps)
    assert seen["sw"] == (True, False, f"Case {case} ◆ AMBER")
    assert seen["operator"] == (False, False, f"Case {case} ◆ AMBER")
    assert seen["manager"] == (True, True, f"Case {case} ◆ AMBER")


async def test_the_tray_puts_red_before_amber_before_green_then_least_time_left(
        desk: Desk, people: dict[str, Person], cases: dict[str, Case], shots: Path
        ) -> None:
    def steps() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        desk.login(people["sw"])
        desk.open("/tray")
        every = desk.tray()
        desk.shot(shots, "tray")
        desk.open("/tray?rag=AMBER")
        return every, desk.tray()

    every, amber = await step(steps)
    ours = {c.case_id: c for c in cases.values()}
    assert {case for case, _ in every} <= set(ours), "only this module's cases are open"
    # Another test may already have decided one case; every other is shown.
    assert len(every) >= len(SEEDS) - 1, every
    assert [rag for _, rag in every] == [ours[case].seed.rag.value for case, _ in every]
    expected = sorted((ours[case] for case, _ in every), key=lambda c: c.tray_key)
    assert [case for case, _ in every] == [c.case_id for c in expected]
    # Within each RAG, the contact received earlier (less time left) first,
    # although it was sent second.
    for rag in ("red", "amber", "green"):
        older, newer = cases[f"{rag}-2"].case_id, cases[f"{rag}-1"].case_id
        shown = [case for case, _ in every]
        if older in shown and newer in shown:
            assert shown.index(older) < shown.index(newer), rag
    assert amber == [(cases["amber-2"].case_id, "AMBER"), (cases["amber-1"].case_id, "AMBER")]


async def test_a_social_worker_recommends_and_the_decision_service_accepts(
        desk: Desk, people: dict[str, Person], cases: dict[str, Case], wire: Wire,
        shots: Path) -> None:
    case = cases["amber-1"].case_id

    def steps() -> tuple[str, str, str, list[str]]:
        desk.login(people["sw"])
        desk.open(f"/cases/{case}")
        Select(desk.driver.find_element(By.ID, "rec-rag")).select_by_value(Rag.AMBER.value)
        Select(desk.driver.find_element(By.ID, "rec-outcome")).select_by_value(
            "child-and-family-assessment")
        desk.fill("rec-rationale", "Police and health both hold information; the father's "
                                   "history needs an assessment.")
        desk.submit("recommend")
        kind, said = desk.verdict()
        desk.shot(shots, "case")
        return kind, said, desk.text("stage"), desk.history()

    kind, said, stage, history = await step(steps)
    assert "accepted" in kind
    assert ACCEPTED + "recommended by sw.ann, AMBER child and family assessment." in said
    assert stage == "recommended"
    assert any("recommended by sw.ann (social worker): AMBER child and family assessment." in h
               for h in history), history
    assert await wire.mongo["mash_desk"].outbox.count_documents(
        {"topic": topics.DECISION_COMMANDS, "key": case}) == 1


async def test_a_manager_may_not_authorise_their_own_recommendation_another_may(
        desk: Desk, people: dict[str, Person], cases: dict[str, Case], wire: Wire,
        shots: Path) -> None:
    case = cases["green-1"].case_id

    def own() -> tuple[str, str, str, str]:
        desk.login(people["manager"])
        desk.open(f"/cases/{case}")
        Select(desk.driver.find_element(By.ID, "rec-rag")).select_by_value(Rag.GREEN.value)
        Select(desk.driver.find_element(By.ID, "rec-outcome")).select_by_value("early-help")
        desk.fill("rec-rationale", "Needs are real but below the threshold for social care.")
        desk.submit("recommend")
        _, recommended = desk.verdict()
        desk.driver.find_element(By.ID, "dec-authorise").click()
        desk.submit("decide")
        kind, said = desk.verdict()
        desk.shot(shots, "refused-self-authorisation")
        return recommended, kind, said, desk.text("stage")

    recommended, kind, said, stage = await step(own)
    assert ACCEPTED + "recommended by mgr.bea, GREEN early help." in recommended
    assert "refused" in kind
    assert said.startswith("✖ " + REFUSED + "Command refused: you made the recommendation on "
                           "this case: another manager must authorise or override it"), said
    assert stage == "recommended"
    assert not await wire.wait_for((topics.DECISIONS,), on_case(case), timeout=0)

    def other() -> tuple[str, str, str]:
        desk.login(people["manager2"])
        desk.open(f"/cases/{case}")
        desk.driver.find_element(By.ID, "dec-authorise").click()
        desk.submit("decide")
        kind, said = desk.verdict()
        return kind, said, desk.text("stage")

    kind, said, stage = await step(other)
    assert "accepted" in kind
    assert ACCEPTED + "authorised by mgr.cal, GREEN early help." in said
    assert stage == "decided"
    [(_, raw)] = await wire.wait_for((topics.DECISIONS,), on_case(case), timeout=30)
    decision = DecisionMade.model_validate_json(raw).data
    assert (decision.decided_by, decision.rag.value, decision.outcome.value,
            decision.recommended_rag) == ("mgr.cal", "GREEN", "early-help", Rag.GREEN)
    [(topic, out)] = await wire.wait_for(topics.OUTCOME_TOPICS, on_case(case), timeout=30)
    assert topic == topics.OUTCOMES_EARLY_HELP
    assert OutcomeRouted.model_validate_json(out).data.decided_by == "mgr.cal"


async def test_an_override_without_a_rationale_is_refused_and_nothing_changes(
        desk: Desk, people: dict[str, Person], cases: dict[str, Case], wire: Wire) -> None:
    case = cases["red-1"].case_id

    def steps() -> tuple[list[str], str, str, str, list[str]]:
        desk.login(people["manager2"])
        desk.open(f"/cases/{case}")
        before = desk.history()
        desk.driver.find_element(By.ID, "dec-override").click()
        Select(desk.driver.find_element(By.ID, "dec-rag")).select_by_value(Rag.GREEN.value)
        Select(desk.driver.find_element(By.ID, "dec-outcome")).select_by_value("nfa")
        desk.fill("dec-rationale", "")
        desk.submit("decide")
        kind, said = desk.verdict()
        desk.open(f"/cases/{case}")
        return before, kind, said, desk.text("stage"), desk.history()

    before, kind, said, stage, after = await step(steps)
    assert "refused" in kind
    assert "an override needs a rationale" in said
    assert "Nothing was sent" in said
    assert stage == "awaiting decision"
    assert before
    assert after == before
    assert not await wire.mongo["mash_desk"].outbox.count_documents(
        {"topic": topics.DECISION_COMMANDS, "key": case}), "the desk queued no command"
    assert not [v for _, v in await wire.read(topics.DECISION_COMMANDS)
                if on_case(case)("", v)], "no command was published"
    stored = await wire.mongo["mash_decision"].cases.find_one({"_id": case})
    assert stored is not None
    assert (stored["state"], stored.get("decision")) == ("proposed", None)


async def test_a_police_researcher_sees_police_enquiries_and_nothing_else(
        desk: Desk, people: dict[str, Person], cases: dict[str, Case]) -> None:
    case = cases["red-2"].case_id

    def steps() -> dict[str, object]:
        desk.login(people["police"])
        seen: dict[str, object] = {"home": desk.path, "listed": desk.text("enquiries")}
        desk.driver.find_element(By.CSS_SELECTOR, f"a[href='/enquiries/police/{case}']").click()
        seen["own"] = desk.heading()
        seen["status"] = {path: desk.status(path) for path in (
            f"/enquiries/police/{case}", f"/enquiries/health/{case}", f"/cases/{case}", "/tray")}
        desk.open(f"/enquiries/health/{case}")
        seen["health"] = (desk.heading(), desk.main())
        desk.open(f"/cases/{case}")
        seen["case"] = (desk.heading(), desk.main())
        return seen

    seen = await step(steps)
    assert seen["home"] == "/enquiries"
    assert all(c.case_id in str(seen["listed"]) for c in cases.values())
    assert seen["own"] == f"Enquiry to police on {case} ▲ RED"
    assert seen["status"] == {f"/enquiries/police/{case}": 200, f"/enquiries/health/{case}": 403,
                              f"/cases/{case}": 403, "/tray": 403}
    heading, text = seen["health"]  # type: ignore[misc]
    assert heading == "Not available"
    assert "You see your own agency's enquiries only." in text
    heading, text = seen["case"]  # type: ignore[misc]
    assert heading == "Not available"
    assert "A case's page is for the MASH team" in text
    assert case not in text
