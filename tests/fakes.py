"""An in-memory unit of work, for driving a service's handlers in unit tests
without a broker or a database.

It keeps the promises of ``plumbing.unit_of_work``: a claim is recorded once
per consumer and a second claim of the same id is refused, events are
published and audit entries appended only when the transaction commits, and
work left for after the commit runs only then. ``db`` is an in-memory
stand-in for the service's database (mongomock, with the PyMongo async API);
it has no transactions, so what a handler wrote there before failing stays.
Use it for orchestration, never to prove a query against the real database
(the integration tests do that).
"""

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mongomock_motor import AsyncMongoMockClient

from contracts.envelope import Event, utc_now
from plumbing import audit
from plumbing.unit_of_work import CHAIN, DEFAULT_CHAIN, Staged, entry


@dataclass(frozen=True)
class Emitted:
    topic: str
    event: Event[Any]
    key: str


class MockStaged(Staged):
    """Staged documents written one by one: mongomock's ``bulk_write`` does
    not take the present PyMongo's ``ReplaceOne``."""

    async def write(self) -> None:
        for doc_id, doc in self._changed.items():
            await self.collection.replace_one({"_id": doc_id}, doc, upsert=True)


@dataclass
class FakeTransaction:
    db: Any
    uow: "FakeUnitOfWork"
    chain: str
    session: Any = None
    emitted: list[Emitted] = field(default_factory=list)
    notes: list[audit.Note] = field(default_factory=list)
    claims: set[str] = field(default_factory=set)
    after: list[Callable[[], None]] = field(default_factory=list)
    staged: dict[str, Staged] = field(default_factory=dict)

    async def claim(self, event_id: str) -> bool:
        if event_id in self.uow.claimed or event_id in self.claims:
            return False
        self.claims.add(event_id)
        return True

    def emit(self, topic: str, event: Event[Any], *, key: str | None = None) -> None:
        # As the real one does: an event too large for the broker fails here.
        entry(topic, event, key=key)
        self.emitted.append(Emitted(topic, event, key or event.subject))

    def audit(self, *, actor: str, action: str, case_id: str | None = None,
              what: Mapping[str, Any] | None = None, at: datetime | None = None) -> None:
        self.notes.append(audit.Note(actor, action, case_id, what or {}, at or utc_now()))

    def after_commit(self, action: Callable[[], None]) -> None:
        self.after.append(action)

    def documents(self, collection: str) -> Staged:
        if collection not in self.staged:
            self.staged[collection] = MockStaged(self.db[collection], None)
        return self.staged[collection]


class FakeUnitOfWork:
    """What committed: ``claimed`` ids, ``outbox`` events, ``audit`` notes by
    chain; ``commits`` and ``aborts`` counted."""

    def __init__(self) -> None:
        self.db: Any = AsyncMongoMockClient(tz_aware=True)["fake"]
        self.claimed: set[str] = set()
        self.outbox: list[Emitted] = []
        self.audit: dict[str, list[audit.Note]] = {}
        self.commits = 0
        self.aborts = 0

    @asynccontextmanager
    async def transaction(self, chain: str | None = None) -> AsyncIterator[FakeTransaction]:
        tx = FakeTransaction(self.db, self, chain or CHAIN.get() or DEFAULT_CHAIN)
        try:
            yield tx
            for staged in tx.staged.values():
                await staged.write()
        except BaseException:
            self.aborts += 1
            raise
        self.commits += 1
        self.claimed |= tx.claims
        self.outbox.extend(tx.emitted)
        self.audit.setdefault(tx.chain, []).extend(tx.notes)
        for action in tx.after:
            action()

    def events(self, topic: str | None = None) -> list[Event[Any]]:
        return [e.event for e in self.outbox if topic is None or e.topic == topic]

    def topics(self) -> list[str]:
        return [e.topic for e in self.outbox]

    def actions(self) -> list[str]:
        return [n.action for notes in self.audit.values() for n in notes]
