"""The audit chain: every kind of tampering is found, at the entry it touched."""

from datetime import UTC, datetime, timedelta
from typing import Any

from plumbing import audit

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def chain(n: int = 5) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    entries, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        entry = audit.make_entry(seq, prev, actor=f"mgr-{seq}", action="authorised",
                                 case_id="CASE-1", what={"rag": "RED", "rule_ids": ["R1"]},
                                 at=T0 + timedelta(minutes=seq))
        entries.append(entry)
        prev = entry["hash"]
    return entries, {"seq": n, "hash": prev}


def test_a_whole_chain_verifies() -> None:
    entries, head = chain()
    assert audit.verify(entries, head) is None
    assert audit.verify([], None) is None


def test_an_edited_field_is_found_at_its_entry() -> None:
    entries, head = chain()
    entries[2] = {**entries[2], "what": {"rag": "GREEN", "rule_ids": ["R1"]}}
    broken = audit.verify(entries, head)
    assert broken is not None
    assert broken.seq == 3
    assert "changed" in broken.reason


def test_an_edited_actor_with_a_recomputed_hash_breaks_the_next_entry() -> None:
    entries, head = chain()
    body = {k: v for k, v in entries[1].items() if k != "hash"} | {"actor": "mgr-forger"}
    entries[1] = {**body, "hash": audit.entry_hash(body["prev_hash"], body)}
    broken = audit.verify(entries, head)
    assert broken is not None
    assert broken.seq == 3


def test_a_deleted_entry_is_found() -> None:
    entries, head = chain()
    del entries[1]
    broken = audit.verify(entries, head)
    assert broken is not None
    assert broken.seq == 2


def test_deleting_the_newest_entry_is_found_against_the_head() -> None:
    entries, head = chain()
    broken = audit.verify(entries[:-1], head)
    assert broken is not None
    assert broken.seq == 5


def test_reordered_entries_are_found() -> None:
    entries, head = chain()
    a, b = entries[1], entries[2]
    # Swap their contents but keep the sequence numbers in place.
    entries[1] = {**b, "seq": 2}
    entries[2] = {**a, "seq": 3}
    broken = audit.verify(entries, head)
    assert broken is not None
    assert broken.seq == 2


def test_the_hash_covers_what_and_reads_back_the_same() -> None:
    entry = audit.make_entry(1, audit.GENESIS, actor="intake", action="case opened",
                             case_id="CASE-1", what={"n": 1, "at": T0}, at=T0)
    assert entry["what"] == {"n": 1, "at": "2026-11-22 09:00:00+00:00"}
    assert audit.verify([entry], {"seq": 1, "hash": entry["hash"]}) is None
