"""Decision takes a command only when the desk signed its exact bytes: the
desk authenticates who sends it, so a command from anywhere else names an
actor and a role nobody checked."""

from collections.abc import Mapping

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts.casework import COMMAND_SIGNER
from contracts.signing import SIGNATURE_HEADER, new_key, sign
from plumbing.guard import Unusable
from services.decision import provenance

DESK, OTHER = new_key(), new_key()
KEYS: dict[str, Ed25519PublicKey] = {COMMAND_SIGNER: DESK.public_key(), "research-police": OTHER.public_key()}
VALUE = (b'{"type": "mash.command.decide", "data": {"case_id": "CASE-1", '
         b'"actor": {"actor_id": "mgr-bob", "role": "manager"}, "action": "authorise"}}')


def refused(headers: dict[str, str], value: bytes = VALUE,
            keys: Mapping[str, Ed25519PublicKey] = KEYS) -> str:
    with pytest.raises(Unusable) as caught:
        provenance.check_command(value, headers, keys)
    assert caught.value.facts["reason"] == "not-authentic"
    [(_, problem)] = caught.value.problems
    return problem


def test_a_command_the_desk_signed_is_taken() -> None:
    provenance.check_command(VALUE, sign(DESK, COMMAND_SIGNER, VALUE), KEYS)  # no Unusable


def test_an_unsigned_command_is_refused() -> None:
    expected = ("not signed by the desk: commands are accepted only from the MASH desk, which "
                "authenticates who sends them")
    assert refused({}) == expected
    assert refused({"mash-signer": COMMAND_SIGNER}) == expected  # a name, and no signature


def test_a_command_signed_by_anyone_else_is_refused() -> None:
    # A research service's own valid key is not the desk's.
    assert refused(sign(OTHER, "research-police", VALUE)) == (
        "signed by research-police, not by the desk: commands are accepted only from the "
        "MASH desk, which authenticates who sends them")


def test_a_command_changed_after_signing_is_refused() -> None:
    headers = sign(DESK, COMMAND_SIGNER, VALUE)
    tampered = VALUE.replace(b"mgr-bob", b"mgr-eve")
    assert refused(headers, tampered).startswith("the desk's signature does not match")


def test_another_key_claiming_to_be_the_desk_is_refused() -> None:
    assert refused(sign(OTHER, COMMAND_SIGNER, VALUE)).startswith(
        "the desk's signature does not match")
    assert refused({"mash-signer": COMMAND_SIGNER, SIGNATURE_HEADER: "not base64!"}).startswith(
        "the desk's signature does not match")


def test_without_the_desks_public_key_nothing_is_taken_and_it_says_why() -> None:
    without = {"research-police": OTHER.public_key()}
    assert refused(sign(DESK, COMMAND_SIGNER, VALUE), keys=without).startswith(
        "the decision service has no public key for the desk")
