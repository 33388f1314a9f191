"""On the real stack, with auto-authorise off and short timescales: the rules
only propose, a timescale passed while the decision service was stopped is
reported as breached when it comes back (the sweeper reads the database), and
a manager's command, signed by the desk, sends the decision on; one the desk
did not sign is refused."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts import topics
from contracts.casework import (
    Actor,
    CaseChanged,
    DecideCommand,
    DecideData,
    HistoryKind,
    Role,
    SlaBreached,
    SlaWarning,
)
from contracts.events import OutcomeRouted
from mash.stack import Stack
from tests.embedded import Wire, about
from tests.factories import contact_about_a_new_family as submitted
from tests.stacks import own_stack, wire_to

pytestmark = pytest.mark.integration

ENV = {
    "MASH_AGENCIES": "police,health",
    "MASH_AUTO_AUTHORISE": "false",
    "MASH_SWEEP_SECONDS": "0.5",
    "MASH_TIMESCALE_SECONDS": json.dumps({"decision-rag": 8, "decision-working-day": 600,
                                          "confidential-enquiry": 600}),
}

SERVICES = ["intake", "decision", "notify", "research-police", "research-health"]


@pytest.fixture(scope="module")
async def people_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with own_stack(tmp_path_factory.mktemp("people"), SERVICES, ENV) as running:
        yield running


@pytest.fixture(scope="module")
async def people_wire(people_stack: Stack) -> AsyncIterator[Wire]:
    async with wire_to(people_stack) as client:
        yield client




async def proposed_case(wire: Wire, cid: str) -> dict[str, Any]:
    cases = wire.mongo["mash_decision"].cases
    for _ in range(300):
        case = await cases.find_one({"opened.contact.contact_id": cid})
        if case and case.get("state") == "proposed":
            return case
        await asyncio.sleep(0.1)
    pytest.fail("the case was never proposed")


async def test_a_breach_during_a_restart_is_reported_and_the_manager_decides(
        people_stack: Stack, people_wire: Wire) -> None:
    cid = f"people-{uuid.uuid4().hex[:8]}"
    sent = time.monotonic()
    await people_wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    case = await proposed_case(people_wire, cid)
    case_id = case["_id"]
    assert case.get("decision") is None
    assert not await people_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=1)

    await people_stack.stop_service("decision")
    await asyncio.sleep(max(0.0, 9.5 - (time.monotonic() - sent)))  # decision-rag (8 s) passes
    assert not await people_wire.wait_for((topics.SLA_BREACHED,), about(cid), timeout=0.5)
    await people_stack.start_services(only=["decision"], env=ENV)

    [(_, raw)] = await people_wire.wait_for((topics.SLA_BREACHED,), about(cid), timeout=30)
    breach = SlaBreached.model_validate_json(raw)
    assert (breach.data.case_id, breach.data.timescale) == (case_id, "decision-rag")
    stored = await people_wire.mongo["mash_decision"].cases.find_one({"_id": case_id})
    assert stored is not None
    [rag_clock] = [t for t in stored["timescales"] if t["timescale"] == "decision-rag"]
    assert rag_clock["breached_at"] is not None
    assert stored["state"] == "proposed"

    command = DecideCommand.new(
        DecideData(case_id=case_id, actor=Actor(actor_id="mgr-it", role=Role.MANAGER),
                   action="authorise", rationale="Read the product; agree."),
        source="/mash/cli", subject=case_id, correlation_id=case_id)
    await people_wire.send(topics.DECISION_COMMANDS, command, key=case_id)  # signed by the desk
    [(_, out)] = await people_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=30)
    outcome = OutcomeRouted.model_validate_json(out)
    assert outcome.data.decided_by == "mgr-it"
    assert outcome.data.due
    decided = await people_wire.mongo["mash_decision"].cases.find_one({"_id": case_id})
    assert decided is not None
    assert decided["state"] == "decided"
    assert [h["kind"] for h in decided["history"]] == ["proposed", "sla-breached", "authorised"]


async def test_a_warning_comes_before_the_breach_while_running(people_wire: Wire) -> None:
    cid = f"warn-{uuid.uuid4().hex[:8]}"
    await people_wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    [(_, w)] = await people_wire.wait_for((topics.SLA_WARNINGS,), about(cid), timeout=30)
    [(_, b)] = await people_wire.wait_for((topics.SLA_BREACHED,), about(cid), timeout=30)
    warning, breach = SlaWarning.model_validate_json(w), SlaBreached.model_validate_json(b)
    assert warning.data.timescale == breach.data.timescale == "decision-rag"
    assert warning.time < breach.data.due_at <= breach.time


async def test_a_command_the_desk_did_not_sign_is_refused_and_changes_nothing(
        people_wire: Wire) -> None:
    cid = f"forged-{uuid.uuid4().hex[:8]}"
    await people_wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    case_id = (await proposed_case(people_wire, cid))["_id"]
    command = DecideCommand.new(
        DecideData(case_id=case_id, actor=Actor(actor_id="mgr-kay", role=Role.MANAGER),
                   action="authorise", rationale="Read the product; agree."),
        source="/mash/cli", subject=case_id, correlation_id=case_id)

    def verdict(_topic: str, value: bytes) -> bool:
        return bool(json.loads(value).get("causation_id") == command.id)

    await people_wire.send(topics.DECISION_COMMANDS, command, key=case_id, signer=None)
    [(_, raw)] = await people_wire.wait_for((topics.CASE_HISTORY,), verdict, timeout=30)
    refused = CaseChanged.model_validate_json(raw).data
    assert refused.kind is HistoryKind.COMMAND_REFUSED
    assert refused.text == ("Command refused: not signed by the desk: commands are accepted only "
                            "from the MASH desk, which authenticates who sends them")
    assert refused.actor.actor_id == "mash-decision", "an unchecked claim is put to nobody's name"
    stored = await people_wire.mongo["mash_decision"].cases.find_one({"_id": case_id})
    assert stored is not None
    assert stored["state"] == "proposed"
    assert "command-refused" not in [h["kind"] for h in stored["history"]]

    # The forged copy did not use up the id: the desk's own command is applied.
    await people_wire.send(topics.DECISION_COMMANDS, command, key=case_id)
    [(_, out)] = await people_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=30)
    assert OutcomeRouted.model_validate_json(out).data.decided_by == "mgr-kay"
