"""One transaction per message: the state change, the events it causes, its
audit entries and the record that this message has been handled, committed
together.

This is the transactional outbox with an idempotent consumer: after a crash
at any point either all of it happened (and a redelivery is skipped) or none
of it did (and the redelivery does it).
"""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Event, utc_now
from contracts.signing import sign
from plumbing import audit
from plumbing.tracing import trace_headers
from plumbing.wire import headers_for

OUTBOX = "outbox"
PROCESSED = "processed_messages"


@dataclass
class Transaction:
    db: AsyncDatabase[dict[str, Any]]
    session: AsyncClientSession
    consumer: str
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _notes: list[audit.Note] = field(default_factory=list)
    _redelivered: bool = False
    audit_key: audit.Key | None = None
    # (signer, private key): every event this service emits is signed, so a
    # consumer can tell it came from here (decision checks findings so).
    signing: tuple[str, Ed25519PrivateKey] | None = None

    async def claim(self, event_id: str) -> bool:
        """Record that this consumer handles the message, as the transaction's
        first write. False when it already has (a redelivery): the handler
        then returns, and the transaction is aborted having changed nothing.

        One insert, its unique ``_id`` the check, where a look-up and a later
        insert were two statements: each statement of a transaction is a
        round trip, and they are what the embedded database is short of. Two
        consumers claiming one message at once meet in a write conflict; the
        guard retries the loser, which then finds the claim committed."""
        try:
            await self.db[PROCESSED].insert_one(
                {"_id": f"{self.consumer}:{event_id}", "at": utc_now()}, session=self.session)
        except DuplicateKeyError:
            self._redelivered = True
            return False
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

    async def _flush(self) -> None:
        if self._pending:
            await self.db[OUTBOX].insert_many(self._pending, session=self.session)
        # Last: every transaction of the service writes the chain's head.
        if self._notes:
            await audit.append(self.db, self.session, self._notes, self.audit_key)


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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._client.start_session() as session:
            await session.start_transaction()
            tx = Transaction(self._db, session, self._consumer, audit_key=self.audit_key,
                             signing=self.signing)
            try:
                yield tx
                if tx._redelivered:
                    # The duplicate key ended the transaction on the server.
                    await session.abort_transaction()
                    return
                await tx._flush()
            except BaseException:
                if session.in_transaction:
                    await session.abort_transaction()
                raise
            await session.commit_transaction()
        if tx._pending:
            self._committed.set()


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[OUTBOX].create_index([("sent_at", 1), ("created_at", 1)])
