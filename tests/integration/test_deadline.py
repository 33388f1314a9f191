"""The decision waits for every agency or the research deadline, and the
deadline is kept in the database, so a restart does not lose it."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from contracts import topics
from contracts.events import OutcomeRouted
from mash.stack import Stack
from tests.embedded import Wire, about
from tests.factories import contact_about_a_new_family as submitted
from tests.stacks import own_stack, wire_to

pytestmark = pytest.mark.integration

# youth-offending is configured but no research service runs for it.
ENV = {
    "MASH_AGENCIES": "police,health,youth-offending",
    "MASH_RESEARCH_WINDOW_RED_SECONDS": "6",
    "MASH_RESEARCH_WINDOW_AMBER_SECONDS": "6",
    "MASH_RESEARCH_WINDOW_GREEN_SECONDS": "6",
    "MASH_SWEEP_SECONDS": "0.5",
}

SERVICES = ["intake", "decision", "notify", "research-police", "research-health"]


@pytest.fixture(scope="module")
async def short_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with own_stack(tmp_path_factory.mktemp("deadline"), SERVICES, ENV) as running:
        yield running


@pytest.fixture(scope="module")
async def short_wire(short_stack: Stack) -> AsyncIterator[Wire]:
    async with wire_to(short_stack) as client:
        yield client




async def test_a_silent_agency_does_not_hold_the_case_past_its_deadline(
        short_wire: Wire) -> None:
    cid = f"late-{uuid.uuid4().hex[:8]}"
    sent = time.monotonic()
    await short_wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    [(_, raw)] = await short_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=60)
    waited = time.monotonic() - sent
    outcome = OutcomeRouted.model_validate_json(raw)
    case = await short_wire.mongo["mash_decision"].cases.find_one({"_id": outcome.data.case_id})
    assert case is not None
    assert case["decision"]["agencies_missing"] == ["youth-offending"]
    assert sorted(case["decision"]["agencies_answered"]) == ["health", "police"]
    assert any(r["rule_id"] == "N1-AGENCIES-MISSING" for r in case["decision"]["reasons"])
    assert waited >= 5.5, "decided before the deadline without every agency"


async def test_the_deadline_survives_a_restart_of_the_decision_service(
        short_stack: Stack, short_wire: Wire) -> None:
    cid = f"restart-{uuid.uuid4().hex[:8]}"
    await short_wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    decisions = short_wire.mongo["mash_decision"].cases
    for _ in range(300):  # until decision holds the case, waiting on youth-offending
        case = await decisions.find_one({"opened.contact.contact_id": cid})
        if case and len(case.get("findings", {})) == 2:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the case never reached the decision service")
    assert case["state"] == "gathering"

    await short_stack.stop_service("decision")
    await asyncio.sleep(7)  # the deadline passes while no decision service runs
    assert (await decisions.find_one({"_id": case["_id"]}) or {})["state"] == "gathering"
    await short_stack.start_services(only=["decision"], env=ENV)

    assert await short_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=30)
    decided = await decisions.find_one({"_id": case["_id"]})
    assert decided is not None
    assert decided["state"] == "decided"
    assert decided["decision"]["agencies_missing"] == ["youth-offending"]
