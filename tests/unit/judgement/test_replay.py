"""A threshold change replayed on recorded cases: what would change, which
way, what would fall below a floor or a person's decision, and the facts as
they stood when the case was judged (no broker, no database)."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.contact import Rag
from contracts.events import CaseOpenedData, FindingData, FindingItem, Outcome
from judgement import Facts, load, named, parse
from judgement.model import RULES_DIR
from judgement.replay import Recorded, facts_of, replay, replay_documents
from mash.replay import render
from services.decision import domain
from tests.factories import contact

# A rule list small enough to see what each case should get: harm is RED,
# everything else GREEN, and no floors (as the 2026.11 format had none).
HARM_OR_NOTHING = parse("""
version = "test-1"
[sets]
harm = ["18C"]
[[rule]]
id = "T1-HARM"
text = "Physical abuse by an adult."
rag = "RED"
outcome = "strategy-discussion-s47"
level = 4
when = { concerns_any = ["harm"] }
[[rule]]
id = "T2-NFA"
text = "Nothing else."
rag = "GREEN"
outcome = "nfa"
level = 1
when = { always = true }
""")
ON = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 10, tzinfo=UTC)


def recorded(case_id: str, rag: Rag, outcome: Outcome, *, concerns: list[str] | None = None,
             referrer_rag: Rag | None = None, triage: Rag | None = None,
             decided: tuple[Rag, Outcome, str] | None = None) -> Recorded:
    facts = Facts(contact(concerns=concerns or ["3B"], referrer_rag=referrer_rag), {}, [], ON,
                  triage_rag=triage)
    return Recorded(case_id, facts, rag, outcome, "2026.11-1",
                    decided_rag=decided[0] if decided else None,
                    decided_outcome=decided[1] if decided else None,
                    decided_by=decided[2] if decided else None)


def test_changes_are_listed_and_counted_by_direction() -> None:
    result = replay(HARM_OR_NOTHING, [
        recorded("UP", Rag.AMBER, Outcome.ASSESSMENT, concerns=["18C"]),
        recorded("DOWN", Rag.AMBER, Outcome.ASSESSMENT),
        recorded("SAME", Rag.GREEN, Outcome.NFA),
        recorded("OUTCOME", Rag.GREEN, Outcome.EARLY_HELP),
    ])
    assert result.replayed == 4
    assert dict(result.directions) == {"up": 1, "down": 1, "same": 2}
    assert result.outcome_changed == 3
    changes = {c.case_id: c for c in result.changes}
    assert set(changes) == {"UP", "DOWN", "OUTCOME"}
    up = changes["UP"]
    assert (up.old_rag, up.new_rag, up.direction, up.new_outcome) == (
        Rag.AMBER, Rag.RED, "up", Outcome.STRATEGY_DISCUSSION)
    assert up.rule_ids == ("T1-HARM",)
    assert changes["DOWN"].direction == "down"
    assert (changes["OUTCOME"].direction, changes["OUTCOME"].outcome_changed) == ("same", True)
    assert result.recorded_versions == {"2026.11-1": 4}


def test_a_rule_list_without_floors_is_reported_below_the_referrer_and_triage() -> None:
    result = replay(HARM_OR_NOTHING, [
        recorded("FLOORED", Rag.AMBER, Outcome.ASSESSMENT, referrer_rag=Rag.AMBER,
                 triage=Rag.RED),
        recorded("ABOVE", Rag.RED, Outcome.STRATEGY_DISCUSSION, concerns=["18C"],
                 referrer_rag=Rag.AMBER, triage=Rag.RED),
    ])
    assert [(b.case_id, b.rag, b.floor, b.floor_rag) for b in result.below_floor] == [
        ("FLOORED", Rag.GREEN, "referrer", Rag.AMBER), ("FLOORED", Rag.GREEN, "triage", Rag.RED)]
    assert not result.held_by_floor, "a rule list says nothing of its own indicators"


def test_a_continuum_holds_a_case_up_at_its_floor_and_says_so() -> None:
    # A vague concern the indicators rate GREEN; the referrer said RED.
    result = replay(load("2026.12-1"), [
        recorded("HELD", Rag.RED, Outcome.STRATEGY_DISCUSSION, concerns=["21"],
                 referrer_rag=Rag.RED)])
    assert not result.below_floor
    [held] = result.held_by_floor
    assert (held.case_id, held.floor, held.floor_rag) == ("HELD", "referrer", Rag.RED)
    assert held.rag is not Rag.RED


def test_a_person_s_decision_the_new_rules_would_undercut_is_listed_the_rules_own_is_not() -> None:
    result = replay(HARM_OR_NOTHING, [
        recorded("PERSON", Rag.GREEN, Outcome.NFA,
                 decided=(Rag.AMBER, Outcome.ASSESSMENT, "mgr-bob")),
        recorded("RULES", Rag.AMBER, Outcome.ASSESSMENT,
                 decided=(Rag.AMBER, Outcome.ASSESSMENT, "rules")),
    ])
    [below] = result.below_person
    assert (below.case_id, below.new_rag, below.decided_rag, below.decided_by) == (
        "PERSON", Rag.GREEN, Rag.AMBER, "mgr-bob")


# --- case documents -----------------------------------------------------------------

def _finding(agency: str, answered: datetime) -> dict[str, Any]:
    return FindingData(
        enquiry_id=f"e-{agency}", case_id="CASE-1", agency=agency, result="trace",
        items=[FindingItem(person_ref="adult-0", category="marac-flag", summary=None,
                           occurred_on=None, risk="high")],
        disclosure_level="full", lawful_basis="x", answered_at=answered).model_dump(mode="json")


def document(case_id: str = "CASE-1", **parts: Any) -> dict[str, Any]:
    c = contact(received_at=(AT - timedelta(hours=2)).isoformat())
    opened = CaseOpenedData(case_id=case_id, contact=c, expected_agencies=["police", "health"],
                            triage_rag=Rag.AMBER, opened_at=AT - timedelta(hours=2),
                            research_deadline=AT)
    doc: dict[str, Any] = {"_id": case_id, "opened": opened.model_dump(mode="json"),
                           "findings": {}, "state": "decided",
                           "proposal": {"rag": "AMBER", "outcome": "child-and-family-assessment",
                                        "rule_set_version": "2026.11-1",
                                        "proposed_at": AT.isoformat(), "number": 1},
                           "decision": {"rag": "RED", "outcome": "strategy-discussion-s47",
                                        "decided_by": "mgr-bob",
                                        "decided_at": (AT + timedelta(minutes=5)).isoformat()}}
    doc.update(parts)
    return doc


def test_facts_of_leaves_out_what_arrived_after_the_decision() -> None:
    late = AT + timedelta(days=1)
    later_contact = contact(contact_id="C-0002", concerns=["18C"], received_at=late.isoformat())
    doc = document(findings={"police": _finding("police", AT - timedelta(hours=1)),
                             "health": _finding("health", late)},
                   added=[{"contact": later_contact.model_dump(mode="json"), "reason": "re-contact",
                           "added_at": late.isoformat()}])
    case = facts_of(doc)
    assert case is not None
    assert set(case.facts.findings) == {"police"}
    assert case.facts.missing == ["health"]
    assert case.facts.added == ()
    assert case.facts.on == ON
    assert case.facts.triage_rag is Rag.AMBER
    assert (case.proposed_rag, case.decided_rag, case.decided_by) == (
        Rag.AMBER, Rag.RED, "mgr-bob")


def test_an_unreadable_document_is_counted_and_named_never_fatal() -> None:
    broken = document("BROKEN")
    broken["opened"]["contact"]["concerns"] = ["99Z"]
    gathering = document("GATHERING", proposal=None, decision=None, state="gathering")
    result = replay_documents(HARM_OR_NOTHING, [document("GOOD"), broken, gathering,
                                                {"_id": "ODD", "proposal": {"rag": "PURPLE"}}])
    assert result.replayed == 1
    assert result.not_proposed == 1
    assert [u.case_id for u in result.unreadable] == ["BROKEN", "ODD"]
    assert "concerns" in result.unreadable[0].problem
    text = "\n".join(render(result, read=4, seconds=0.1))
    assert "cases read 4: replayed 1, not yet proposed 1, unreadable 2" in text
    assert "BROKEN" in text


def test_the_decision_service_s_own_document_replays_to_what_it_recorded() -> None:
    """facts_of reads the service's format: the rules that proposed re-propose the same."""
    old = load("2026.11-1")
    policy = domain.Policy(auto_authorise=True, ruleset=old)
    case = domain.CaseRecord.model_validate(document(proposal=None, decision=None,
                                                     state="gathering"))
    step = domain.advance(case, AT - timedelta(hours=1), policy)
    for agency in ("police", "health"):
        rec = step.case.model_copy(deep=True)
        rec.findings[agency] = FindingData.model_validate(_finding(agency, AT))
        step = domain.finding(rec, agency, AT, policy, None)
    assert step.case.state == "decided"
    doc = step.case.model_dump(mode="json", by_alias=True)
    same = replay_documents(old, [doc])
    assert (same.replayed, same.changes, same.unreadable) == (1, [], [])
    assert same.recorded_versions == {"2026.11-1": 1}


def test_rules_are_a_file_or_a_version_name(tmp_path: Path) -> None:
    assert named(Path("2026.11-1")).version == "2026.11-1"
    assert named(RULES_DIR / "2026.12-1.toml").version == "2026.12-1"
    with pytest.raises(ValueError, match="no such rule set file"):
        named(tmp_path / "new.toml")
    with pytest.raises(ValueError, match="no rule set"):
        named(Path("2099.01-1"))
