"""Research answers the highest risk first, and waits out its store being down.

A stack of its own: the broker, the database and the police research service
only, so the backlog is this test's and nothing else answers it.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import psutil
import pytest

from contracts import topics
from contracts.contact import Rag
from contracts.events import FindingReported
from mash.stack import Stack
from tests.embedded import Wire, stack_settings
from tests.research_backlog import enquiry, red_behind_green

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def police_only(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    running = Stack(stack_settings(tmp_path_factory.mktemp("priority")), quiet_services=True,
                    auto_authorise=True)
    try:
        await running.start_servers()
        await running.start_services(only=["research-police"])
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="module")
async def police_wire(police_only: Stack) -> AsyncIterator[Wire]:
    client = Wire(police_only.settings)
    yield client
    await client.close()


async def findings_for(wire: Wire, run: str) -> list[FindingReported]:
    return [FindingReported.model_validate_json(v) for _, v in await wire.read(*topics.lanes(topics.FINDINGS))
            if run in json.loads(v)["subject"]]


async def test_a_red_enquiry_is_answered_before_the_green_backlog(police_wire: Wire) -> None:
    backlog = 400
    took, before, left, overtook, filed_first = await red_behind_green(police_wire, backlog)
    print(f"\nRED answered {took:.1f}s after it was sent behind {backlog} GREEN; "
          f"{before} GREEN answered before it, {left} still waiting, {overtook} answered "
          f"while it waited, {filed_first} filed before it")
    # RED is filed last (one partition, strict order): first in, first out
    # would answer every GREEN first. How many the worker answers while
    # the backlog is still being filed is a race with the filing; once RED
    # is filed, only what the worker already had in hand may go first.
    assert filed_first == backlog
    assert left > 0, "every GREEN was answered before RED was filed: nothing was tested"
    assert overtook <= 2 * 20  # two of the worker's batches (MASH_ANSWER_BATCH, 20)

    queue = police_wire.mongo["mash_research_police"].enquiries
    for _ in range(180):
        if await queue.count_documents({"state": "pending"}) == 0:
            break
        await asyncio.sleep(1)
    assert await queue.count_documents({"state": "pending"}) == 0, "the backlog never drained"


async def test_store_down_enquiries_wait_then_all_are_answered(police_only: Stack,
                                                               police_wire: Wire) -> None:
    run = uuid.uuid4().hex[:6]
    research = next(c for c in police_only.children if c.name == "research-police")
    assert research.process is not None
    await police_only.stop_service("database")
    producer = await police_wire.producer()
    for n in range(20):
        await producer.send_and_wait(topics.enquiries("police"),
                                     enquiry(run, n, Rag.AMBER).to_bytes(), key=run.encode())
    worker = psutil.Process(research.process.pid)
    cpu_before = sum(worker.cpu_times()[:2])
    await asyncio.sleep(8)
    cpu_spent = sum(worker.cpu_times()[:2]) - cpu_before
    assert research.process.returncode is None, "research died with its store down"
    assert cpu_spent < 2.0, f"research spun {cpu_spent:.1f}s of CPU in 8s while its store was down"

    await police_only.start_database()
    for _ in range(120):
        if len(await findings_for(police_wire, run)) == 20:
            break
        await asyncio.sleep(1)
    assert len({f.data.enquiry_id for f in await findings_for(police_wire, run)}) == 20
