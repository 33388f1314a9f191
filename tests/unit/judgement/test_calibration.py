"""The calibration set holds every rule set `make test` runs with: no
dangerous downgrade, exact RAG at least 90%, outcome at least 85%."""

import tomllib
from pathlib import Path

from contracts.contact import ConsentState, Rag
from judgement import load
from judgement.calibration import DISCLOSURE, MIN_EXACT_RAG, MIN_OUTCOME, check, load_vignettes

ROOT = Path(__file__).resolve().parents[3]
VIGNETTES = ROOT / "tests" / "fixtures" / "vignettes"


def test_the_calibration_set_is_large_and_has_pairs() -> None:
    vignettes = load_vignettes(VIGNETTES)
    assert len(vignettes) >= 80
    by_id = {v.vignette_id: v for v in vignettes}
    kinds = [v.differs_in for v in vignettes if v.pair]
    assert kinds.count("agency history") >= 8
    assert kinds.count("consent") >= 8
    for v in vignettes:
        if v.pair:
            assert by_id[v.pair].pair == v.vignette_id


def test_the_current_rule_set_agrees_with_practice() -> None:
    agreement = check(load(), load_vignettes(VIGNETTES))
    assert not agreement.downgrades, [v.vignette.vignette_id for v in agreement.downgrades]
    assert agreement.share("exact") >= MIN_EXACT_RAG
    assert agreement.share("outcome_agrees") >= MIN_OUTCOME
    assert agreement.failures() == []


def test_the_old_rule_list_fails_the_same_check() -> None:
    """The check can fail: 2026.11-1 decided the cases this set was written for."""
    agreement = check(load("2026.11-1"), load_vignettes(VIGNETTES))
    assert agreement.downgrades
    assert any("dangerous downgrade" in why for why in agreement.failures())


def test_calibration_discloses_as_the_research_services_default_policy() -> None:
    policy = tomllib.loads((ROOT / "services" / "research" / "policies" / "default.toml")
                           .read_text(encoding="utf-8"))
    for rag in Rag:
        for consent in ConsentState:
            assert DISCLOSURE[rag][consent] == policy["levels"][rag.value][consent.value]
