"""`mash reconcile`: re-drive every case in flight from the databases.

The database is the source of truth and the broker is transport. The
embedded broker keeps nothing across a restart, so the operator (and the
stack, after every start and every broker restart) asks every service to
publish again, from its own outbox, what may still be in flight; consumers
skip what they have already handled. See ``plumbing.outbox`` for what is
re-driven and why.

The request is a document in each service's own database, written with the
operator's user: it needs no broker (which may have just come back empty) and
a service that is down does it when it starts. The CLI talks to services over
the database only and imports none of them.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import typer
from pymongo import AsyncMongoClient

from contracts.envelope import utc_now
from mash.credentials import service_databases
from mash.settings import StackSettings
from plumbing import quarantine
from plumbing.outbox import CONTROL, REDRIVE, MongoOutbox, request_redrive, stuck_line


@dataclass
class Redriven:
    service: str
    done: bool
    requeued: int | None
    backlog: int
    # The oldest event still unsent: which, where to, how big, why (None: none).
    stuck: str | None = None
    # Events the relay set aside as never publishable (held in quarantine).
    set_aside: int = 0


async def request(settings: StackSettings, window_seconds: float | None = None,
                  wait_seconds: float = 0.0, only: list[str] | None = None,
                  rewind: bool = False) -> list[Redriven]:
    """Ask every service (or `only` those named: the ones a stack runs) to
    re-drive, and with ``rewind`` to read every partition again from the
    start (the broker restarted empty); wait up to `wait_seconds` until each
    has re-queued its events and published them (backlog 0)."""
    since = utc_now() - timedelta(seconds=window_seconds) if window_seconds else None
    databases = {name: database for name, database in service_databases().items()
                 if only is None or name in only}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.operator_mongo_uri, tz_aware=True, serverSelectionTimeoutMS=10_000)
    try:
        for database in databases.values():
            await request_redrive(client[database], since, by="mash reconcile", rewind=rewind)
        deadline = time.monotonic() + wait_seconds
        while True:
            rows = []
            for name, database in databases.items():
                doc = await client[database][CONTROL].find_one({"_id": REDRIVE}) or {}
                backlog = await MongoOutbox(client[database], name).backlog()
                rows.append(Redriven(name, doc.get("done_at") is not None, doc.get("requeued"),
                                     backlog))
            if all(r.done and r.backlog == 0 for r in rows) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
        # What is stuck, once, for the report (not on every look while waiting).
        for r in rows:
            db = client[databases[r.service]]
            oldest = await MongoOutbox(db, r.service).oldest_unsent() if r.backlog else None
            r.stuck = stuck_line(oldest) if oldest else None
            r.set_aside = await db[quarantine.QUARANTINE].count_documents({"kind": "unpublished"})
        return rows
    finally:
        await client.close()


def reconcile(
    window: Annotated[float | None, typer.Option(
        help="Seconds back to re-drive (default: each service's MASH_REDRIVE_WINDOW_SECONDS, "
             "7 days).")] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for every service.")] = 60.0,
    rewind: Annotated[bool, typer.Option(
        help="The broker restarted empty: every consumer reads its partitions again from the "
             "start, so an offset left from the old broker never skips a re-driven event.")
    ] = False,
) -> None:
    """Re-drive every case in flight from the databases (after the broker lost its topics)."""
    rows = asyncio.run(request(StackSettings(), window, wait, rewind=rewind))
    print(f"{'service':<32} {'re-queued':>9} {'unsent':>7}  state")
    for r in rows:
        state = "done" if r.done and r.backlog == 0 else (
            "publishing" if r.done else "requested (not running?)")
        print(f"{r.service:<32} {r.requeued if r.requeued is not None else '-':>9} "
              f"{r.backlog:>7}  {state}")
    for r in rows:
        if r.stuck and r.backlog:
            print(f"  {r.service}: oldest unsent: {r.stuck}")
        if r.set_aside:
            print(f"  {r.service}: {r.set_aside} event(s) set aside as never publishable "
                  "(`mash dlq list`; held in its quarantine)")
    pending = [r.service for r in rows if not (r.done and r.backlog == 0)]
    if pending:
        print(f"mash reconcile: {len(pending)} service(s) not done yet; each will re-drive when "
              "it runs")
        raise typer.Exit(1)
    print(f"mash reconcile: {sum(r.requeued or 0 for r in rows)} event(s) published again")
