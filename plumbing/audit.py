"""The audit trail: append-only and tamper-evident, in each service's own database.

Every entry names who did what to which case, when, and is keyed to its
predecessor: ``hash = HMAC-SHA256(key, prev_hash + canonical JSON of the
entry)``, the entry naming the algorithm (``alg``) and the key (``key_id``,
the first 16 hex characters of sha256(key)) it was made with. The key is the
service's own secret, kept outside the database (a file,
``MASH_AUDIT_KEY_FILE``), so whoever can write the database but does not hold
the key cannot recompute the chain after editing an entry: a plain sha256,
or an HMAC under any other key, does not verify.

An edited entry no longer matches its hash, a deleted one leaves a gap in the
sequence and breaks the next entry's ``prev_hash``, a reordered one breaks
both. A head document holds the last sequence number and hash; every append
updates it inside the same transaction as the effect it records, so two
concurrent appends conflict (WriteConflict, transient: the consumer guard
retries) instead of forking the chain, and deleting the newest entry is
detected against the head.

The head is therefore the one document every transaction of a service
writes. A handler stages its entries (``Transaction.audit``) and they are
appended together as the last writes before the commit, so the head is held
for three round trips rather than the whole handler: the shorter the hold,
the fewer the conflicts between a service's consumers (a lane and its RED
lane, decision's eight).

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

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

AUDIT = "audit"
HEAD = "audit_head"
GENESIS = "0" * 64
ALG = "hmac-sha256"
KEY_BYTES = 32
_HEAD_ID = "head"
_FIELDS = ("seq", "at", "actor", "action", "case_id", "what", "prev_hash", "alg", "key_id")


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
               case_id: str | None, what: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    body = {"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor,
            "action": action, "case_id": case_id, "what": plain(what), "prev_hash": prev_hash,
            "alg": ALG, "key_id": key.id}
    return {**body, "hash": entry_hash(prev_hash, body, key.secret)}


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
    """The first broken entry, or None when the chain is whole.

    ``entries`` in stored order of ``seq``; ``head`` the head document (None
    if nothing was ever appended); ``keys`` the keys an entry may have been
    made with (key id -> key: the service's key, and any it used before).
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
        body = {name: entry.get(name) for name in _FIELDS}
        expected = entry_hash(prev, body, keys[str(entry["key_id"])])
        if not hmac.compare_digest(str(entry.get("hash")), expected):
            return Broken(expected_seq, "was changed after it was written (its keyed hash does not match)")
        prev = str(entry["hash"])
        expected_seq += 1
    last = expected_seq - 1
    head_seq = int(head.get("seq", 0)) if head else 0
    if head_seq != last:
        return Broken(last + 1, f"is missing (the chain ends at {last}; the head says {head_seq})")
    if head and last and head.get("hash") != prev:
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


async def append(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession,
                 notes: list[Note], key: Key | None) -> None:
    """Append ``notes`` in order, keyed with ``key``, in the caller's
    transaction (with its effect or not at all): three writes however many
    notes. Without a key nothing is appended, and the transaction fails."""
    if key is None:
        raise AuditKeyProblem("no audit key to append with (MASH_AUDIT_KEY_FILE)")
    head = await db[HEAD].find_one_and_update(
        {"_id": _HEAD_ID}, {"$inc": {"seq": len(notes)}}, upsert=True,
        return_document=ReturnDocument.AFTER, session=session)
    assert head is not None  # upserted
    seq = int(head["seq"]) - len(notes)
    prev = str(head.get("hash") or GENESIS)
    entries = []
    for note in notes:
        seq += 1
        entry = make_entry(seq, prev, key=key, actor=note.actor, action=note.action,
                           case_id=note.case_id, what=note.what, at=note.at)
        entries.append({"_id": seq, **entry})
        prev = entry["hash"]
    await db[AUDIT].insert_many(entries, session=session)
    await db[HEAD].update_one({"_id": _HEAD_ID}, {"$set": {"hash": prev}}, session=session)


async def read(db: AsyncDatabase[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                            dict[str, Any] | None]:
    """The head, then the chain up to it: a consistent view of a live service.

    Entries and head commit together, so every entry up to the head's seq is
    there when the head is read. Reading the entries first would race an
    append committing in between and report a missing entry that is not
    missing (found by the fault tests, with decision's sweeper appending).
    """
    head = await db[HEAD].find_one({"_id": _HEAD_ID})
    upto = int(head.get("seq", 0)) if head else 0
    entries = await db[AUDIT].find({"seq": {"$lte": upto}}).sort("seq", 1).to_list()
    return entries, head


async def check(db: AsyncDatabase[dict[str, Any]],
                keys: Mapping[str, bytes]) -> tuple[int, Broken | None]:
    """How many entries, and the first broken one (``keys`` as for ``verify``)."""
    entries, head = await read(db)
    return len(entries), verify(entries, head, keys)


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[AUDIT].create_index("case_id")
