"""The audit chain: every kind of tampering is found, at the entry it touched,
including by someone who can write the database but does not hold the key."""

import hashlib
import hmac
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mash.audit import service_keys
from mash.credentials import audit_key_file, principals
from plumbing import audit

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
KEY = audit.Key(bytes(range(32)))
RING = audit.keyring(KEY)


def chain(n: int = 5, key: audit.Key = KEY) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    entries, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        entry = audit.make_entry(seq, prev, key=key, actor=f"mgr-{seq}", action="authorised",
                                 case_id="CASE-1", what={"rag": "RED", "rule_ids": ["R1"]},
                                 at=T0 + timedelta(minutes=seq))
        entries.append(entry)
        prev = entry["hash"]
    return entries, {"seq": n, "hash": prev}


def body_of(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "hash"}


def sha256_forgery(body: dict[str, Any]) -> str:
    """What the old scheme computed: anyone can, no key needed."""
    return hashlib.sha256((body["prev_hash"] + audit.canonical(body)).encode()).hexdigest()


Forge = Callable[[dict[str, Any]], str]


def hmac_forgery(secret: bytes) -> Forge:
    def forge(body: dict[str, Any]) -> str:
        message = (body["prev_hash"] + audit.canonical(body)).encode()
        return hmac.new(secret, message, hashlib.sha256).hexdigest()
    return forge


def rewrite_from(entries: list[dict[str, Any]], index: int, forge: Forge,
                 **changes: Any) -> dict[str, Any]:
    """A database writer edits entry ``index`` and recomputes its hash and
    every later one with ``forge``, then the head: a chain that links up.
    Returns the new head."""
    prev = entries[index - 1]["hash"] if index else audit.GENESIS
    for i in range(index, len(entries)):
        body = body_of(entries[i]) | {"prev_hash": prev} | (changes if i == index else {})
        entries[i] = {**body, "hash": forge(body)}
        prev = entries[i]["hash"]
    return {"seq": len(entries), "hash": prev}


def test_a_whole_chain_verifies() -> None:
    entries, head = chain()
    assert audit.verify(entries, head, RING) is None
    assert audit.verify([], None, RING) is None
    assert audit.verify([], None, {}) is None
    assert {e["alg"] for e in entries} == {"hmac-sha256"}
    assert {e["key_id"] for e in entries} == {hashlib.sha256(KEY.secret).hexdigest()[:16]}


def test_an_edited_field_is_found_at_its_entry() -> None:
    entries, head = chain()
    entries[2] = {**entries[2], "what": {"rag": "GREEN", "rule_ids": ["R1"]}}
    broken = audit.verify(entries, head, RING)
    assert broken is not None
    assert broken.seq == 3
    assert "changed" in broken.reason


def test_a_writer_without_the_key_recomputing_with_sha256_is_found_at_the_edit() -> None:
    entries, _ = chain()
    head = rewrite_from(entries, 1, sha256_forgery, actor="mgr-forger")
    # The forged chain links up: only the key tells it apart.
    assert all(entries[i]["prev_hash"] == entries[i - 1]["hash"] for i in range(1, 5))
    broken = audit.verify(entries, head, RING)
    assert broken == audit.Broken(2, "was changed after it was written "
                                     "(its keyed hash does not match)")


def test_an_entry_rewritten_in_the_old_unkeyed_form_is_named_as_such() -> None:
    entries, _ = chain()
    entries[2] = {k: v for k, v in entries[2].items() if k not in ("alg", "key_id")}
    head = rewrite_from(entries, 2, sha256_forgery, actor="mgr-forger")
    broken = audit.verify(entries, head, RING)
    assert broken == audit.Broken(3, "is not keyed: written before audit keys or by someone "
                                     "without the key")


def test_a_chain_written_before_audit_keys_is_not_trusted() -> None:
    entries, _ = chain()
    for entry in entries:
        del entry["alg"], entry["key_id"]
    head = rewrite_from(entries, 0, sha256_forgery)  # exactly what the old scheme wrote
    broken = audit.verify(entries, head, RING)
    assert broken is not None
    assert (broken.seq, "not keyed" in broken.reason) == (1, True)


def test_a_writer_guessing_a_key_and_claiming_the_real_key_id_is_found() -> None:
    entries, _ = chain()
    head = rewrite_from(entries, 1, hmac_forgery(os.urandom(32)), actor="mgr-forger")
    broken = audit.verify(entries, head, RING)
    assert broken is not None
    assert broken.seq == 2
    assert "changed" in broken.reason


def test_a_writer_using_a_key_of_their_own_is_found_naming_it() -> None:
    own = audit.new_key()
    entries, _ = chain()
    head = rewrite_from(entries, 3, hmac_forgery(own.secret), actor="mgr-forger",
                        key_id=own.id)
    broken = audit.verify(entries, head, RING)
    assert broken == audit.Broken(4, f"was made with a key we do not hold (key id {own.id})")


def test_another_algorithm_is_not_accepted() -> None:
    entries, _ = chain()
    head = rewrite_from(entries, 0, sha256_forgery, alg="sha256")
    broken = audit.verify(entries, head, RING)
    assert broken is not None
    assert broken.seq == 1
    assert "'sha256'" in broken.reason


def test_a_chain_checked_with_the_wrong_keys_fails_naming_the_key_it_needs() -> None:
    entries, head = chain()
    broken = audit.verify(entries, head, audit.keyring(audit.new_key()))
    assert broken == audit.Broken(1, f"was made with a key we do not hold (key id {KEY.id})")
    broken = audit.verify(entries, head, {})
    assert broken is not None
    assert KEY.id in broken.reason


def test_a_key_holder_recomputing_an_edit_still_breaks_the_next_entry() -> None:
    entries, head = chain()
    body = body_of(entries[1]) | {"actor": "mgr-forger"}
    entries[1] = {**body, "hash": audit.entry_hash(body["prev_hash"], body, KEY.secret)}
    broken = audit.verify(entries, head, RING)
    assert broken is not None
    assert broken.seq == 3


def test_a_rotated_key_verifies_with_both_keys_held() -> None:
    new = audit.new_key()
    entries, _ = chain(3)
    prev = entries[-1]["hash"]
    for seq in (4, 5):
        entry = audit.make_entry(seq, prev, key=new, actor="mgr", action="authorised",
                                 case_id=None, what={}, at=T0)
        entries.append(entry)
        prev = entry["hash"]
    head = {"seq": 5, "hash": prev}
    assert audit.verify(entries, head, audit.keyring(KEY, new)) is None
    broken = audit.verify(entries, head, audit.keyring(new))
    assert broken is not None
    assert (broken.seq, KEY.id in broken.reason) == (1, True)


def test_a_deleted_entry_is_found() -> None:
    entries, head = chain()
    del entries[1]
    broken = audit.verify(entries, head, RING)
    assert broken is not None
    assert broken.seq == 2


def test_deleting_the_newest_entry_is_found_against_the_head() -> None:
    entries, head = chain()
    broken = audit.verify(entries[:-1], head, RING)
    assert broken is not None
    assert broken.seq == 5


def test_reordered_entries_are_found() -> None:
    entries, head = chain()
    a, b = entries[1], entries[2]
    # Swap their contents but keep the sequence numbers in place.
    entries[1] = {**b, "seq": 2}
    entries[2] = {**a, "seq": 3}
    broken = audit.verify(entries, head, RING)
    assert broken is not None
    assert broken.seq == 2


def test_the_hash_covers_what_and_reads_back_the_same() -> None:
    entry = audit.make_entry(1, audit.GENESIS, key=KEY, actor="intake", action="case opened",
                             case_id="CASE-1", what={"n": 1, "at": T0}, at=T0)
    assert entry["what"] == {"n": 1, "at": "2026-11-22 09:00:00+00:00"}
    assert audit.verify([entry], {"seq": 1, "hash": entry["hash"]}, RING) is None


def test_the_key_is_never_shown() -> None:
    assert KEY.secret.hex() not in repr(KEY)
    assert KEY.id in repr(KEY)


# -- key files -------------------------------------------------------------------


def test_a_key_file_is_64_hex_characters_whitespace_ignored(tmp_path: Path) -> None:
    path = tmp_path / "decision.key"
    path.write_text(f"\n  {KEY.secret.hex().upper()}  \n", "ascii")
    assert audit.read_key(path) == KEY
    path.write_text(audit.key_text(KEY), "ascii")
    assert audit.service_key(path) == KEY
    assert audit.service_key(None) is None


@pytest.mark.parametrize(("text", "says"), [
    ("ab" * 31, "64 hex characters"),
    ("zz" * 32, "not hex"),
    ("", "64 hex characters"),
])
def test_a_bad_key_file_is_refused_without_showing_it(tmp_path: Path, text: str,
                                                      says: str) -> None:
    path = tmp_path / "notify.key"
    path.write_text(text, "ascii")
    with pytest.raises(audit.AuditKeyProblem, match=says) as refused:
        audit.read_key(path)
    assert str(path) in str(refused.value)
    assert not text or text not in str(refused.value)
    with pytest.raises(audit.AuditKeyProblem, match="cannot read"):
        audit.read_key(tmp_path / "absent.key")


async def test_a_service_without_a_key_refuses_to_start() -> None:
    with pytest.raises(audit.AuditKeyProblem, match="MASH_AUDIT_KEY_FILE"):
        await audit.require_key(None, "decision")
    await audit.require_key(KEY, "decision")


async def test_appending_without_a_key_fails() -> None:
    note = audit.Note("test", "appended", None, {}, T0)
    with pytest.raises(audit.AuditKeyProblem):
        await audit.append(None, None, [note], None)  # type: ignore[arg-type]


def test_the_embedded_stack_makes_one_private_key_per_service_once(tmp_path: Path) -> None:
    services = [name for name, p in principals().items() if p.database]
    paths = {name: audit_key_file(tmp_path, name) for name in services}
    assert {p.parent for p in paths.values()} == {tmp_path / "audit-keys"}
    keys = {name: audit.read_key(p) for name, p in paths.items()}
    assert len({k.id for k in keys.values()}) == len(services)
    for path in paths.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Asked again, the same keys: entries made with them must keep verifying.
    assert {name: audit.read_key(audit_key_file(tmp_path, name)) for name in services} == keys


def test_verify_holds_a_services_current_and_retired_keys_only(tmp_path: Path) -> None:
    old, other = audit.new_key(), audit.new_key()
    (tmp_path / "decision.key").write_text(audit.key_text(KEY), "ascii")
    (tmp_path / "decision.2026-01.key").write_text(audit.key_text(old), "ascii")
    (tmp_path / "intake.key").write_text(audit.key_text(other), "ascii")
    assert service_keys(tmp_path, "decision") == audit.keyring(KEY, old)
    assert service_keys(tmp_path, "notify") == {}
