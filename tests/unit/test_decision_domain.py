from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts.agencies import agencies
from contracts.contact import Rag
from contracts.events import CaseOpenedData, FindingData, FindingItem, Outcome
from judgement import Facts, load
from judgement.rulelist import Rule, RuleSet
from services.decision import domain
from tests.factories import contact

# The 2026.11 rule list, kept to compare and replay against.
RULE_LIST = load("2026.11-1")
assert isinstance(RULE_LIST, RuleSet)

NOW = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)


def finding(agency: str, *risks: str) -> FindingData:
    items = [FindingItem(person_ref="adult-0", category="record", summary=None,
                         occurred_on=None, risk=r) for r in risks]  # type: ignore[arg-type]
    return FindingData(enquiry_id=f"e-{agency}", case_id="CASE-1", agency=agency,
                       result="trace" if items else "no-trace", items=items,
                       disclosure_level="full", lawful_basis="x", answered_at=NOW)


def no_trace_except(**risks: tuple[str, ...]) -> dict[str, FindingData]:
    return {a: finding(a, *risks.get(a.replace("-", "_"), ())) for a in agencies()}


def decide(findings: dict[str, FindingData] | None = None, **overrides: Any) -> Rule:
    facts = Facts(contact(**overrides), findings if findings is not None
                  else no_trace_except(), [], date(2026, 11, 20))
    rule, _ = RULE_LIST.reasons(facts)
    return rule


BABY = [{"given_name": "Theo", "family_name": "Smith", "date_of_birth": "2026-03-01"}]
UNBORN = [{"given_name": "Baby", "family_name": "Smith", "expected_date_of_delivery": "2027-02-01"}]


def test_r1_school_disclosure_of_sexual_abuse_goes_to_strategy_discussion() -> None:
    rule = decide(concerns=["19C"], referrer={"agency": "education", "source_code": "2A"},
                  referrer_rag=None)
    assert (rule.rule_id, rule.rag, rule.outcome, rule.level) == \
        ("R1-HARM", Rag.RED, Outcome.STRATEGY_DISCUSSION, 4)


def test_r2_police_domestic_abuse_with_a_baby_and_a_high_risk_record() -> None:
    rule = decide(no_trace_except(probation=("high",)), concerns=["3B"], children=BABY)
    assert rule.rule_id == "R2-DA-BABY"
    assert rule.rag is Rag.RED


def test_r2_counts_an_unborn_baby() -> None:
    assert decide(no_trace_except(police=("high",)), concerns=["3B"],
                  children=UNBORN).rule_id == "R2-DA-BABY"


def test_r3_two_agencies_high_risk_on_a_neglect_contact() -> None:
    rule = decide(no_trace_except(health=("high",), education=("high",)), concerns=["16A"])
    assert rule.rule_id == "R3-MULTI-HIGH"


def test_r4_anonymous_neglect_call_is_assessed() -> None:
    rule = decide(concerns=["16A"], referrer={"agency": "public", "source_code": "9",
                                              "anonymous": True},
                  referrer_rag=None, consent={"state": "not_sought"})
    assert (rule.rule_id, rule.rag, rule.outcome) == ("R4-COMPLEX", Rag.AMBER, Outcome.ASSESSMENT)


def test_r5_domestic_abuse_with_one_high_risk_record_older_children() -> None:
    assert decide(no_trace_except(police=("high",)), concerns=["3B"]).rule_id == "R5-DA-HIGH"


def test_r6_a_red_referrer_is_not_rated_below_amber() -> None:
    rule = decide(concerns=["20"], referrer_rag="RED")
    assert (rule.rule_id, rule.rag) == ("R6-REFERRER-RED", Rag.AMBER)


def test_r7_missed_appointments_with_consent_and_known_family_offer_early_help() -> None:
    rule = decide(no_trace_except(health=("medium", "low"), housing=("medium",)),
                  concerns=["20"], referrer={"agency": "health", "source_code": "3B"},
                  consent={"state": "given"}, referrer_rag=None)
    assert (rule.rule_id, rule.rag, rule.outcome) == \
        ("R7-KNOWN-EARLY-HELP", Rag.GREEN, Outcome.EARLY_HELP)


def test_r8_low_level_police_notification_unknown_to_partners_is_nfa() -> None:
    rule = decide(concerns=["3B"], referrer_rag="GREEN")
    assert (rule.rule_id, rule.rag, rule.outcome, rule.level) == \
        ("R8-NFA", Rag.GREEN, Outcome.NFA, 1)


def test_every_rule_is_covered_and_has_words() -> None:
    ids = [r.rule_id for r in RULE_LIST.rules]
    assert len(ids) == len(set(ids))
    assert all(len(r.text.split()) >= 8 for r in RULE_LIST.rules)


def test_every_rule_that_fired_is_a_reason_and_the_strongest_comes_first() -> None:
    facts = Facts(contact(concerns=["19C", "16A"], referrer_rag="RED"),
                         no_trace_except(), [], date(2026, 11, 20))
    rule, reasons = RULE_LIST.reasons(facts)
    assert rule.rule_id == "R1-HARM"
    assert [r.rule_id for r in reasons] == ["R1-HARM", "R4-COMPLEX", "R6-REFERRER-RED"]


def opened(expected: list[str]) -> CaseOpenedData:
    return CaseOpenedData(case_id="CASE-1", contact=contact(), expected_agencies=expected,
                          triage_rag=Rag.AMBER, opened_at=NOW,
                          research_deadline=NOW + timedelta(hours=6))


def test_a_decision_at_the_deadline_names_who_did_not_answer() -> None:
    findings = {"police": finding("police")}
    event = domain.decision_event(opened(["police", "health"]), findings, "C-0001", NOW)
    assert event.data.agencies_missing == ["health"]
    assert event.data.agencies_answered == ["police"]
    assert event.data.reasons[-1].rule_id == domain.MISSING_RULE
    assert "health" in event.data.reasons[-1].text
    assert event.data.rule_set_version == domain.RULE_SET_VERSION
    assert event.data.decided_by == "rules"


def test_the_decision_names_children_by_initials_only() -> None:
    event = domain.decision_event(opened(["police"]), {"police": finding("police")}, "C", NOW)
    assert event.data.children == ["child-0 (A.S.)"]
    assert "Smith" not in event.model_dump_json()


@pytest.mark.parametrize(
    ("answered", "now", "ready"),
    [
        ({"police", "health"}, NOW, True),
        ({"police"}, NOW, False),
        ({"police"}, NOW + timedelta(hours=6), True),
        (set(), NOW + timedelta(hours=7), True),
    ],
)
def test_ready_when_everyone_answered_or_the_deadline_passed(answered: set[str], now: datetime,
                                                             ready: bool) -> None:
    assert domain.ready(["police", "health"], answered, NOW + timedelta(hours=6), now) is ready
