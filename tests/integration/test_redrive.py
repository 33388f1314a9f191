"""The broker restarts empty (the embedded tansu keeps topics in memory only):
cases in flight are re-driven from the databases, by `mash reconcile` or by
the stack itself, and complete; what already completed is not doubled."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from contracts import topics
from contracts.events import OutcomeRouted
from mash.stack import Stack
from tests.embedded import Wire, mash_cli
from tests.integration.test_deadline import submitted
from tests.stacks import own_stack, wire_to

pytestmark = pytest.mark.integration

ENV = {"MASH_AGENCIES": "police,health", "MASH_SWEEP_SECONDS": "0.5"}
# The desk too: `mash reconcile` waits for every service to re-drive.
SERVICES = ["intake", "decision", "notify", "research-police", "research-health", "desk"]


@pytest.fixture(scope="module")
async def redrive_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with own_stack(tmp_path_factory.mktemp("redrive"), SERVICES, ENV) as running:
        yield running


@pytest.fixture(scope="module")
async def redrive_wire(redrive_stack: Stack) -> AsyncIterator[Wire]:
    async with wire_to(redrive_stack) as client:
        yield client


def outcomes_of(cids: set[str]):  # type: ignore[no-untyped-def]
    return lambda _t, v: json.loads(v).get("correlation_id") in cids


async def test_cases_in_flight_when_the_broker_restarts_empty_complete_after_reconcile(
        redrive_stack: Stack, redrive_wire: Wire) -> None:
    wire = redrive_wire
    # One case completes before the restart: its outcome must not be doubled.
    done = f"done-{uuid.uuid4().hex[:8]}"
    await wire.send(topics.CONTACTS_SUBMITTED, submitted(done), key=done)
    [(_, before)] = await wire.wait_for(topics.OUTCOME_TOPICS, outcomes_of({done}), timeout=60)
    first = OutcomeRouted.model_validate_json(before)

    # Two cases are in flight: opened and researched, but decision is down,
    # so their cases.opened and findings wait on the broker ...
    await redrive_stack.stop_service("decision")
    flying = {f"fly-{uuid.uuid4().hex[:8]}" for _ in range(2)}
    for cid in flying:
        await wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    answered = wire.mongo["mash_research_health"].enquiries
    for _ in range(300):
        if await answered.count_documents({"state": "answered"}) >= 3:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("research never answered the enquiries")
    await asyncio.sleep(1.5)  # the relay publishes the findings

    # ... and the broker restarts empty: all of that is gone.
    await redrive_stack.restart_broker(redrive=False)
    assert await wire.read(*topics.lanes(topics.FINDINGS), *topics.lanes(topics.CASES_OPENED)) == []
    await redrive_stack.start_services(only=["decision"], env=ENV)
    assert await wire.wait_for(topics.OUTCOME_TOPICS, outcomes_of(flying), timeout=5) == [], \
        "decided without the re-drive: the test proves nothing"

    began = time.monotonic()
    result = await mash_cli(redrive_stack.settings, "reconcile", "--wait", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intake" in result.stdout
    assert "done" in result.stdout

    hits = await wire.wait_for(topics.OUTCOME_TOPICS, outcomes_of(flying), count=2, timeout=60)
    print(f"re-drive: {len(flying)} cases in flight decided {time.monotonic() - began:.1f}s "
          "after `mash reconcile`")
    assert {json.loads(v)["correlation_id"] for _, v in hits} == flying

    # The completed case's outcome is not acknowledged, so notify sends it
    # again for the team to see, with the same id: a redelivery, never a
    # second outcome.
    again = await wire.wait_for(topics.OUTCOME_TOPICS, outcomes_of({done}), timeout=30)
    assert [OutcomeRouted.model_validate_json(v).id for _, v in again] == [first.id]
    cases = wire.mongo["mash_decision"].cases
    assert await cases.count_documents({"opened.contact.contact_id": {"$in": [*flying, done]},
                                        "state": "decided"}) == 3


async def test_the_stack_re_drives_by_itself_after_a_broker_restart(
        redrive_stack: Stack, redrive_wire: Wire) -> None:
    wire = redrive_wire
    await redrive_stack.stop_service("notify")
    cid = f"auto-{uuid.uuid4().hex[:8]}"
    await wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    decided = wire.mongo["mash_decision"].cases
    for _ in range(300):
        if await decided.count_documents({"opened.contact.contact_id": cid,
                                          "state": "decided"}):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("never decided")
    await asyncio.sleep(1.5)  # the decision is on the broker, notify is down
    # Re-drives, as `mash up` does; notify (down) does its part when it
    # starts, so there is nothing to wait for here.
    await redrive_stack.restart_broker(wait_seconds=2)
    await redrive_stack.start_services(only=["notify"], env=ENV)
    hits = await wire.wait_for(topics.OUTCOME_TOPICS, outcomes_of({cid}), timeout=60)
    assert len(hits) == 1
