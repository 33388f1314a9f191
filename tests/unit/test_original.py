"""A message described without carrying it: size, hash, and a preview in
which nothing of a child's details survives but its shape."""

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from plumbing.original import PREVIEW_CHARS, describe, preview

CONTACT = json.dumps({
    "specversion": "1.0", "id": "c81e-77", "source": "/agency/police/thames", "type":
    "uk.police.notification.v1", "time": "2026-12-01T09:30:00Z",
    "data": {"children": [{"given_name": "Ava", "family_name": "O'Brien",
                           "date_of_birth": "2019-04-02", "postcode": "RG12 7AB"}],
             "age": 7, "present": True, "note": "Mum said \"he hit me\", call 07700 900123"},
}).encode()


def test_the_envelope_names_the_message_and_nothing_personal_survives() -> None:
    shown = preview(CONTACT)
    for kept in ('"id": "c81e-77"', '"source": "/agency/police/thames"',
                 '"type": "uk.police.notification.v1"', '"time": "2026-12-01T09:30:00Z"',
                 '"given_name": "Xxx"', '"family_name": "X\'Xxxxx"',
                 '"date_of_birth": "9999-99-99"', '"postcode": "XX99 9XX"', '"age": 9',
                 '"present": true'):
        assert kept in shown, kept
    for secret in ("Ava", "Brien", "2019", "RG12", "07700", "hit me"):
        assert secret not in shown, secret


def test_free_text_keeps_only_its_shape() -> None:
    assert preview(b"Phoned in 10:30: Ann Lee, 12 High St") == \
        "Xxxxxx xx 99:99: Xxx Xxx, 99 Xxxx Xx"


def test_control_bytes_and_binary_never_make_a_preview_longer() -> None:
    for raw in (b"\x01" * 200_000, bytes(range(256)) * 1000, b"\xff" * 5000):
        shown = preview(raw)
        assert len(shown) <= PREVIEW_CHARS + 1
        assert shown.isprintable()


def test_a_digest_says_how_big_and_which_bytes() -> None:
    raw = b"x" * 2_000_000
    digest = describe(raw, "mash_intake.quarantine/r-1")
    assert digest.size_bytes == 2_000_000
    assert digest.sha256 == hashlib.sha256(raw).hexdigest()
    assert digest.preview.endswith("…")
    assert len(digest.model_dump_json()) < 1000


@given(st.binary(max_size=3000))
def test_any_bytes_give_a_bounded_printable_preview(raw: bytes) -> None:
    shown = preview(raw)
    assert len(shown) <= PREVIEW_CHARS + 1
    assert all(ch.isprintable() for ch in shown)
    describe(raw, "k")  # valid against the contract's bounds
