"""The outbox relay: publishes what transactions committed, then marks it sent.

Waking. A commit in this process wakes the relay at once; polling (every
``MASH_OUTBOX_POLL_SECONDS``) finds documents written by anyone else (a second
instance, a re-drive) and events committed just before a crash, which the
next start publishes. A change stream on the outbox (inserts only) can wake
it for the former at once (``MASH_OUTBOX_CHANGE_STREAM``; off by default: on
SecantusDB it costs more database work than everything else together, and
without it a database whose change stream is unavailable loses nothing). Events are
published in commit order (``created_at``), so one key's events keep their
order. Each outbox document keeps the headers stored when it was emitted,
``traceparent`` included, so a trace continues across the relay.

Re-drive: the database is the source of truth, the broker is transport. The
embedded broker (tansu) keeps topics in memory only, so after it restarts
whatever was published but not yet consumed is gone. Every service therefore
keeps its outbox after sending, and on request (``mash reconcile``, which the
stack also runs after every start and every broker restart) marks unsent again:

- every outbox event created since a cut-off (``MASH_REDRIVE_WINDOW_SECONDS``,
  default 7 days: longer than any research deadline, 72 h for GREEN, so
  every case still gathering is covered), and
- whatever the service names as still in flight regardless of age (notify:
  outcomes not yet acknowledged, so receiving teams see them again and their
  acknowledgements, which a restarted broker forgot, are given again);

and the relay republishes them in their original order with their original
ids. Why this and not a per-service query ("enquiries without findings,
decisions without outcomes"): no service knows another's state (intake cannot
see which cases decision has decided), a replay needs no new code per event
kind, and it is correct because every consumer is idempotent by event id
(processed-message records, the research queue keyed by enquiry id, ids
derived from the consumed event), so a repeat is acknowledged and skipped.
The cost is bounded by the window: a week of a large hub's events is tens of
thousands of small messages, republished in batches.

The request is a document ``{_id: "redrive"}`` in the service's own
``control`` collection, written by the operator; the relay checks it between
batches (so a re-drive never races a batch in flight), does it, and records
when and how many events it re-queued. A request made while the service is
down is done when it starts.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase

from contracts.envelope import utc_now
from plumbing.tracing import attached
from plumbing.unit_of_work import OUTBOX

log = logging.getLogger("mash.outbox")

CONTROL = "control"
REDRIVE = "redrive"

# Ids of outbox events a service still needs delivered whatever their age.
InFlight = Callable[[], Awaitable[list[str]]]


class OutboxRelay:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        broker: KafkaBroker,
        wake: asyncio.Event,
        poll_seconds: float,
        batch: int = 200,
        *,
        redrive_window: timedelta = timedelta(days=7),
        control_seconds: float = 1.0,
        watch: bool = True,
    ) -> None:
        self._db = db
        self._broker = broker
        self._wake = wake
        self._poll = poll_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watch = watch
        self.redrive_window = redrive_window
        self._control_seconds = control_seconds
        self._control_checked = 0.0
        self.in_flight: InFlight | None = None
        self.watching = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        if self._watch:
            self._watcher = asyncio.create_task(self._follow_inserts(), name="outbox-watch")

    async def stop(self) -> None:
        for task in (self._watcher, self._task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def backlog(self) -> int:
        return await self._db[OUTBOX].count_documents({"sent_at": None})

    async def _follow_inserts(self) -> None:
        """Wake the relay on every outbox insert, from any process."""
        failures = 0
        while True:
            try:
                stream = await self._db[OUTBOX].watch([{"$match": {"operationType": "insert"}}])
                async with stream:
                    self.watching = True
                    failures = 0
                    async for _change in stream:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.watching = False
                failures += 1
                if failures == 1:
                    log.warning("outbox change stream unavailable (%s: %s); polling every %.1fs "
                                "instead", type(error).__name__, error, self._poll)
                # Keep trying now and then: the database may come back.
                await asyncio.sleep(min(60.0, 1.0 * 2 ** min(failures, 6)))

    async def _run(self) -> None:
        while True:
            try:
                await self._check_control()
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Database or broker away: keep the events, try again shortly.
                log.exception("outbox relay failed; will retry")
                sent = 0
                await asyncio.sleep(self._poll)
            if sent:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def _check_control(self) -> None:
        now = time.monotonic()
        if now - self._control_checked < self._control_seconds:
            return
        self._control_checked = now
        request = await self._db[CONTROL].find_one({"_id": REDRIVE, "done_at": None})
        if request is None:
            return
        since = request.get("since") or utc_now() - self.redrive_window
        count = await self.redrive(since)
        # Only this request: a newer one written meanwhile stays to be done.
        await self._db[CONTROL].update_one(
            {"_id": REDRIVE, "requested_at": request.get("requested_at")},
            {"$set": {"done_at": utc_now(), "requeued": count}},
        )
        log.info("re-drive: %d outbox event(s) since %s queued to publish again", count,
                 f"{since:%Y-%m-%d %H:%M:%S}")

    async def redrive(self, since: datetime) -> int:
        """Mark unsent what may still be in flight; the relay republishes it."""
        scope: list[dict[str, Any]] = [{"created_at": {"$gte": since}}]
        if self.in_flight is not None:
            ids = await self.in_flight()
            if ids:
                scope.append({"_id": {"$in": ids}})
        result = await self._db[OUTBOX].update_many(
            {"sent_at": {"$ne": None}, "$or": scope},
            {"$set": {"sent_at": None, "redriven_at": utc_now()}},
        )
        return int(result.modified_count)

    async def relay_once(self) -> int:
        pending = (
            await self._db[OUTBOX]
            .find({"sent_at": None})
            .sort("created_at", 1)
            .limit(self._batch)
            .to_list()
        )
        if not pending:
            return 0
        futures = []
        for doc in pending:
            # Publish inside the trace of the handler that emitted the event:
            # the telemetry middleware makes its span a child of that one.
            with attached(doc["headers"]):
                futures.append(
                    await self._broker.publish(
                        bytes(doc["value"]),
                        doc["topic"],
                        key=doc["key"].encode("utf-8"),
                        headers=dict(doc["headers"]),
                        no_confirm=True,
                    )
                )
        # Sent in order without waiting on each; confirmed all before marking.
        await asyncio.gather(*futures)
        await self._db[OUTBOX].update_many(
            {"_id": {"$in": [doc["_id"] for doc in pending]}},
            {"$set": {"sent_at": utc_now()}},
        )
        return len(pending)


async def request_redrive(db: AsyncDatabase[dict[str, Any]], since: datetime | None,
                          by: str) -> None:
    """Ask the service that owns ``db`` to re-drive (the operator's side)."""
    await db[CONTROL].update_one(
        {"_id": REDRIVE},
        {"$set": {"requested_at": utc_now(), "since": since, "by": by, "done_at": None,
                  "requeued": None}},
        upsert=True,
    )
