"""The threshold rules as data: every rule, the engine's refusals, and
realistic vignettes a MASH sees every week."""

from datetime import date

import pytest

from contracts.agencies import agencies
from contracts.contact import Rag
from contracts.events import FindingData, Outcome
from judgement import Facts, load
from judgement import rulelist as thresholds
from tests.factories import contact
from tests.unit.test_decision_domain import BABY, UNBORN, finding, no_trace_except

RULESET = load("2026.11-1")
assert isinstance(RULESET, thresholds.RuleSet)
ON = date(2026, 11, 20)


def fired(findings: dict[str, FindingData] | None = None, **overrides: object) -> list[str]:
    facts = Facts(contact(**overrides), findings if findings is not None else no_trace_except(),
                  [], ON)
    _, rules = RULESET.evaluate(facts)
    return [r.rule_id for r in rules]


def strongest(findings: dict[str, FindingData] | None = None, **overrides: object
              ) -> thresholds.Rule:
    facts = Facts(contact(**overrides), findings if findings is not None else no_trace_except(),
                  [], ON)
    return RULESET.evaluate(facts)[0]


def test_the_current_rule_set_is_versioned_and_every_rule_has_words() -> None:
    assert RULESET.version == "2026.11-1"
    assert [r.rule_id for r in RULESET.rules] == [
        "R1-HARM", "R2-DA-BABY", "R3-MULTI-HIGH", "R4-COMPLEX", "R5-DA-HIGH", "R6-REFERRER-RED",
        "R7-KNOWN-EARLY-HELP", "R9-SINGLE-AGENCY", "R8-NFA"]
    for rule in RULESET.rules:
        assert len(rule.text.split()) >= 8, rule.rule_id
        assert 1 <= rule.level <= 4
    assert "N1-AGENCIES-MISSING" in RULESET.notes


def test_levels_of_need_follow_the_outcome() -> None:
    level = {r.outcome: r.level for r in RULESET.rules}
    assert level[Outcome.STRATEGY_DISCUSSION] == 4
    assert level[Outcome.ASSESSMENT] == 3
    assert level[Outcome.EARLY_HELP] == 2
    assert level[Outcome.NFA] == level[Outcome.SINGLE_AGENCY] == 1


@pytest.mark.parametrize("code", ["18B", "18C", "19B", "19C", "11A", "12A", "22A", "24A", "23A"])
def test_r1_every_significant_harm_code(code: str) -> None:
    assert strongest(concerns=[code]).rule_id == "R1-HARM"


def test_r2_needs_all_three_conditions() -> None:
    high = no_trace_except(police=("high",))
    assert strongest(high, concerns=["3B"], children=BABY).rule_id == "R2-DA-BABY"
    assert strongest(high, concerns=["3B"]).rule_id == "R5-DA-HIGH"             # no baby
    assert strongest(concerns=["3B"], children=BABY).rule_id != "R2-DA-BABY"    # no record
    assert strongest(high, concerns=["20"], children=BABY).rule_id != "R2-DA-BABY"  # not DA


def test_r2_counts_a_child_of_estimated_age_one() -> None:
    baby = [{"given_name": "B", "family_name": "Smith", "estimated_age": 1}]
    assert strongest(no_trace_except(police=("high",)), concerns=["3A"],
                     children=baby).rule_id == "R2-DA-BABY"


def test_r3_needs_two_high_risk_agencies_and_complex_need() -> None:
    two = no_trace_except(health=("high",), police=("high",))
    assert strongest(two, concerns=["17A"]).rule_id == "R3-MULTI-HIGH"
    assert "R3-MULTI-HIGH" not in fired(two, concerns=["20"], referrer_rag=None)
    assert "R3-MULTI-HIGH" not in fired(no_trace_except(health=("high",)), concerns=["17A"])


@pytest.mark.parametrize("code", ["16A", "17A", "10A", "15A", "13A", "9A"])
def test_r4_every_complex_need_code(code: str) -> None:
    assert strongest(concerns=[code]).rule_id == "R4-COMPLEX"


def test_r6_only_for_a_red_referrer() -> None:
    assert strongest(concerns=["20"], referrer_rag="RED").rule_id == "R6-REFERRER-RED"
    assert "R6-REFERRER-RED" not in fired(concerns=["20"], referrer_rag="AMBER")


def test_r7_not_when_no_factors_were_identified() -> None:
    two = no_trace_except(health=("medium",), housing=("medium",))
    assert strongest(two, concerns=["20"], referrer_rag=None).rule_id == "R7-KNOWN-EARLY-HELP"
    assert strongest(two, concerns=["21"], referrer_rag=None).rule_id != "R7-KNOWN-EARLY-HELP"


def test_r9_the_referrers_own_agency_alone_holds_a_concern() -> None:
    own = no_trace_except(police=("medium",))
    rule = strongest(own, concerns=["20"], referrer_rag=None)
    assert (rule.rule_id, rule.rag, rule.outcome, rule.level) == \
        ("R9-SINGLE-AGENCY", Rag.GREEN, Outcome.SINGLE_AGENCY, 1)
    assert rule.advice
    high = no_trace_except(police=("high",))  # a high-risk record is more than single-agency
    assert "R9-SINGLE-AGENCY" not in fired(high, concerns=["20"], referrer_rag=None)
    other = no_trace_except(health=("medium",))  # a partner, not the referrer, holds it
    assert strongest(other, concerns=["20"], referrer_rag=None).rule_id == "R8-NFA"


def test_r8_always_applies_last_and_carries_signposting() -> None:
    rule = strongest(concerns=["21"], referrer_rag=None)
    assert rule.rule_id == "R8-NFA"
    assert rule.advice is not None
    assert "universal services" in rule.advice
    assert fired(concerns=["19C"])[-1] == "R8-NFA"


def test_missing_agencies_are_a_note_with_their_names() -> None:
    facts = Facts(contact(), {"police": finding("police")}, ["health", "housing"], ON)
    _, reasons = RULESET.reasons(facts)
    assert reasons[-1].rule_id == "N1-AGENCIES-MISSING"
    assert "health, housing" in reasons[-1].text


# --- vignettes ---------------------------------------------------------------

def test_vignette_police_domestic_abuse_notification_with_a_baby_in_the_home() -> None:
    # Police attend a domestic incident; a 6-month-old is in the home; probation
    # supervises the father for violence (high risk).
    rule = strongest(no_trace_except(probation=("high",), police=("medium",)),
                     concerns=["3B"], children=BABY, referrer_rag="AMBER")
    assert (rule.rule_id, rule.rag, rule.outcome) == \
        ("R2-DA-BABY", Rag.RED, Outcome.STRATEGY_DISCUSSION)


def test_vignette_police_domestic_abuse_pregnant_mother_nobody_else_knows() -> None:
    rule = strongest(concerns=["3B"], children=UNBORN, referrer_rag="GREEN")
    assert (rule.rule_id, rule.outcome) == ("R8-NFA", Outcome.NFA)


def test_vignette_school_disclosure_of_sexual_abuse() -> None:
    rule = strongest(concerns=["19C"], referrer={"agency": "education", "source_code": "2A"},
                     consent={"state": "not_sought", "reason": "would place the child at risk"},
                     referrer_rag=None, urgency="immediate")
    assert (rule.rule_id, rule.rag, rule.level) == ("R1-HARM", Rag.RED, 4)


def test_vignette_missed_health_appointments_with_consent() -> None:
    # A health visitor: three missed appointments, consent given; health and
    # housing both hold records of concern (rent arrears, missed checks).
    rule = strongest(no_trace_except(health=("medium", "low"), housing=("medium",)),
                     concerns=["20"], referrer={"agency": "health", "source_code": "3B"},
                     consent={"state": "given"}, referrer_rag=None, channel="portal")
    assert (rule.rule_id, rule.outcome, rule.level) == \
        ("R7-KNOWN-EARLY-HELP", Outcome.EARLY_HELP, 2)


def test_vignette_missed_appointments_only_health_knows_the_family() -> None:
    rule = strongest(no_trace_except(health=("medium",)), concerns=["20"],
                     referrer={"agency": "health", "source_code": "3B"},
                     consent={"state": "given"}, referrer_rag=None)
    assert rule.outcome is Outcome.SINGLE_AGENCY


def test_vignette_anonymous_neglect_call() -> None:
    rule = strongest(concerns=["16A"], channel="phone", referrer_rag=None,
                     referrer={"agency": "public", "source_code": "9", "anonymous": True},
                     consent={"state": "not_sought", "reason": "anonymous caller"})
    assert (rule.rule_id, rule.rag, rule.outcome) == ("R4-COMPLEX", Rag.AMBER, Outcome.ASSESSMENT)


def test_vignette_child_missing_and_exploited_known_to_police_and_school() -> None:
    rule = strongest(no_trace_except(police=("high",), education=("high",)),
                     concerns=["10A", "24A"], referrer_rag="RED")
    assert rule.rule_id == "R1-HARM"
    assert fired(no_trace_except(police=("high",), education=("high",)),
                 concerns=["10A", "24A"], referrer_rag="RED")[:4] == \
        ["R1-HARM", "R3-MULTI-HIGH", "R4-COMPLEX", "R6-REFERRER-RED"]


def test_vignette_low_level_police_notification_unknown_to_partners() -> None:
    rule = strongest(concerns=["3C"], referrer_rag="GREEN")
    assert (rule.rule_id, rule.outcome) == ("R8-NFA", Outcome.NFA)


def test_a_further_contact_on_the_case_counts_in_the_facts() -> None:
    first = contact(concerns=["20"], referrer_rag=None)
    second = contact(contact_id="C-0002", concerns=["16A"], referrer_rag=None)
    facts = Facts(first, no_trace_except(), [], ON, added=(second,))
    assert RULESET.evaluate(facts)[0].rule_id == "R4-COMPLEX"


# --- the engine refuses what it cannot evaluate ------------------------------

BASE = """
version = "t-1"
[sets]
harm = ["19C"]
"""


def test_an_unknown_condition_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="unknown condition"):
        thresholds.parse(BASE + """
[[rule]]
id = "X"
text = "x"
rag = "RED"
outcome = "nfa"
level = 1
when = { concerns_anywhere = ["harm"] }
""")


def test_an_unknown_set_or_a_last_rule_that_may_not_apply_is_refused() -> None:
    rule = """
[[rule]]
id = "X"
text = "x"
rag = "RED"
outcome = "nfa"
level = 1
when = {{ {when} }}
"""
    with pytest.raises(ValueError, match="unknown concern set"):
        thresholds.parse(BASE + rule.format(when='concerns_any = ["nope"]'))
    with pytest.raises(ValueError, match="last rule must always apply"):
        thresholds.parse(BASE + rule.format(when='concerns_any = ["harm"]'))
    with pytest.raises(ValueError, match="level of need"):
        thresholds.parse(BASE + rule.format(when="always = true").replace("level = 1",
                                                                            "level = 5"))
    with pytest.raises(ValueError, match=r"PURPLE"):
        thresholds.parse(BASE + rule.format(when="always = true").replace('"RED"', '"PURPLE"'))


def test_every_agency_can_be_absent_without_breaking_the_rules() -> None:
    facts = Facts(contact(), {}, list(agencies()), ON)
    rule, reasons = RULESET.reasons(facts)
    assert rule.rule_id == "R8-NFA"
    assert reasons[-1].rule_id == "N1-AGENCIES-MISSING"
