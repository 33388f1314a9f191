"""The work tray, kept in memory: every open case's row, refreshed from the
case views written since the last look. A tray of thousands is sorted and
filtered here in milliseconds, where reading and validating every view on
each refresh took seconds (bench/desk.py).

Any replica of the desk may have written a view (they share the events), so
the index follows the database, not this process's own writes. A view's
``updated_at`` is stamped before its transaction commits: each look goes
back ``overlap`` before the newest stamp seen, so a write that committed
late is still found."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.caseview import OPEN_STAGES, Stage
from contracts.contact import Rag
from services.desk import store
from services.desk.domain import AgencyState, TrayRow, tray_key


def as_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def row_of(doc: dict[str, Any]) -> TrayRow:
    """A tray row from the view's stored fields (no model validation: speed)."""
    contacts = doc.get("contacts") or []
    referrer = contacts[0].get("contact", {}).get("referrer", {}).get("agency", "—") \
        if contacts else "—"
    rag = doc.get("rag")
    return TrayRow(
        case_id=doc["_id"], stage=Stage(doc["stage"]), rag=Rag(rag) if rag else None,
        rag_order=int(doc.get("rag_order", 3)), due_at=as_time(doc.get("due_at")),
        breached=bool(doc.get("breached")), received_at=as_time(doc.get("received_at")),
        referrer=referrer,
        agencies=tuple(AgencyState(a.get("agency", ""), as_time(a.get("answered_at")),
                                   as_time(a.get("answer_by")))
                       for a in doc.get("agencies") or []))


class Tray:
    """Refreshed by a background job, never by a page: a page sorts what is
    here (at most one refresh behind, two seconds). Each look asks which
    views were written (id and time only) and reads in full only those not
    already held at that time; a full look now and then also drops a case
    whose closing write was missed."""

    def __init__(self, overlap: timedelta = timedelta(seconds=10),
                 reload_every: timedelta = timedelta(minutes=1)) -> None:
        self.overlap, self.reload_every = overlap, reload_every
        self.rows: dict[str, TrayRow] = {}
        self.stamps: dict[str, datetime] = {}
        self.newest: datetime | None = None
        self.loaded = asyncio.Event()
        self._reloaded_at: float | None = None
        self._wanted_at: float | None = None
        self._lock = asyncio.Lock()

    def wanted(self) -> None:
        """Someone has the tray open: keep the index current."""
        self._wanted_at = asyncio.get_running_loop().time()

    async def keep_current(self, db: AsyncDatabase[dict[str, Any]],
                           idle: timedelta = timedelta(minutes=5)) -> None:
        """The job's look: only while the tray is being read. Unread for
        ``idle``, the index is dropped, and the next page loads it afresh."""
        now = asyncio.get_running_loop().time()
        if self._wanted_at is not None and now - self._wanted_at <= idle.total_seconds():
            await self.refresh(db)
        elif self.loaded.is_set():
            async with self._lock:
                self.rows, self.stamps, self.newest = {}, {}, None
                self._reloaded_at = None
                self.loaded.clear()

    async def refresh(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            full = self._reloaded_at is None or \
                now - self._reloaded_at >= self.reload_every.total_seconds()
            since = None if full or self.newest is None else self.newest - self.overlap
            written = await store.written_since(db, since)
            if since is None:
                for gone in set(self.rows) - set(written):  # closed, or no longer there
                    del self.rows[gone]
                self.stamps = {k: v for k, v in self.stamps.items() if k in written}
                self._reloaded_at = now
            stale = [case_id for case_id, at in written.items() if self.stamps.get(case_id) != at]
            for doc in await store.tray_rows(db, stale):
                row = row_of(doc)
                stamp = as_time(doc.get("updated_at"))
                if row.stage in OPEN_STAGES:
                    self.rows[row.case_id] = row
                else:
                    self.rows.pop(row.case_id, None)
                if stamp is not None:  # a closed case's too: not read again unless written
                    self.stamps[row.case_id] = stamp
            for at in written.values():
                if self.newest is None or at > self.newest:
                    self.newest = at
            self.loaded.set()

    def open(self, stages: list[str] | None = None, rag: str | None = None) -> list[TrayRow]:
        """Open cases, RED before AMBER before GREEN, then the least time left."""
        rows = (r for r in self.rows.values()
                if (stages is None or r.stage.value in stages)
                and (rag is None or (r.rag is not None and r.rag.value == rag)))
        return sorted(rows, key=tray_key)
