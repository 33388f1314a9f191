"""The continuum of need (rule set 2026.12-1): the cases that went wrong
under 2026.11-1, the floors, the explanation, and a file that cannot load."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts.codes import cin_factors
from contracts.contact import Contact, Rag
from contracts.events import FindingData, FindingItem, Outcome
from judgement import CURRENT_VERSION, Facts, load, parse
from judgement.continuum import Continuum
from judgement.model import RULES_DIR

ON = date(2026, 11, 16)
MODEL = load()
ORDER = [Rag.GREEN, Rag.AMBER, Rag.RED]


def contact(**overrides: Any) -> Contact:
    base: dict[str, Any] = {
        "contact_id": "C-1", "referrer_reference": "R-1",
        "received_at": datetime(2026, 11, 16, 10, tzinfo=UTC), "channel": "portal",
        "referrer": {"agency": "health", "source_code": "3B"},
        "children": [{"given_name": "Ava", "family_name": "Hart", "date_of_birth": "2019-04-02"}],
        "household": [{"given_name": "Kerry", "family_name": "Hart", "relationship": "mother"}],
        "concerns": ["20"], "analysis": "Health visitor contact.", "consent": {"state": "given"}}
    base.update(overrides)
    return Contact.model_validate(base)


def held(agency: str, *items: tuple[str, str, str]) -> dict[str, FindingData]:
    return {agency: FindingData(
        enquiry_id=f"e-{agency}", case_id="C", agency=agency, result="trace",
        items=[FindingItem(person_ref=who, category=cat, risk=risk, summary=None,
                           occurred_on=None) for who, cat, risk in items],
        disclosure_level="known-only", lawful_basis="x",
        answered_at=datetime(2026, 11, 16, 11, tzinfo=UTC))}


UNBORN = [{"given_name": "Baby", "family_name": "Hart", "expected_date_of_delivery": "2027-03-01"}]
SIX_WEEKS = [{"given_name": "Theo", "family_name": "Hart", "date_of_birth": "2026-10-05"}]


def test_the_current_rule_set_is_a_continuum_that_maps_every_cin_factor() -> None:
    assert MODEL.version == CURRENT_VERSION
    assert isinstance(MODEL, Continuum)
    assert set(MODEL.factors) == set(cin_factors())


def test_a_rule_set_missing_a_cin_factor_is_refused_whole() -> None:
    text = (RULES_DIR / f"{CURRENT_VERSION}.toml").read_text(encoding="utf-8")
    without = "\n".join(line for line in text.splitlines() if not line.startswith('"16A"'))
    with pytest.raises(ValueError, match="16A"):
        parse(without)


@pytest.mark.parametrize(("find", "replace", "why"), [
    ('when = { flags_any = ["acute"] }', 'when = { flags_anywhere = ["acute"] }',
     "unknown condition"),
    ('"21" = { domain = "family-and-environment", level = 1,',
     '"21" = { domain = "family-and-environment", level = 5,', "1-4"),
    ("patterns = ['\\bsexualised\\b'", "patterns = ['(unclosed'", "sexualised-behaviour"),
    ('trio = "substance"', 'trio = "gambling"', "trio"),
])
def test_a_rule_set_with_an_error_is_refused(find: str, replace: str, why: str) -> None:
    text = (RULES_DIR / f"{CURRENT_VERSION}.toml").read_text(encoding="utf-8")
    assert find in text
    with pytest.raises(ValueError, match=why):
        parse(text.replace(find, replace, 1))


# --- the cases 2026.11-1 got wrong ----------------------------------------------------

def test_an_unborn_baby_whose_mother_had_a_child_removed_goes_to_a_strategy_discussion() -> None:
    c = contact(concerns=["2B"], children=UNBORN,
                analysis="Booked at 16 weeks; mother says she uses heroin most days.")
    j = MODEL.judge(Facts(c, held("childrens-social-care", ("adult-0", "care-order", "high")),
                          on=ON))
    assert (j.rag, j.outcome) == (Rag.RED, Outcome.STRATEGY_DISCUSSION)
    assert "C-PREBIRTH-REMOVAL" in [r.rule_id for r in j.reasons]
    # The same contact without that history still needs a pre-birth assessment.
    alone = MODEL.judge(Facts(c, on=ON))
    assert (alone.rag, alone.outcome) == (Rag.AMBER, Outcome.ASSESSMENT)


def test_young_children_left_unfed_with_a_parent_intoxicated_is_acute_danger() -> None:
    c = contact(concerns=["16A"], referrer={"agency": "public", "source_code": "1B"},
                consent={"state": "not_sought"},
                children=[{"given_name": "A", "family_name": "B", "estimated_age": 3}],
                analysis="Neighbour found the toddler unfed and crying at 9pm; mother was "
                         "intoxicated on the sofa and the flat is unsafe with exposed wires.")
    j = MODEL.judge(Facts(c, on=ON))
    assert j.rag is Rag.RED
    assert "C-ACUTE-DANGER" in [r.rule_id for r in j.reasons]


def test_a_police_amber_third_domestic_call_is_never_proposed_below_amber() -> None:
    c = contact(concerns=["3B"], referrer={"agency": "police", "source_code": "6"},
                referrer_rag="AMBER", consent={"state": "not_sought"},
                analysis="Domestic abuse, two children present, third call to this address "
                         "in six months.")
    j = MODEL.judge(Facts(c, on=ON))
    assert (j.rag, j.outcome) == (Rag.AMBER, Outcome.ASSESSMENT)
    assert "C-REPEAT" in [r.rule_id for r in j.reasons]


def test_a_family_asking_for_help_with_consent_gets_early_help_and_without_it_advice() -> None:
    asking = contact(concerns=["4B"], kind="early-help-request",
                     referrer={"agency": "education", "source_code": "2A"},
                     analysis="Mum is asking for help with routines; her low mood is back.")
    j = MODEL.judge(Facts(asking, on=ON))
    assert (j.rag, j.outcome) == (Rag.GREEN, Outcome.EARLY_HELP)
    refused = MODEL.judge(Facts(asking.model_copy(update={"consent": asking.consent.model_copy(
        update={"state": "refused"})}), on=ON))
    assert (refused.rag, refused.outcome) == (Rag.GREEN, Outcome.SINGLE_AGENCY)
    assert refused.advice is not None
    assert "only be offered with the family's consent" in \
        refused.advice


def test_any_bruise_on_a_non_mobile_baby_is_a_strategy_discussion() -> None:
    c = contact(children=SIX_WEEKS, analysis="Small bruise on the baby's left cheek; "
                                             "parents cannot explain it.")
    j = MODEL.judge(Facts(c, on=ON))
    assert (j.rag, j.outcome) == (Rag.RED, Outcome.STRATEGY_DISCUSSION)
    assert "C-NON-MOBILE-INJURY" in [r.rule_id for r in j.reasons]


def test_a_denied_indicator_is_not_an_indicator() -> None:
    c = contact(children=SIX_WEEKS, analysis="Routine visit. No bruises or marks seen; "
                                             "no concerns about care.")
    j = MODEL.judge(Facts(c, on=ON))
    assert j.rag is Rag.GREEN
    assert j.explanation is not None
    assert "injury" not in [i.indicator for i in j.explanation.indicators]


# --- floors ------------------------------------------------------------------------------

@pytest.mark.parametrize("floor", list(Rag))
@pytest.mark.parametrize("concerns", [["21"], ["20"], ["3B"], ["16A"], ["19C"]])
def test_the_referrers_rating_and_triage_are_floors(floor: Rag, concerns: list[str]) -> None:
    for given in ({"referrer_rag": floor.value}, {}):
        facts = Facts(contact(concerns=concerns, **given), on=ON,
                      triage_rag=None if given else floor)
        j = MODEL.judge(facts)
        assert ORDER.index(j.rag) >= ORDER.index(floor), (concerns, floor, given)
        assert j.explanation is not None
        if j.floored:
            assert any(f.applied and f.rag is floor for f in j.explanation.floors)
            assert any(r.rule_id.startswith("FLOOR-") for r in j.reasons)


# --- one model: intake's triage is the decision's proposal on the contact alone -----------

def test_intake_triages_with_the_same_model() -> None:
    from services.intake import domain as intake

    for c in (contact(concerns=["2B"], children=UNBORN),
              contact(concerns=["3B"], referrer={"agency": "police", "source_code": "6"},
                      referrer_rag="AMBER"),
              contact(concerns=["19C"])):
        assert intake.triage(c) is MODEL.judge(Facts(c)).rag


# --- explanation ------------------------------------------------------------------------------

def test_the_explanation_names_indicators_sources_floors_and_missing_evidence() -> None:
    c = contact(concerns=["3B", "2B"], referrer_rag="AMBER",
                analysis="Second incident this month; father was drunk and threatened to kill her.")
    findings = held("police", ("adult-0", "domestic-abuse-incident", "medium"),
                    ("adult-0", "marac-flag", "high"))
    j = MODEL.judge(Facts(c, findings, missing=["health"], on=ON, triage_rag=Rag.AMBER))
    e = j.explanation
    assert e is not None
    sources = {(i.indicator, i.source) for i in e.indicators}
    assert ("cin-3B", "contact") in sources
    assert ("marac", "police") in sources
    assert ("serious-violence", "contact analysis") in sources
    assert {i.domain.value for i in e.indicators} >= {"family-and-environment",
                                                       "parenting-capacity"}
    assert "C-TOXIC-TRIO" in [x.rule_id for x in e.combinations]
    assert [f.floor for f in e.floors] == ["referrer", "triage"]
    assert e.missing == ["health"]
    assert j.version == "2026.12-1"
    assert "N1-AGENCIES-MISSING" in [r.rule_id for r in j.reasons]
