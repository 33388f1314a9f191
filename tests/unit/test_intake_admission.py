"""What intake checks before anything reads a contact, in the order that
keeps it cheap, and who each refusal goes back to."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts.signing import new_key, sign
from plumbing.guard import Unusable
from services.intake import admission, problems
from services.intake.authenticity import attribute

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
POLICE = new_key()
KEYS = {"police": POLICE.public_key(), "mallory": new_key().public_key()}
LIMITS = admission.Limits(max_bytes=1000, max_headers=8, max_header_bytes=2000)


def contact(**extra: object) -> bytes:
    return json.dumps({"id": "e-1", "source": "/agency/police", "time": NOW.isoformat(),
                       **extra}).encode()


def refused(value: bytes, headers: dict[str, str], count: int | None = None) -> Unusable:
    with pytest.raises(Unusable) as caught:
        admission.admit(value, headers, len(headers) if count is None else count, KEYS, NOW,
                        WINDOW, LIMITS)
    return caught.value


def test_an_authentic_contact_of_a_sensible_size_is_read() -> None:
    value = contact()
    assert admission.admit(value, sign(POLICE, "police", value), 3, KEYS, NOW, WINDOW,
                           LIMITS)["id"] == "e-1"


def test_thousands_of_headers_are_refused_before_anything_else() -> None:
    value = contact()
    error = refused(value, sign(POLICE, "police", value), count=10_000)
    [(where, said)] = problems.plain(error)
    assert where == "(headers)"
    assert said.startswith("10,000 headers (")
    assert said.endswith("a contact carries at most 8 (2,000 bytes)")
    assert error.facts["reason"] == "too-large"


def test_a_signed_contact_too_large_is_refused_unread_and_attributed() -> None:
    value = contact(pad="x" * 2000)
    error = refused(value, sign(POLICE, "police", value))
    assert problems.plain(error)[0][1].startswith("is 2,0")
    assert "a contact may be at most 1,000" in problems.plain(error)[0][1]
    assert error.facts == {"signer": "police", "reason": "too-large"}


def test_signed_garbage_is_unreadable_and_still_its_signers() -> None:
    for value in (b"\x01" * 200, b"\xff\xfe not utf-8"):
        error = refused(value, sign(POLICE, "police", value))
        assert error.facts == {"signer": "police", "reason": "unreadable"}
        assert problems.plain(error)[0][1].startswith("is not JSON")


def test_json_nested_past_reason_is_refused_in_words() -> None:
    value = b"[" * 100_000 + b"]" * 100_000
    big = admission.Limits(max_bytes=1_000_000)
    with pytest.raises(Unusable) as caught:
        admission.admit(value, sign(POLICE, "police", value), 3, KEYS, NOW, WINDOW, big)
    assert "nested too deeply" in str(caught.value)


def test_who_hears_of_a_rejection() -> None:
    value = contact()
    assert attribute(value, sign(POLICE, "police", value), KEYS) == "police"
    # A forged signature, an unknown signer, or a signer that sends no contacts: nobody.
    assert attribute(value, {**sign(POLICE, "police", value), "mash-signer": "health"},
                     KEYS) is None
    assert attribute(value, {}, KEYS) is None
    assert attribute(value, sign(POLICE, "mallory", value), KEYS) is None
