from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.agencies import agencies
from contracts.contact import ConsentState, Rag
from services.research.policy import ORDER, load_policy


@pytest.mark.parametrize("agency", [*agencies(), "an-agency-without-a-file"])
def test_every_agency_has_a_complete_policy(agency: str) -> None:
    policy = load_policy(agency)
    assert policy.version
    for rag in Rag:
        for consent in ConsentState:
            assert policy.level(rag, consent) in ORDER


@pytest.mark.parametrize("agency", agencies())
def test_red_always_discloses_in_full_and_green_without_consent_only_known(agency: str) -> None:
    policy = load_policy(agency)
    for consent in ConsentState:
        assert policy.level(Rag.RED, consent) == "full"
    assert policy.level(Rag.GREEN, ConsentState.REFUSED) == "known-only"
    assert policy.level(Rag.GREEN, ConsentState.NOT_SOUGHT) == "known-only"


@pytest.mark.parametrize("agency", agencies())
def test_less_urgent_never_discloses_more(agency: str) -> None:
    policy = load_policy(agency)
    for consent in ConsentState:
        levels = [ORDER.index(policy.level(rag, consent))
                  for rag in (Rag.GREEN, Rag.AMBER, Rag.RED)]
        assert levels == sorted(levels)


def test_health_caps_mental_health_records_below_red() -> None:
    health = load_policy("health")
    assert health.level_for("mental-health", Rag.AMBER, ConsentState.GIVEN) == "summary"
    assert health.level_for("ae-attendance", Rag.AMBER, ConsentState.GIVEN) == "full"
    assert health.level_for("mental-health", Rag.RED, ConsentState.REFUSED) == "full"


def test_a_hub_can_point_at_its_own_policy(tmp_path: Path) -> None:
    (tmp_path / "police.toml").write_text(
        'version = "local-7"\n'
        '[levels.RED]\ngiven = "full"\nrefused = "full"\nnot_sought = "full"\n'
        '[levels.AMBER]\ngiven = "known-only"\nrefused = "known-only"\nnot_sought = "known-only"\n'
        '[levels.GREEN]\ngiven = "known-only"\nrefused = "known-only"\nnot_sought = "known-only"\n')
    policy = load_policy("police", tmp_path)
    assert policy.version == "local-7"
    assert policy.level(Rag.AMBER, ConsentState.GIVEN) == "known-only"


def test_a_broken_policy_is_refused_with_where(tmp_path: Path) -> None:
    (tmp_path / "police.toml").write_text('version = "x"\n[levels.RED]\ngiven = "everything"\n')
    with pytest.raises(ValidationError, match="levels"):
        load_policy("police", tmp_path)
    (tmp_path / "police.toml").write_text(
        'version = "x"\n[levels.RED]\ngiven = "full"\nrefused = "full"\nnot_sought = "full"\n')
    with pytest.raises(ValueError, match="no disclosure levels for AMBER, GREEN"):
        load_policy("police", tmp_path)
