"""The audit trail: append-only and tamper-evident, in each service's own database.

Every entry names who did what to which case, when, and is keyed to its
predecessor: ``hash = HMAC-SHA256(key, prev_hash + canonical JSON of the
entry)``, the entry naming the algorithm (``alg``) and the key (``key_id``,
the first 16 hex characters of sha256(key)) it was made with. The key is the
service's own secret, kept outside the database (a file,
``MASH_AUDIT_KEY_FILE``), so whoever can write the database but does not hold
the key cannot recompute the chain after editing an entry: a plain sha256,
or an HMAC under any other key, does not verify.

A service keeps many chains, one per name the caller gives: a consumer
appends to the chain of the topic partition it handles (``mash.findings/2``),
a background job to its own (``sweep``). Each entry records its chain
(``chain``, inside what is hashed, so an entry moved to another chain no
longer verifies) and has the id ``<chain>/<seq>``; each chain has its head
document, ``_id`` the chain's name, holding its last sequence number and
hash. Why many: a head is one document, and two transactions that write one
document conflict. With one chain per service every transaction of a service
wrote the same head, so its consumers, and any two replicas of it, were
retried against each other. A consumer owns its partition, so it owns that
partition's chain: replicas and consumers of one service never write the same
head, and only a rebalance (a partition changing hands) can make two writers
meet on one, which the head's condition turns into a retried write conflict.

An edited entry no longer matches its hash, a deleted one leaves a gap in its
chain's sequence and breaks the next entry's ``prev_hash``, a reordered one
breaks both. Every append updates the chain's head inside the same
transaction as the effect it records, conditioned on the head it followed, so
two concurrent appends to one chain conflict (WriteConflict, transient: the
consumer guard retries) instead of forking it, and deleting the newest entry
is detected against the head. An entry whose chain has no head, or a head
whose chain has no entries, is broken too.

The process that appends remembers the head of each chain it last committed
(``Heads``), so an append is two writes, the entries and the conditional
update of the head, without reading the head first; only a chain it does not
know (its first append, or after an abort) costs a read. A handler stages its
entries (``Transaction.audit``) and they are appended together as the last
writes before the commit, so the head is held for those two round trips
rather than the whole handler.

Chains written before there were several (entries with no ``chain`` and
integer ids, the head ``{_id: "head"}``) still verify as they were written,
as the chain named ``"head"``; nothing is appended to them any more.

Entries carry ids, codes and plain words, never personal data.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

AUDIT = "audit"
HEAD = "audit_head"
GENESIS = "0" * 64
ALG = "hmac-sha256"
KEY_BYTES = 32
# The chain written before a service kept several: its head's id, and the
# name reports give it. Its entries have no ``chain``; none is added to it.
LEGACY = "head"
_FIELDS = ("seq", "at", "actor", "action", "case_id", "what", "prev_hash", "alg", "key_id")
_WRITE_CONFLICT = 112
_DUPLICATE_KEY = 11000


class AuditKeyProblem(RuntimeError):
    """A service cannot key its audit trail; the message says what to fix."""


def key_id(secret: bytes) -> str:
    """How entries name a key without revealing it: sha256(key), 16 hex characters."""
    return hashlib.sha256(secret).hexdigest()[:16]


@dataclass(frozen=True)
class Key:
    """A service's audit key: 32 secret bytes, and the id its entries name."""

    secret: bytes = field(repr=False)
    id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise AuditKeyProblem(f"an audit key is {KEY_BYTES} bytes, not {len(self.secret)}")
        object.__setattr__(self, "id", key_id(self.secret))


def new_key() -> Key:
    return Key(secrets.token_bytes(KEY_BYTES))


def key_text(key: Key) -> str:
    """A key as its file holds it: 64 hex characters and a newline."""
    return key.secret.hex() + "\n"


def read_key(path: Path) -> Key:
    """The key in ``path``: 64 hex characters (32 bytes), surrounding whitespace
    ignored. The message of a failure names the file, never its content."""
    try:
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise AuditKeyProblem(f"cannot read the audit key {path}: {error}") from None
    if len(text) != 2 * KEY_BYTES:
        raise AuditKeyProblem(f"the audit key {path} must hold {2 * KEY_BYTES} hex characters "
                              f"({KEY_BYTES} random bytes), not {len(text)} characters")
    try:
        return Key(bytes.fromhex(text))
    except ValueError:
        raise AuditKeyProblem(f"the audit key {path} holds characters that are not hex") from None


def service_key(path: Path | None) -> Key | None:
    """The key a service appends with (``MASH_AUDIT_KEY_FILE``), None when none
    is configured: the service then refuses to start (``require_key``)."""
    return None if path is None else read_key(path)


async def require_key(key: Key | None, service: str) -> None:
    """A startup job: a service without an audit key does not start."""
    if key is None:
        raise AuditKeyProblem(
            f"{service}: no audit key. Set MASH_AUDIT_KEY_FILE to a file of {2 * KEY_BYTES} hex "
            f"characters ({KEY_BYTES} random bytes, e.g. `openssl rand -hex {KEY_BYTES}`), kept "
            "outside the database; the embedded stack makes one per service in "
            "<MASH_HOME>/audit-keys/")


def keyring(*keys: Key) -> dict[str, bytes]:
    """key id -> key, what ``verify`` takes."""
    return {key.id: key.secret for key in keys}


def canonical(value: Any) -> str:
    """One JSON text for one value: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """``what`` as it will read back from the database (JSON types only)."""
    result: dict[str, Any] = json.loads(canonical(value))
    return result


def entry_hash(prev_hash: str, body: Mapping[str, Any], secret: bytes) -> str:
    """HMAC-SHA256 under ``secret`` of the previous hash and the entry (``alg``
    and ``key_id`` included)."""
    return hmac.new(secret, (prev_hash + canonical(body)).encode("utf-8"),
                    hashlib.sha256).hexdigest()


def make_entry(seq: int, prev_hash: str, *, key: Key, actor: str, action: str,
               case_id: str | None, what: Mapping[str, Any], at: datetime,
               chain: str | None) -> dict[str, Any]:
    """One entry and its keyed hash. ``chain`` is hashed with the rest;
    None makes an entry of the legacy chain, as they were written before
    there were several (for tests: ``append`` never does)."""
    body: dict[str, Any] = {
        "seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor,
        "action": action, "case_id": case_id, "what": plain(what), "prev_hash": prev_hash,
        "alg": ALG, "key_id": key.id}
    if chain is not None:
        body["chain"] = chain
    return {**body, "hash": entry_hash(prev_hash, body, key.secret)}


def hashed_body(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What an entry's hash covers: its fields, and its chain when it names
    one (an entry of the legacy chain has none, and is hashed as it was)."""
    body = {name: entry.get(name) for name in _FIELDS}
    if "chain" in entry:
        body["chain"] = entry["chain"]
    return body


def chain_of(entry: Mapping[str, Any]) -> str:
    """The chain an entry is on: its ``chain``, or the legacy chain's name."""
    name = entry.get("chain")
    return name if isinstance(name, str) else LEGACY


@dataclass(frozen=True)
class Broken:
    """Where the chain first stops being what was written, and why."""

    seq: int
    reason: str


def _unkeyed(entry: Mapping[str, Any], keys: Mapping[str, bytes]) -> str | None:
    """Why ``entry`` cannot be checked with ``keys``, or None when it can."""
    alg = entry.get("alg")
    if alg is None:
        return "is not keyed: written before audit keys or by someone without the key"
    if alg != ALG:
        return f"was made with {alg!r}, not {ALG}: not by the service"
    kid = entry.get("key_id")
    if not isinstance(kid, str) or not kid:
        return "names no key: written by someone without the key"
    if kid not in keys:
        return f"was made with a key we do not hold (key id {kid})"
    return None


def verify(entries: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None,
           keys: Mapping[str, bytes]) -> Broken | None:
    """The first broken entry of one chain, or None when it is whole.

    ``entries`` the chain's, in stored order of ``seq``; ``head`` its head
    document (None if nothing was ever appended); ``keys`` the keys an entry
    may have been made with (key id -> key: the service's key, and any it
    used before). Entries with no head, or a head with no entries, are broken.
    """
    expected_seq, prev = 1, GENESIS
    for entry in entries:
        seq = entry.get("seq")
        if seq != expected_seq:
            return Broken(expected_seq, f"is missing (found {seq} next)")
        if entry.get("prev_hash") != prev:
            return Broken(expected_seq, "does not follow the entry before it (prev_hash differs)")
        why = _unkeyed(entry, keys)
        if why is not None:
            return Broken(expected_seq, why)
        expected = entry_hash(prev, hashed_body(entry), keys[str(entry["key_id"])])
        if not hmac.compare_digest(str(entry.get("hash")), expected):
            return Broken(expected_seq, "was changed after it was written (its keyed hash does not match)")
        prev = str(entry["hash"])
        expected_seq += 1
    last = expected_seq - 1
    if head is None:
        if last:
            return Broken(last, "has no head: the chain's head document is missing")
        return None
    head_seq = int(head.get("seq", 0))
    if not last:
        return Broken(1, f"is missing (the chain has no entries; the head says {head_seq})")
    if head_seq != last:
        return Broken(last + 1, f"is missing (the chain ends at {last}; the head says {head_seq})")
    if head.get("hash") != prev:
        return Broken(last, "differs from the hash the head recorded")
    return None


@dataclass(frozen=True)
class Note:
    """An entry to append, before it has its place in the chain."""

    actor: str
    action: str
    case_id: str | None
    what: Mapping[str, Any]
    at: datetime


class StaleHead(OperationFailure):
    """The head this append followed is no longer the chain's head: another
    process appended to the chain. A write conflict (code 112, transient), so
    the consumer guard retries the whole transaction, which then reads the
    head afresh."""

    def __init__(self, chain: str, why: str) -> None:
        message = f"the audit chain {chain!r} moved: {why}"
        super().__init__(message, _WRITE_CONFLICT,
                         {"ok": 0, "code": _WRITE_CONFLICT, "codeName": "WriteConflict",
                          "errmsg": message, "errorLabels": ["TransientTransactionError"]})
        self.chain = chain


@dataclass(frozen=True)
class Appended:
    """Where an append left its chain: what ``Heads.committed`` takes once
    the transaction that made it has committed."""

    chain: str
    seq: int
    hash: str


class Heads:
    """The head of each chain this process last committed to, so that its
    next append to it need not read the head first. One per service process,
    shared by its transactions; told only of what committed."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[int, str]] = {}

    def get(self, chain: str) -> tuple[int, str] | None:
        """``(seq, hash)`` of the chain's head as last committed here, or None."""
        return self._known.get(chain)

    def committed(self, appended: Appended) -> None:
        """The transaction that made ``appended`` committed. A later head of
        the chain already known is kept (two commits told out of order)."""
        known = self._known.get(appended.chain)
        if known is None or known[0] < appended.seq:
            self._known[appended.chain] = (appended.seq, appended.hash)

    def forget(self, chain: str) -> None:
        """The chain's head is no longer known here (an abort, a stale head):
        the next append to it reads the head."""
        self._known.pop(chain, None)


def _conflicting(error: BulkWriteError) -> bool:
    """The entries' ids (or chain and seq) are taken, or being taken: the chain moved."""
    return any(e.get("code") in (_DUPLICATE_KEY, _WRITE_CONFLICT)
               for e in error.details.get("writeErrors", []))


async def append(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession,
                 notes: list[Note], key: Key | None, *, chain: str, heads: Heads) -> Appended:
    """Append ``notes`` in order to ``chain``, keyed with ``key``, in the
    caller's transaction (with its effect or not at all).

    Two writes when ``heads`` knows the chain's head (the entries, then the
    head, conditioned on being the head they follow), three when it does not
    (the head is read first). StaleHead when the chain moved meanwhile (the
    chain is then forgotten in ``heads``). Without a key nothing is appended
    and the transaction fails. The caller tells ``heads.committed`` of the
    result once the transaction commits, and ``heads.forget(chain)`` when it
    aborts.
    """
    if key is None:
        raise AuditKeyProblem("no audit key to append with (MASH_AUDIT_KEY_FILE)")
    if not notes:
        raise ValueError("nothing to append")
    if not chain or chain == LEGACY:
        raise ValueError(f"an audit chain needs a name, other than {LEGACY!r} (the legacy "
                         f"chain), not {chain!r}")
    known = heads.get(chain)
    remembered = known is not None
    if known is None:
        found = await db[HEAD].find_one({"_id": chain}, session=session)
        if found is not None:
            known = (int(found["seq"]), str(found["hash"]))
    seq, prev = known if known is not None else (0, GENESIS)
    entries = []
    for note in notes:
        seq += 1
        entry = make_entry(seq, prev, key=key, actor=note.actor, action=note.action,
                           case_id=note.case_id, what=note.what, at=note.at, chain=chain)
        entries.append({"_id": f"{chain}/{seq}", **entry})
        prev = entry["hash"]
    # The head as it was (for a chain with none yet, no head at all): matched
    # only if nobody has appended since.
    condition: dict[str, Any] = {"_id": chain}
    if known is not None:
        condition |= {"seq": known[0], "hash": known[1]}
    else:
        condition |= {"seq": {"$exists": False}}
    try:
        await db[AUDIT].insert_many(entries, session=session)
        # A head that was read is upserted: a missing one is made, and one
        # that changed since cannot be made twice (a duplicate key). A
        # remembered one is only updated, and matches nothing if it moved.
        moved = await db[HEAD].update_one(condition, {"$set": {"seq": seq, "hash": prev}},
                                          upsert=not remembered, session=session)
    except BulkWriteError as error:
        if not _conflicting(error):
            raise
        heads.forget(chain)
        raise StaleHead(chain, f"entry {entries[0]['_id']} was written by another "
                               "process") from error
    except DuplicateKeyError as error:
        heads.forget(chain)
        raise StaleHead(chain, "its head was made or moved by another process") from error
    if remembered and moved.matched_count == 0:
        heads.forget(chain)
        raise StaleHead(chain, f"its head is no longer at seq {seq - len(notes)}")
    return Appended(chain, seq, prev)


def _entries_of(chain: str) -> dict[str, Any]:
    """The filter of a chain's entries (the legacy chain's entries name none)."""
    return {"chain": {"$in": [None, LEGACY]}} if chain == LEGACY else {"chain": chain}


async def _chain(db: AsyncDatabase[dict[str, Any]], name: str, head: dict[str, Any] | None
                 ) -> list[dict[str, Any]]:
    query = _entries_of(name)
    if head is not None:
        query |= {"seq": {"$lte": int(head.get("seq", 0))}}
    return await db[AUDIT].find(query).sort("seq", ASCENDING).to_list()


Chain = tuple[list[dict[str, Any]], dict[str, Any] | None]
"""A chain as read: its entries in order of seq, and its head (None if it has none)."""


async def read(db: AsyncDatabase[dict[str, Any]]) -> dict[str, Chain]:
    """Every chain: its entries, up to its head, and the head (None for
    entries on a chain with no head). A consistent view of a live service.

    Each chain's head first, then its entries up to the head's seq: entries
    and head commit together, so every entry up to the head's seq is there
    when the head is read. Reading the entries first would race an append
    committing in between and report a missing entry that is not missing
    (found by the fault tests, with decision's sweeper appending).

    Then the entries on no chain whose head was read: a chain begun since
    (its head is read now, then its entries, as above), or one whose head is
    gone (all its entries, with no head).
    """
    heads = {str(h["_id"]): h async for h in db[HEAD].find({})}
    chains: dict[str, Chain] = {name: (await _chain(db, name, head), head)
                                for name, head in heads.items()}
    seen: list[str | None] = [name for name in heads if name != LEGACY]
    if LEGACY in heads:
        seen += [LEGACY, None]  # None: no chain field, the legacy chain's entries
    others = {chain_of(e) async for e in db[AUDIT].find({"chain": {"$nin": seen}}, {"chain": 1})}
    for name in sorted(others):
        head = await db[HEAD].find_one({"_id": name})
        chains[name] = (await _chain(db, name, head), head)
    return dict(sorted(chains.items()))


@dataclass(frozen=True)
class Checked:
    """One chain's verdict: its name, how many entries, the first broken one."""

    chain: str
    entries: int
    broken: Broken | None


async def check(db: AsyncDatabase[dict[str, Any]],
                keys: Mapping[str, bytes]) -> list[Checked]:
    """Every chain of a service, by name: how many entries, and the first
    broken one (``keys`` as for ``verify``)."""
    return [Checked(name, len(entries), verify(entries, head, keys))
            for name, (entries, head) in (await read(db)).items()]


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[AUDIT].create_index("case_id")
    await db[AUDIT].create_index([("chain", ASCENDING), ("seq", ASCENDING)], unique=True)
