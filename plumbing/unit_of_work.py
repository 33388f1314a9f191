"""One transaction per batch of messages: the state changes, the events they
cause, their audit entries and the records that these messages have been
handled, committed together.

This is the transactional outbox with an idempotent consumer: after a crash
at any point either all of it happened (and a redelivery is skipped) or none
of it did (and the redelivery does it). Handlers see a ``Transaction``, the
protocol below; ``MongoTransaction`` is the real one and the unit tests drive
handlers through an in-memory one (``tests/fakes.py``).

A batch costs a fixed number of statements beyond what its handlers do: one
query for the claims already recorded, and at commit one ``insert_many`` of
new claims, one of outbox events and two writes to the audit chain.
Statements, not documents, are what the database spends its time on: so a
handler that reads and rewrites whole documents (a case, a case's view) can
stage them (``Transaction.documents``), and a batch that touches one case
seven times reads it once and writes it once.
"""

import asyncio
import contextvars
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from contracts.envelope import Event, utc_now
from contracts.signing import sign
from plumbing import audit, metrics
from plumbing.audit import Appended, Heads
from plumbing.tracing import trace_headers
from plumbing.wire import headers_for

OUTBOX = "outbox"
PROCESSED = "processed_messages"

# The audit chain a transaction appends to when its caller names none: the
# partition being consumed (set by the consumer for the batch it handles), so
# that replicas of a service, each owning its partitions, never write one head.
CHAIN: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_chain", default=None)
DEFAULT_CHAIN = "jobs"


def chain_name(text: str) -> str:
    """A chain name from a job's or partition's name: short and plain."""
    return re.sub(r"[^A-Za-z0-9._/:-]", "-", text)[:120] or DEFAULT_CHAIN


@dataclass
class Staged:
    """One collection's documents as a transaction reads and rewrites them:
    each read from the database once, every change kept here, and all of
    them written at the commit in one statement. Only for documents that
    this consumer alone changes while it holds the batch (a case is handled
    by the one consumer that owns its partition); the database still
    detects a writer elsewhere as a conflict."""

    collection: Any
    session: Any
    _read: dict[Any, dict[str, Any] | None] = field(default_factory=dict)
    _changed: dict[Any, dict[str, Any]] = field(default_factory=dict)

    async def find(self, doc_id: Any) -> dict[str, Any] | None:
        """The document as this transaction last left it (a copy)."""
        if doc_id in self._changed:
            return dict(self._changed[doc_id])
        if doc_id not in self._read:
            self._read[doc_id] = await self.collection.find_one({"_id": doc_id},
                                                                session=self.session)
        doc = self._read[doc_id]
        return dict(doc) if doc is not None else None

    def seen(self, doc: dict[str, Any]) -> None:
        """A document this transaction read by a query of its own: later
        ``find``s of it need no statement."""
        self._read.setdefault(doc["_id"], doc)

    def replace(self, doc: dict[str, Any]) -> None:
        """The whole document as it is to be written (created if new)."""
        self._changed[doc["_id"]] = doc

    async def write(self) -> None:
        if self._changed:
            await self.collection.bulk_write(
                [ReplaceOne({"_id": doc_id}, doc, upsert=True)
                 for doc_id, doc in self._changed.items()], session=self.session)

    @property
    def changed(self) -> bool:
        return bool(self._changed)


class Transaction(Protocol):
    """What a handler may do in its unit of work: read and write its
    service's own collections (``db``, with ``session`` on every call), claim
    the message it handles, emit events, put entries on the audit chain, and
    leave work (metrics, log lines) for after the commit."""

    db: Any
    session: Any

    async def claim(self, event_id: str) -> bool: ...

    def emit(self, topic: str, event: Event[Any], *, key: str | None = None) -> None: ...

    def audit(self, *, actor: str, action: str, case_id: str | None = None,
              what: Mapping[str, Any] | None = None, at: datetime | None = None) -> None: ...

    def after_commit(self, action: Callable[[], None]) -> None: ...

    def documents(self, collection: str) -> Staged: ...


class ClaimRaced(OperationFailure):
    """Another process recorded one of this batch's claims first: a write
    conflict in all but name (code 112), so the batch is tried again and
    then finds the claim committed."""

    def __init__(self) -> None:
        super().__init__("a claim was recorded by another process first", code=112)


@dataclass
class MongoTransaction:
    db: AsyncDatabase[dict[str, Any]]
    session: AsyncClientSession
    consumer: str
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _notes: list[audit.Note] = field(default_factory=list)
    _claims: list[dict[str, Any]] = field(default_factory=list)
    _claimed: set[str] = field(default_factory=set)
    _known: set[str] = field(default_factory=set)
    _after: list[Callable[[], None]] = field(default_factory=list)
    _staged: dict[str, Staged] = field(default_factory=dict)
    audit_key: audit.Key | None = None
    # (signer, private key): every event this service emits is signed, so a
    # consumer can tell it came from here (decision checks findings so).
    signing: tuple[str, Ed25519PrivateKey] | None = None
    chain: str = DEFAULT_CHAIN

    def _claim_id(self, event_id: str) -> str:
        return f"{self.consumer}:{event_id}"

    async def recall(self, event_ids: Iterable[str]) -> None:
        """Learn in one query which of ``event_ids`` were handled already, so
        that claiming each of them is no statement of its own."""
        wanted = {self._claim_id(e) for e in event_ids} - self._known
        if not wanted:
            return
        found = self.db[PROCESSED].find({"_id": {"$in": sorted(wanted)}}, {"_id": 1},
                                        session=self.session)
        self._claimed.update([str(doc["_id"]) async for doc in found])
        self._known |= wanted

    async def claim(self, event_id: str) -> bool:
        """Record that this consumer handles the message; False when it
        already has (a redelivery, or the same event twice in a batch): the
        handler then returns having changed nothing.

        The record is written with the batch's others at commit; two
        processes claiming one message at once meet there, and the loser's
        batch is tried again (``ClaimRaced``) and finds the claim."""
        claim_id = self._claim_id(event_id)
        if claim_id not in self._known:
            await self.recall([event_id])
        if claim_id in self._claimed:
            return False
        self._claimed.add(claim_id)
        self._claims.append({"_id": claim_id, "at": utc_now()})
        return True

    def emit(self, topic: str, event: Event[Any], *, key: str | None = None) -> None:
        """Queue an event to publish once this transaction commits.

        An event too large for the broker is refused here (EventTooLarge),
        failing the handler, rather than committed to wedge the outbox."""
        self._pending.append(entry(topic, event, key=key, signing=self.signing))

    def audit(self, *, actor: str, action: str, case_id: str | None = None,
              what: Mapping[str, Any] | None = None, at: datetime | None = None) -> None:
        """Put an entry on the audit chain when this transaction commits."""
        self._notes.append(audit.Note(actor, action, case_id, what or {}, at or utc_now()))

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the transaction has committed (never if not)."""
        self._after.append(action)

    def documents(self, collection: str) -> Staged:
        """``collection``'s documents staged in this transaction (``Staged``)."""
        if collection not in self._staged:
            self._staged[collection] = Staged(self.db[collection], self.session)
        return self._staged[collection]

    async def _flush(self, heads: Heads) -> Appended | None:
        for staged in self._staged.values():
            await staged.write()
        if self._claims:
            try:
                await self.db[PROCESSED].insert_many(self._claims, session=self.session)
            except (DuplicateKeyError, BulkWriteError) as error:
                if isinstance(error, BulkWriteError) and any(
                        e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                    raise
                raise ClaimRaced() from error
        if self._pending:
            await self.db[OUTBOX].insert_many(self._pending, session=self.session)
        if not self._notes:
            return None
        # Last: the chain's head is the one document every batch on it writes.
        return await audit.append(self.db, self.session, self._notes, self.audit_key,
                                  chain=self.chain, heads=heads)

    @property
    def wrote(self) -> bool:
        return bool(self._claims or self._pending or self._notes
                    or any(s.changed for s in self._staged.values()))


def entry(topic: str, event: Event[Any], *, key: str | None = None,
          signing: tuple[str, Ed25519PrivateKey] | None = None) -> dict[str, Any]:
    """An event as the outbox holds it until the relay has published it.
    EventTooLarge when it would not fit on the broker."""
    value = event.checked_bytes()
    signed = sign(signing[1], signing[0], value) if signing else {}
    return {
        "_id": event.id,
        "topic": topic,
        "key": key or event.subject,
        "value": value,
        # The trace continues across the relay, however late it sends.
        "headers": {**headers_for(event), **trace_headers(), **signed},
        "created_at": utc_now(),
        "sent_at": None,
    }


class UnitOfWork:
    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        db: AsyncDatabase[dict[str, Any]],
        consumer: str,
        committed: asyncio.Event,
        *,
        audit_key: audit.Key | None = None,
        signing: tuple[str, Ed25519PrivateKey] | None = None,
    ) -> None:
        self._client = client
        self._db = db
        self._consumer = consumer
        self._committed = committed
        # Every audit entry is keyed with it; without one, a transaction that
        # audits fails (a service refuses to start without one).
        self.audit_key = audit_key
        self.signing = signing
        # The last committed head of each chain this process wrote: appending
        # to a known head is two statements, not three.
        self.heads = audit.Heads()

    @asynccontextmanager
    async def transaction(self, chain: str | None = None) -> AsyncIterator[MongoTransaction]:
        """One transaction; its audit entries go on ``chain`` (by default the
        partition being consumed, or the background job's own chain)."""
        async with self._client.start_session() as session:
            await session.start_transaction()
            tx = MongoTransaction(self._db, session, self._consumer, audit_key=self.audit_key,
                                  signing=self.signing,
                                  chain=chain or CHAIN.get() or DEFAULT_CHAIN)
            appended: audit.Appended | None = None
            try:
                yield tx
                appended = await tx._flush(self.heads)
                await session.commit_transaction()
            except BaseException:
                if session.in_transaction:
                    await session.abort_transaction()
                self.heads.forget(tx.chain)
                metrics.TRANSACTIONS.labels(outcome="aborted").inc()
                raise
        metrics.TRANSACTIONS.labels(outcome="committed").inc()
        if appended is not None:
            self.heads.committed(appended)
        if tx._pending:
            self._committed.set()
        for action in tx._after:
            action()


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[OUTBOX].create_index([("sent_at", 1), ("created_at", 1)])
