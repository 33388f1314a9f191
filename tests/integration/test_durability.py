"""A commit the database acknowledged outlives the database process.

Every service commits its transaction and only then commits the Kafka offset,
so a commit lost in a crash is a message nobody will deliver again: a lost
referral. This writes through the services' own unit of work as fast as it
can, SIGKILLs the embedded database straight after the last acknowledgement,
starts it again on the same files and counts.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from mash.credentials import mongo_uri, passwords
from mash.stack import Stack
from plumbing.guard import is_transient
from plumbing.unit_of_work import PROCESSED, UnitOfWork
from tests.embedded import stack_settings

pytestmark = pytest.mark.timeout(180)

WRITERS = 4  # concurrent handlers, as several services commit at once
SECONDS = 2.0


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Stack]:
    running = Stack(stack_settings(tmp_path / "durability"), quiet_services=True, auto_authorise=True,
                    echo=lambda line: None)
    try:
        await running.start_servers()
        yield running
    finally:
        await running.stop()


def client_for(stack: Stack) -> AsyncMongoClient[dict[str, Any]]:
    s = stack.settings
    return AsyncMongoClient(mongo_uri(s.mongo_port, "intake", passwords(s.home)["intake"]),
                            tz_aware=True, serverSelectionTimeoutMS=30_000)


async def test_acknowledged_commits_survive_sigkill(servers: Stack) -> None:
    client = client_for(servers)
    db = client["mash_intake"]
    uow = UnitOfWork(client, db, "durability-probe", asyncio.Event())
    acknowledged: list[str] = []
    until = time.monotonic() + SECONDS

    async def writer(n: int) -> None:
        i = 0
        while time.monotonic() < until:
            event_id = f"w{n}-{i}"
            try:
                async with uow.transaction() as tx:
                    assert await tx.claim(event_id)
                    await tx.db.durability_probe.insert_one({"_id": event_id},
                                                            session=tx.session)
            except PyMongoError as error:
                if not is_transient(error):  # a write conflict is retried, as the guard does
                    raise
                continue
            acknowledged.append(event_id)
            i += 1

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    await servers.kill_service("database")
    await client.close()
    await servers.start_database()

    client = client_for(servers)
    try:
        db = client["mash_intake"]
        kept = {d["_id"] async for d in db.durability_probe.find({}, {"_id": 1})}
        marked = await db[PROCESSED].count_documents(
            {"_id": {"$regex": "^durability-probe:"}})
    finally:
        await client.close()
    lost = [e for e in acknowledged if e not in kept]
    print(f"\n{len(acknowledged)} transactions acknowledged in {SECONDS:.0f} s by {WRITERS} "
          f"writers; after SIGKILL and restart {len(kept)} kept, {len(lost)} lost")
    assert len(acknowledged) > 100, "too few commits to say anything"
    assert lost == [], f"{len(lost)} acknowledged commits lost, e.g. {lost[:5]}"
    assert marked == len(acknowledged)
