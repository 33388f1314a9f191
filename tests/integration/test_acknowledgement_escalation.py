"""On the real stack: an outcome the receiving team acknowledges stays quiet;
one it does not is escalated once, even across a restart of notify, and the
escalation is a line in `mash case show`."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from contracts import topics
from contracts.casework import AcknowledgementData, OutcomeAcknowledged, OutcomeEscalated
from contracts.envelope import utc_now
from contracts.events import OutcomeRouted
from mash.stack import Stack
from tests.embedded import Wire, about, mash_cli
from tests.factories import contact_about_a_new_family as submitted
from tests.stacks import own_stack, wire_to

pytestmark = pytest.mark.integration

ENV = {"MASH_AGENCIES": "police", "MASH_AUTO_AUTHORISE": "true", "MASH_SWEEP_SECONDS": "0.5",
       "MASH_ACK_WINDOW_SECONDS": "4"}

SERVICES = ["intake", "decision", "notify", "research-police"]


@pytest.fixture(scope="module")
async def ack_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with own_stack(tmp_path_factory.mktemp("acks"), SERVICES, ENV) as running:
        yield running


@pytest.fixture(scope="module")
async def ack_wire(ack_stack: Stack) -> AsyncIterator[Wire]:
    async with wire_to(ack_stack) as client:
        yield client



async def case_show(stack: Stack, ref: str) -> tuple[int, str]:
    done = await mash_cli(stack.settings, "case", "show", ref, timeout=30)
    return done.returncode, done.stdout + done.stderr



async def test_unacknowledged_outcomes_escalate_once_acknowledged_ones_do_not(
        ack_stack: Stack, ack_wire: Wire) -> None:
    quiet, loud = f"ack-{uuid.uuid4().hex[:6]}", f"noack-{uuid.uuid4().hex[:6]}"
    for cid in (quiet, loud):
        await ack_wire.send(topics.CONTACTS_SUBMITTED, submitted(cid), key=cid)
    routed = {}
    for cid in (quiet, loud):
        [(_, raw)] = await ack_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=30)
        routed[cid] = OutcomeRouted.model_validate_json(raw)
    out = routed[quiet]
    assert out.data.ack_by is not None
    ack = OutcomeAcknowledged.new(
        AcknowledgementData(outcome_id=out.id, case_id=out.data.case_id,
                            destination=out.data.destination, team="nfa-admin",
                            acknowledged_at=utc_now()),
        source="/team/nfa-admin", subject=out.data.case_id, correlation_id=quiet)
    await ack_wire.send(topics.OUTCOME_ACKS, ack, key=out.data.case_id)

    [(_, raw)] = await ack_wire.wait_for((topics.OUTCOME_ESCALATIONS,), about(loud), timeout=30)
    escalation = OutcomeEscalated.model_validate_json(raw)
    assert escalation.data.outcome_id == routed[loud].id

    # notify restarts: nothing is routed twice and nothing escalates again.
    await ack_stack.stop_service("notify")
    await ack_stack.start_services(only=["notify"], env=ENV)
    await asyncio.sleep(3)
    for cid in (quiet, loud):
        outcomes = await ack_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=0)
        assert len({json.loads(v)["id"] for _, v in outcomes}) == 1
    assert len(await ack_wire.wait_for((topics.OUTCOME_ESCALATIONS,), about(loud),
                                       timeout=0)) == 1
    assert not await ack_wire.wait_for((topics.OUTCOME_ESCALATIONS,), about(quiet), timeout=0)

    # The decision service keeps both on the case record; `mash case show` prints them.
    for _ in range(20):
        code, shown = await case_show(ack_stack, loud)
        if "outcome-escalated" in shown:
            break
        await asyncio.sleep(0.5)
    assert code == 0, shown
    assert "outcome-escalated" in shown
    assert "Not acknowledged by nfa" in shown
    _, acked = await case_show(ack_stack, quiet)
    assert "outcome-acknowledged" in acked
    assert "outcome-48h" in acked
    assert "outcome-escalated" not in acked
