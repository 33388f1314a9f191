"""The audit trail: append-only and tamper-evident, in each service's own database.

Every entry names who did what to which case, when, and hashes its
predecessor: ``hash = sha256(prev_hash + canonical JSON of the entry)``. An
edited entry no longer matches its hash, a deleted one leaves a gap in the
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
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

AUDIT = "audit"
HEAD = "audit_head"
GENESIS = "0" * 64
_HEAD_ID = "head"
_FIELDS = ("seq", "at", "actor", "action", "case_id", "what", "prev_hash")


def canonical(value: Any) -> str:
    """One JSON text for one value: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """``what`` as it will read back from the database (JSON types only)."""
    result: dict[str, Any] = json.loads(canonical(value))
    return result


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(body)).encode("utf-8")).hexdigest()


def make_entry(seq: int, prev_hash: str, *, actor: str, action: str, case_id: str | None,
               what: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    body = {"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor,
            "action": action, "case_id": case_id, "what": plain(what), "prev_hash": prev_hash}
    return {**body, "hash": entry_hash(prev_hash, body)}


@dataclass(frozen=True)
class Broken:
    """Where the chain first stops being what was written, and why."""

    seq: int
    reason: str


def verify(entries: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None) -> Broken | None:
    """The first broken entry, or None when the chain is whole.

    ``entries`` in stored order of ``seq``; ``head`` the head document (None
    if nothing was ever appended).
    """
    expected_seq, prev = 1, GENESIS
    for entry in entries:
        seq = entry.get("seq")
        if seq != expected_seq:
            return Broken(expected_seq, f"is missing (found {seq} next)")
        body = {name: entry.get(name) for name in _FIELDS}
        if entry.get("prev_hash") != prev:
            return Broken(expected_seq, "does not follow the entry before it (prev_hash differs)")
        if entry.get("hash") != entry_hash(prev, body):
            return Broken(expected_seq, "was changed after it was written (hash differs)")
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
                 notes: list[Note]) -> None:
    """Append ``notes`` in order, in the caller's transaction (with its
    effect or not at all): three writes however many notes."""
    head = await db[HEAD].find_one_and_update(
        {"_id": _HEAD_ID}, {"$inc": {"seq": len(notes)}}, upsert=True,
        return_document=ReturnDocument.AFTER, session=session)
    assert head is not None  # upserted
    seq = int(head["seq"]) - len(notes)
    prev = str(head.get("hash") or GENESIS)
    entries = []
    for note in notes:
        seq += 1
        entry = make_entry(seq, prev, actor=note.actor, action=note.action,
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


async def check(db: AsyncDatabase[dict[str, Any]]) -> tuple[int, Broken | None]:
    """How many entries, and the first broken one."""
    entries, head = await read(db)
    return len(entries), verify(entries, head)


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[AUDIT].create_index("case_id")
