"""The audit chains: every kind of tampering is found, at the entry it touched,
including by someone who can write the database but does not hold the key; a
service keeps a chain per name (a topic partition, a job), each verified on
its own, and appends to one in two writes when it knows the head."""

import hashlib
import hmac
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from mash.audit import Verdict, report, service_keys
from mash.credentials import audit_key_file, principals
from plumbing import audit

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
KEY = audit.Key(bytes(range(32)))
RING = audit.keyring(KEY)
PARTITION = "mash.findings/2"


def chain(n: int = 5, key: audit.Key = KEY, name: str | None = PARTITION
          ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``n`` entries of the chain ``name`` (None: the legacy chain) and its head."""
    entries, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        entry = audit.make_entry(seq, prev, key=key, actor=f"mgr-{seq}", action="authorised",
                                 case_id="CASE-1", what={"rag": "RED", "rule_ids": ["R1"]},
                                 at=T0 + timedelta(minutes=seq), chain=name)
        entries.append(entry)
        prev = entry["hash"]
    return entries, {"_id": name or audit.LEGACY, "seq": n, "hash": prev}


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


def test_an_entry_names_its_chain_inside_what_is_hashed() -> None:
    entries, _ = chain(3)
    assert {e["chain"] for e in entries} == {PARTITION}
    assert audit.hashed_body(entries[0])["chain"] == PARTITION
    body = body_of(entries[0])
    assert entries[0]["hash"] == hmac.new(
        KEY.secret, (audit.GENESIS + audit.canonical(body)).encode(), hashlib.sha256).hexdigest()


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
                                 case_id=None, what={}, at=T0, chain=PARTITION)
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
                             case_id="CASE-1", what={"n": 1, "at": T0}, at=T0, chain="sweep")
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
        await audit.append(None, None, [note], None,  # type: ignore[arg-type]
                           chain=PARTITION, heads=audit.Heads())


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


# -- a chain per name --------------------------------------------------------------


def test_the_legacy_chain_verifies_as_it_was_written() -> None:
    """Entries from before there were several chains: no ``chain`` field, and
    hashed without one, exactly as then."""
    entries, head = chain(name=None)
    assert all("chain" not in e for e in entries)
    prev = audit.GENESIS
    for entry in entries:
        then = {k: entry[k] for k in ("seq", "at", "actor", "action", "case_id", "what",
                                      "prev_hash", "alg", "key_id")}
        assert entry["hash"] == hmac.new(KEY.secret, (prev + audit.canonical(then)).encode(),
                                         hashlib.sha256).hexdigest()
        prev = entry["hash"]
    assert audit.verify(entries, head, RING) is None
    assert audit.chain_of(entries[0]) == audit.LEGACY == "head"
    # Given a chain, or stripped of the one it had, an entry no longer verifies.
    claimed = [*entries[:2], {**entries[2], "chain": PARTITION}, *entries[3:]]
    assert audit.verify(claimed, head, RING) == audit.Broken(
        3, "was changed after it was written (its keyed hash does not match)")
    named, named_head = chain()
    del named[0]["chain"]
    broken = audit.verify(named, named_head, RING)
    assert broken is not None
    assert (broken.seq, "changed" in broken.reason) == (1, True)


def test_a_chain_moved_to_another_name_is_found() -> None:
    """Partition 2's chain, entries and head, renamed partition 1's: every
    link holds, but each entry's hash names the chain it was written on."""
    entries, head = chain(3, name="mash.findings/2")
    moved = [{**e, "chain": "mash.findings/1"} for e in entries]
    broken = audit.verify(moved, {**head, "_id": "mash.findings/1"}, RING)
    assert broken == audit.Broken(1, "was changed after it was written "
                                     "(its keyed hash does not match)")


def test_entries_without_a_head_or_a_head_without_entries_are_broken() -> None:
    entries, head = chain(3)
    assert audit.verify(entries, None, RING) == audit.Broken(
        3, "has no head: the chain's head document is missing")
    assert audit.verify([], head, RING) == audit.Broken(
        1, "is missing (the chain has no entries; the head says 3)")
    assert audit.verify([], {"_id": PARTITION, "seq": 0, "hash": audit.GENESIS},
                        RING) is not None


def test_heads_remember_the_latest_commit_and_forget() -> None:
    heads = audit.Heads()
    assert heads.get("a") is None
    heads.committed(audit.Appended("a", 3, "h3"))
    heads.committed(audit.Appended("a", 2, "h2"))  # told late: the later head stays
    heads.committed(audit.Appended("b", 1, "b1"))
    assert (heads.get("a"), heads.get("b")) == ((3, "h3"), (1, "b1"))
    heads.forget("a")
    heads.forget("nothing")
    assert (heads.get("a"), heads.get("b")) == (None, (1, "b1"))


def test_a_stale_head_is_a_write_conflict() -> None:
    stale = audit.StaleHead(PARTITION, "moved")
    assert isinstance(stale, OperationFailure)
    assert (stale.code, stale.details and stale.details["codeName"]) == (112, "WriteConflict")
    assert stale.has_error_label("TransientTransactionError")
    assert PARTITION in str(stale)


# A stand-in for the two collections, as far as plumbing.audit uses them: it
# records each call and whether it was in the caller's session.


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for name, want in query.items():
        have = doc.get(name)  # a missing field is None, as the database has it
        if isinstance(want, dict):
            for op, arg in want.items():
                if op == "$in" and have not in arg:
                    return False
                if op == "$nin" and have in arg:
                    return False
                if op == "$lte" and (have is None or have > arg):
                    return False
                if op == "$exists" and (name in doc) != arg:
                    return False
        elif name not in doc or have != want:
            return False
    return True


class Cursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, name: str, direction: int) -> "Cursor":
        return Cursor(sorted(self.docs, key=lambda d: d[name], reverse=direction < 0))

    async def to_list(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self.docs]

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async def each() -> AsyncIterator[dict[str, Any]]:
            for doc in self.docs:
                yield dict(doc)
        return each()


class Updated:
    def __init__(self, matched_count: int) -> None:
        self.matched_count = matched_count


class Collection:
    def __init__(self, db: "Db", name: str) -> None:
        self.db, self.name = db, name
        self.docs: dict[Any, dict[str, Any]] = {}

    def _call(self, op: str, session: object) -> None:
        self.db.calls.append((self.name, op, session is self.db.session))

    def find(self, query: dict[str, Any], projection: dict[str, int] | None = None) -> Cursor:
        self._call("find", None)
        found = [d for d in self.docs.values() if _matches(d, query)]
        if projection:
            found = [{k: v for k, v in d.items() if k == "_id" or k in projection}
                     for d in found]
        return Cursor(found)

    async def find_one(self, query: dict[str, Any], session: object = None
                       ) -> dict[str, Any] | None:
        self._call("find_one", session)
        found = next((dict(d) for d in self.docs.values() if _matches(d, query)), None)
        if self.db.meanwhile is not None:
            meanwhile, self.db.meanwhile = self.db.meanwhile, None
            await meanwhile()
        return found

    async def insert_many(self, docs: list[dict[str, Any]], session: object = None) -> None:
        self._call("insert_many", session)
        for doc in docs:
            if doc["_id"] in self.docs:
                raise BulkWriteError({"writeErrors": [{"index": 0, "code": 11000,
                                                       "errmsg": "E11000 duplicate key"}]})
        for doc in docs:
            self.docs[doc["_id"]] = dict(doc)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any],
                         upsert: bool = False, session: object = None) -> Updated:
        self._call("update_one", session)
        for doc in self.docs.values():
            if _matches(doc, query):
                doc.update(update["$set"])
                return Updated(1)
        if upsert:
            if query["_id"] in self.docs:
                raise DuplicateKeyError("E11000 duplicate key", 11000)
            self.docs[query["_id"]] = {"_id": query["_id"], **update["$set"]}
        return Updated(0)

    async def delete_one(self, query: dict[str, Any]) -> None:
        for _id, doc in list(self.docs.items()):
            if _matches(doc, query):
                del self.docs[_id]
                return


class Db:
    def __init__(self) -> None:
        self.session = object()
        self.calls: list[tuple[str, str, bool]] = []
        self.collections = {name: Collection(self, name) for name in (audit.AUDIT, audit.HEAD)}
        # Run once, between a head's read and the writes after it.
        self.meanwhile: Callable[[], Awaitable[None]] | None = None

    def __getitem__(self, name: str) -> Collection:
        return self.collections[name]

    @property
    def entries(self) -> Collection:
        return self.collections[audit.AUDIT]

    @property
    def heads(self) -> Collection:
        return self.collections[audit.HEAD]


def notes(*actions: str) -> list[audit.Note]:
    return [audit.Note("test", action, "CASE-1", {"n": i}, T0 + timedelta(seconds=i))
            for i, action in enumerate(actions)]


async def append(db: Db, heads: audit.Heads, chain_name: str, *actions: str) -> audit.Appended:
    """An append, and its commit told to ``heads`` (the stand-in commits at once)."""
    done = await audit.append(db, db.session, notes(*actions), KEY,  # type: ignore[arg-type]
                              chain=chain_name, heads=heads)
    heads.committed(done)
    return done


async def checked(db: Db, keys: dict[str, bytes] = RING) -> list[audit.Checked]:
    return await audit.check(db, keys)  # type: ignore[arg-type]


async def test_a_service_keeps_a_chain_per_name_each_verified_on_its_own() -> None:
    db, heads = Db(), audit.Heads()
    first = await append(db, heads, "mash.findings/2", "a", "b")
    await append(db, heads, "sweep", "swept")
    second = await append(db, heads, "mash.findings/2", "c")
    await append(db, heads, "mash.findings/0", "d")
    assert (first.seq, second.seq) == (2, 3)
    assert second == audit.Appended("mash.findings/2", 3, db.heads.docs["mash.findings/2"]["hash"])
    assert set(db.entries.docs) == {"mash.findings/2/1", "mash.findings/2/2",
                                    "mash.findings/2/3", "sweep/1", "mash.findings/0/1"}
    assert db.entries.docs["sweep/1"]["chain"] == "sweep"
    assert db.entries.docs["sweep/1"]["prev_hash"] == audit.GENESIS
    assert db.heads.docs["mash.findings/2"] == {"_id": "mash.findings/2", "seq": 3,
                                                "hash": second.hash}
    assert await checked(db) == [audit.Checked("mash.findings/0", 1, None),
                                 audit.Checked("mash.findings/2", 3, None),
                                 audit.Checked("sweep", 1, None)]
    assert all(in_session for collection, op, in_session in db.calls
               if op in ("insert_many", "update_one"))


async def test_appending_to_a_known_head_is_two_writes_and_an_unknown_one_three() -> None:
    db, heads = Db(), audit.Heads()
    await append(db, heads, PARTITION, "a")
    assert db.calls == [(audit.HEAD, "find_one", True), (audit.AUDIT, "insert_many", True),
                        (audit.HEAD, "update_one", True)]
    db.calls.clear()
    await append(db, heads, PARTITION, "b", "c", "d")
    assert db.calls == [(audit.AUDIT, "insert_many", True), (audit.HEAD, "update_one", True)]
    db.calls.clear()
    heads.forget(PARTITION)  # as after an abort: read again
    await append(db, heads, PARTITION, "e")
    assert [op for _, op, _ in db.calls] == ["find_one", "insert_many", "update_one"]
    assert await checked(db) == [audit.Checked(PARTITION, 5, None)]


async def test_a_head_moved_by_another_process_is_a_stale_head_then_read_again() -> None:
    db, mine, theirs = Db(), audit.Heads(), audit.Heads()
    await append(db, mine, PARTITION, "a")
    await append(db, theirs, PARTITION, "b")  # a replica, or the partition's next owner
    with pytest.raises(audit.StaleHead) as stale:
        await append(db, mine, PARTITION, "c")
    assert stale.value.code == 112
    assert mine.get(PARTITION) is None
    # The guard retries: the head is read afresh and the chain goes on.
    assert (await append(db, mine, PARTITION, "c")).seq == 3
    assert await checked(db) == [audit.Checked(PARTITION, 3, None)]


async def test_a_remembered_head_that_matches_nothing_is_stale() -> None:
    db, heads = Db(), audit.Heads()
    await append(db, heads, PARTITION, "a")
    heads.committed(audit.Appended(PARTITION, 7, "f" * 64))  # a head this chain never had
    db.calls.clear()
    with pytest.raises(audit.StaleHead, match="no longer at seq 7"):
        await audit.append(db, db.session, notes("b"), KEY,  # type: ignore[arg-type]
                           chain=PARTITION, heads=heads)
    assert [op for _, op, _ in db.calls] == ["insert_many", "update_one"]
    assert heads.get(PARTITION) is None


async def test_two_processes_making_one_chain_meet_on_its_head() -> None:
    db, mine, theirs = Db(), audit.Heads(), audit.Heads()

    async def they_make_it() -> None:
        await append(db, theirs, PARTITION, "theirs")
        db.entries.docs.clear()  # only the head in the way, not their entry's id
    db.meanwhile = they_make_it
    with pytest.raises(audit.StaleHead) as stale:
        await append(db, mine, PARTITION, "mine")
    assert isinstance(stale.value.__cause__, DuplicateKeyError)
    assert mine.get(PARTITION) is None


async def test_append_refuses_the_legacy_name_and_nothing_to_append() -> None:
    db = Db()
    with pytest.raises(ValueError, match="legacy"):
        await append(db, audit.Heads(), audit.LEGACY, "a")
    with pytest.raises(ValueError, match="legacy"):
        await append(db, audit.Heads(), "", "a")
    with pytest.raises(ValueError, match="nothing"):
        await append(db, audit.Heads(), PARTITION)
    assert db.calls == []


async def test_the_legacy_chain_is_checked_beside_the_new_ones_as_head() -> None:
    db, heads = Db(), audit.Heads()
    entries, head = chain(4, name=None)
    db.entries.docs |= {e["seq"]: {"_id": e["seq"], **e} for e in entries}
    db.heads.docs["head"] = head
    await append(db, heads, "sweep", "swept")
    assert await checked(db) == [audit.Checked("head", 4, None), audit.Checked("sweep", 1, None)]
    del db.heads.docs["head"]
    assert await checked(db) == [
        audit.Checked("head", 4, audit.Broken(4, "has no head: the chain's head document is missing")),
        audit.Checked("sweep", 1, None)]


async def test_a_missing_head_or_missing_entries_are_reported_not_ignored() -> None:
    db, heads = Db(), audit.Heads()
    await append(db, heads, "mash.findings/0", "a", "b")
    await append(db, heads, "mash.findings/1", "c")
    await append(db, heads, "sweep", "d")
    await db.heads.delete_one({"_id": "mash.findings/0"})
    await db.entries.delete_one({"_id": "sweep/1"})
    assert await checked(db) == [
        audit.Checked("mash.findings/0", 2,
                      audit.Broken(2, "has no head: the chain's head document is missing")),
        audit.Checked("mash.findings/1", 1, None),
        audit.Checked("sweep", 0,
                      audit.Broken(1, "is missing (the chain has no entries; the head says 1)"))]


async def test_an_entry_moved_to_another_chain_is_found_on_both() -> None:
    db, heads = Db(), audit.Heads()
    await append(db, heads, "mash.findings/0", "a", "b")
    await append(db, heads, "mash.findings/1", "c")
    moved = db.entries.docs.pop("mash.findings/0/2")
    db.entries.docs["mash.findings/1/2"] = {**moved, "_id": "mash.findings/1/2",
                                           "chain": "mash.findings/1"}
    db.heads.docs["mash.findings/1"] |= {"seq": 2}
    [zero, one] = await checked(db)
    assert zero.broken == audit.Broken(2, "is missing (the chain ends at 1; the head says 2)")
    assert one.broken is not None
    assert one.broken.seq == 2


async def test_entries_beyond_the_head_read_are_left_to_the_next_check() -> None:
    """An append committing during a check: its chain is read up to the head
    read first; a chain begun meanwhile has its head read, then its entries."""
    db, heads = Db(), audit.Heads()
    await append(db, heads, PARTITION, "a", "b")
    await append(db, heads, "sweep", "c")
    later = audit.Heads()
    later.committed(audit.Appended(PARTITION, 2, db.heads.docs[PARTITION]["hash"]))
    head = dict(db.heads.docs[PARTITION])
    await append(db, later, PARTITION, "d")
    db.heads.docs[PARTITION] = head  # as a reader that read the head before that commit
    [(name, (entries, read_head)), *_] = (await audit.read(db)).items()  # type: ignore[arg-type]
    assert (name, len(entries), read_head) == (PARTITION, 2, head)


def test_verify_prints_a_line_a_chain_and_a_total(tmp_path: Path) -> None:
    broken = audit.Broken(3, "was changed after it was written (its keyed hash does not match)")
    results = [
        Verdict("decision", [audit.Checked("mash.findings/0", 4, None),
                             audit.Checked("sweep", 2, broken)], tmp_path / "decision.key", False),
        Verdict("notify", [], tmp_path / "notify.key", False),
        Verdict("intake", [audit.Checked("mash.contacts.submitted/1", 5, broken)],
                tmp_path / "intake.key", True),
    ]
    lines, whole = report(results, tmp_path)
    assert not whole
    assert lines[0].split() == ["decision", "mash.findings/0", "OK", "(4", "entries)"]
    assert lines[1].endswith(f"sweep                      TAMPERED: entry 3 {broken.reason}")
    assert lines[2].split() == ["notify", "-", "OK", "(no", "entries)"]
    assert f"NO KEY: {tmp_path / 'intake.key'} is missing, so its 5 entries" in lines[3]
    assert lines[-1] == "mash audit: 3 chain(s) of 3 service(s), 11 entries: 2 not whole"
    whole_chains = [audit.Checked("mash.findings/0", 4, None), audit.Checked("sweep", 2, None)]
    lines, whole = report([Verdict("decision", whole_chains, tmp_path / "decision.key", False),
                           results[1]], tmp_path)
    assert whole
    assert lines[-1] == "mash audit: 2 chain(s) of 2 service(s), 6 entries: all whole"
