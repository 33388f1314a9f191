"""Who sent a contact: signature, signer, source, time window, replay words."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.signing import new_key, owns, sign, signer_for_source, signers
from mash.keys import KeyProblem, KeyRing, new_pair, public_file
from plumbing.guard import Unusable
from services.intake import problems
from services.intake.authenticity import authenticate, replay

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
POLICE, HEALTH = new_key(), new_key()
KEYS = {"police": POLICE.public_key(), "health": HEALTH.public_key()}


def body(source: str = "/agency/police/thames-valley", at: datetime = NOW) -> bytes:
    return json.dumps({"id": "e-1", "source": source, "time": at.isoformat()}).encode()


def reason(value: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(Unusable) as caught:
        authenticate(value, headers, KEYS, NOW, WINDOW)
    return problems.plain(caught.value)[0][1]


def test_an_authentic_contact_names_its_signer() -> None:
    value = body()
    assert authenticate(value, sign(POLICE, "police", value), KEYS, NOW, WINDOW) == "police"


def test_unsigned_forged_and_unknown_signers_are_refused_in_plain_words() -> None:
    value = body()
    assert reason(value, {}).startswith("not signed")
    assert reason(value, sign(HEALTH, "police", value)).startswith("signature does not match")
    tampered = value.replace(b"e-1", b"e-2")
    assert reason(tampered, sign(POLICE, "police", value)).startswith("signature does not match")
    assert "no public key" in reason(value, sign(POLICE, "mallory", value))


def test_a_signer_may_not_speak_for_another_source() -> None:
    value = body("/agency/health")
    assert reason(value, sign(POLICE, "police", value)) == \
        "signed by police but claims to come from /agency/health"
    prefix_trick = body("/agency/policeX")
    assert "claims to come from" in reason(prefix_trick, sign(POLICE, "police", prefix_trick))


def test_a_contact_outside_the_time_window_is_refused() -> None:
    for at in (NOW - timedelta(minutes=11), NOW + timedelta(minutes=11)):
        value = body(at=at)
        said = reason(value, sign(POLICE, "police", value))
        assert said.startswith(f"sent {at.isoformat()} outside the 10-minute window")
    inside = body(at=NOW - timedelta(minutes=9))
    assert authenticate(inside, sign(POLICE, "police", inside), KEYS, NOW, WINDOW) == "police"


def test_signed_but_unreadable_passes_on_to_validation() -> None:
    note = b"Phoned in: worried about the children next door"
    assert authenticate(note, sign(POLICE, "police", note), KEYS, NOW, WINDOW) == "police"


def test_replay_words_and_the_signer_travel_with_the_rejection() -> None:
    error = replay("police", "e-1", NOW)
    assert problems.plain(error) == [
        ("id", "already received: replay of event e-1 first received 2026-11-22T09:30:00+00:00")]
    assert error.facts["signer"] == "police"


def test_signers_are_the_agencies_and_the_channels() -> None:
    assert {"police", "health", "contact-centre", "early-help", "other-la"} <= set(signers())
    assert signer_for_source("/la/contact-centre") == "contact-centre"
    assert signer_for_source("/agency/health/gp/K81001") == "health"
    assert signer_for_source("/agency/nobody") is None
    assert owns("other-la", "/la/other/camden")


def test_keys_new_refuses_to_overwrite_and_signs(tmp_path: Path) -> None:
    path = new_pair(tmp_path, "police")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeyProblem):
        new_pair(tmp_path, "police")
    with pytest.raises(KeyProblem):
        new_pair(tmp_path, "mallory")
    new_pair(tmp_path, "health")
    assert '"police"' in public_file(tmp_path).read_text()
    from contracts.signing import load_public_keys

    keys = load_public_keys(public_file(tmp_path))
    value = body()
    headers = KeyRing(tmp_path).headers("police", value)
    assert authenticate(value, headers, keys, NOW, WINDOW) == "police"
    new_pair(tmp_path, "police", force=True)
    renewed = load_public_keys(public_file(tmp_path))
    with pytest.raises(Unusable):
        authenticate(value, headers, renewed, NOW, WINDOW)


def test_a_service_signing_key_is_its_own_and_only_a_services(tmp_path: Path) -> None:
    from contracts.signing import load_private, load_public_keys, sign, signature_valid
    from mash.keys import ensure_service_keys, new_service_pair, service_key_file, services_file

    path = new_service_pair(tmp_path, "research-police")
    assert path == service_key_file(tmp_path, "research-police")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeyProblem, match="is not a service"):
        new_service_pair(tmp_path, "police")  # a sender, not a service
    with pytest.raises(KeyProblem, match="exists"):
        new_service_pair(tmp_path, "research-police")
    assert ensure_service_keys(tmp_path, ["research-police", "research-health"]) == \
        ["research-health"]
    keys = load_public_keys(services_file(tmp_path))
    assert set(keys) == {"research-police", "research-health"}
    headers = sign(load_private(path), "research-police", b"finding")
    assert signature_valid(keys, "research-police", headers["mash-signature"], b"finding")
    assert not signature_valid(keys, "research-health", headers["mash-signature"], b"finding")
    # Senders' keys are elsewhere: intake never trusts a service to send contacts.
    assert not public_file(tmp_path).exists()
