"""Messages set aside whole, in the service's own database.

What could not be used is described on the wire (``plumbing.original``) and
kept here, whole, where only the service and the operator can read it:

- ``rejected``: a contact intake refused. Kept ``retention`` (30 days by
  default, ``MASH_QUARANTINE_DAYS``) so the operator can give it back to its
  sender (`mash quarantine export`), then deleted: it holds personal data
  that nobody has accepted responsibility for.
- ``dead-letter``: a message a consumer could never handle, and
  ``unpublished``: an event its own service could never publish (too large,
  a topic refused). Kept until someone deletes them: each is work that did
  not get through (`mash dlq replay` reads the original from here).

A message is kept up to ``HELD_BYTES`` (a MongoDB document stops at 16 MiB);
beyond that its start is kept and the record says so, with the size and hash
of the whole.
"""

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from bson import Binary
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from plumbing.guard import Delivery

QUARANTINE = "quarantine"
HELD_BYTES = 8 * 1024 * 1024
# Headers kept with a message: enough to replay it, never 10,000 of them.
HELD_HEADERS = 64

Kind = Literal["rejected", "dead-letter", "unpublished"]


def kept_as(db: AsyncDatabase[dict[str, Any]], held_id: str) -> str:
    """Where a held message is, in words the operator's CLI reads back."""
    return f"{db.name}.{QUARANTINE}/{held_id}"


def where(locator: str) -> tuple[str, str]:
    """(database, id) of a ``kept_as`` locator."""
    place, _, held_id = locator.partition("/")
    database, _, collection = place.rpartition(".")
    if collection != QUARANTINE or not database or not held_id:
        raise ValueError(f"{locator!r} is not where a held message is kept")
    return database, held_id


async def keep(db: AsyncDatabase[dict[str, Any]], *, held_id: str, kind: Kind, raw: bytes,
               topic: str, partition: int, offset: int, key: str | None,
               headers: Mapping[str, str], reason: str, at: datetime,
               sender: str | None = None, expires_at: datetime | None = None,
               session: AsyncClientSession | None = None) -> str:
    """Hold ``raw`` under ``held_id`` (once: holding it again changes nothing)."""
    await db[QUARANTINE].update_one(
        {"_id": held_id},
        {"$setOnInsert": {
            "kind": kind, "at": at, "topic": topic, "partition": partition, "offset": offset,
            "key": key, "headers": [[k, v] for k, v in list(headers.items())[:HELD_HEADERS]],
            "sender": sender, "reason": reason[:2000], "size_bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(), "original": Binary(raw[:HELD_BYTES]),
            "truncated": len(raw) > HELD_BYTES, "expires_at": expires_at}},
        upsert=True, session=session)
    return kept_as(db, held_id)


async def hold(db: AsyncDatabase[dict[str, Any]], delivery: Delivery, *, held_id: str,
               kind: Kind, reason: str, at: datetime, sender: str | None = None,
               expires_at: datetime | None = None,
               session: AsyncClientSession | None = None) -> str:
    """Hold a message as it was delivered, with where it came from."""
    return await keep(db, held_id=held_id, kind=kind, raw=delivery.raw, topic=delivery.topic,
                      partition=delivery.partition, offset=delivery.offset,
                      key=delivery.key[:200] if delivery.key else None,
                      headers=delivery.headers, reason=reason, at=at, sender=sender,
                      expires_at=expires_at, session=session)


async def purge(db: AsyncDatabase[dict[str, Any]], now: datetime) -> int:
    """Delete what has been held past its retention; how many."""
    result = await db[QUARANTINE].delete_many({"expires_at": {"$ne": None, "$lte": now}})
    return int(result.deleted_count)


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[QUARANTINE].create_index("expires_at")
    await db[QUARANTINE].create_index([("kind", 1), ("at", -1)])
