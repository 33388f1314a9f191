"""Fault injection on the embedded stack (`make faults`; part of `make test`).

Each scenario feeds its own run of contacts from the demo's generator at a
steady rate while one thing breaks: every service SIGKILLed once at a random
moment and restarted; the database SIGKILLed and restarted; one agency's
research service down for longer than its research deadline; the broker
restarted empty. Afterwards every contact has an outcome or a rejection
(none lost), no outcome is doubled, and the audit trail is whole. The table
is printed (`pytest -s tests/faults`).

MASH_FAULTS_CONTACTS (72 in `make test`, which must stay under 15 minutes;
`make faults` runs 500) and MASH_FAULTS_RATE (contacts/s, default 12) size
the runs. Every fault still lands while contacts are in flight: each is
timed within the feeding window, however long it is.
"""

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from contracts.agencies import agencies
from mash.stack import Stack
from tests.embedded import Wire, stack_settings
from tests.faults.harness import Result, Run, audit_check, trail_complete, whereabouts
from tests.stacks import environment

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

AGENCIES = list(agencies())  # every agency, as configured: each signs its own contacts
ENV = {"MASH_SWEEP_SECONDS": "0.5"}
SERVICES = ["intake", "decision", "notify", *(f"research-{a}" for a in AGENCIES)]
COUNT = int(os.environ.get("MASH_FAULTS_CONTACTS", "72"))
RATE = float(os.environ.get("MASH_FAULTS_RATE", "12"))
# Scenario (c), run first: research deadlines short enough to pass while an agency is down.
SHORT_WINDOWS = {f"MASH_RESEARCH_WINDOW_{rag}_SECONDS": "8" for rag in ("RED", "AMBER", "GREEN")}
RESULTS: list[Result] = []

Fault = Callable[[Run], Awaitable[tuple[float, float, str]]]


@pytest.fixture(scope="module")
def agency_config() -> Iterator[None]:
    with environment(ENV):
        yield


@pytest.fixture(scope="module")
async def fault_stack(agency_config: None,
                      tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    running = Stack(stack_settings(tmp_path_factory.mktemp("faults")), quiet_services=True,
                    auto_authorise=True, echo=lambda line: None)
    try:
        await running.start_servers()
        await running.start_services(only=SERVICES, env={**ENV, **SHORT_WINDOWS})
        yield running
    finally:
        await running.stop()
        if RESULTS:
            print("\n" + "\n".join([Result.HEADER, *(r.line() for r in RESULTS)]))


@pytest.fixture(scope="module")
async def fault_wire(fault_stack: Stack) -> AsyncIterator[Wire]:
    client = Wire(fault_stack.settings)
    yield client
    await client.close()


async def scenario(stack: Stack, wire: Wire, name: str, seed: int,
                   fault: Fault) -> tuple[Result, Run]:
    run = Run(stack, wire, COUNT, RATE, seed)
    run.collector.start()
    feeder = asyncio.create_task(run.feed())
    try:
        fault_at, back_at, notes = await fault(run)
        await feeder
    finally:
        feeder.cancel()
    recover = await run.wait_recovered(fault_at, back_at, timeout=150)
    await run.wait_settled(timeout=150)
    await asyncio.sleep(1)  # anything still arriving is counted
    await run.collector.stop()
    problems = await trail_complete(wire, run, AGENCIES)
    code, output = await audit_check(stack)
    result = run.result(name, recover, f"{notes}; audit verify exit {code}".lstrip("; "))
    RESULTS.append(result)
    print("\n" + Result.HEADER + "\n" + result.line(), flush=True)
    assert result.contacts == COUNT
    if result.lost:
        for contact_id in run.account.lost[:5]:
            print(await whereabouts(wire, run, contact_id, AGENCIES), flush=True)
    assert result.lost == 0, [c for c in run.account.lost][:10]
    assert result.duplicates == 0
    assert problems == [], problems[:10]
    assert code == 0, output
    return result, run


async def test_research_down_past_its_deadline(fault_stack: Stack, fault_wire: Wire) -> None:
    """First, while most contacts still open new cases (later ones often join
    cases already open, which sends no enquiry). The stack starts with short
    research deadlines for this; intake gets its default ones back after."""
    rng = random.Random(4)
    down_for = 8 * 2

    async def stop_research(run: Run) -> tuple[float, float, str]:
        await asyncio.sleep(rng.uniform(3, COUNT / RATE * 0.4))
        at = time.monotonic()
        await fault_stack.stop_service("research-education")
        await asyncio.sleep(down_for)
        await fault_stack.start_services(only=["research-education"], env=ENV)
        return at, time.monotonic(), f"education down {time.monotonic() - at:.0f}s, deadline 8s"

    result, run = await scenario(fault_stack, fault_wire, "(c) research down past deadline", 14,
                                 stop_research)
    # The cases decided without education got its findings later, attached.
    cases = list({e.data.case_id for e in run.collector.outcomes.values()})
    late = 0
    async for case in fault_wire.mongo["mash_decision"].cases.find(
            {"_id": {"$in": cases}}, {"history": 1, "findings": 1}):
        if "education" in case.get("findings", {}) and any(
                h.get("kind") == "late-finding" and "education" in h.get("text", "")
                for h in case.get("history", [])):
            late += 1
    print(f"(c) cases decided without education whose late finding was attached: {late}")
    assert late > 0, "education was never late: the scenario tested nothing"
    assert result.lost == 0
    await fault_stack.stop_service("intake")
    await fault_stack.start_services(only=["intake"], env=ENV)


async def test_each_service_sigkilled_at_a_random_moment(fault_stack: Stack,
                                                         fault_wire: Wire) -> None:
    rng = random.Random(1)

    async def kill_each(run: Run) -> tuple[float, float, str]:
        order = rng.sample(SERVICES, len(SERVICES))
        window = COUNT / RATE * 0.8
        first: float | None = None
        for name in order:
            await asyncio.sleep(rng.uniform(0.3, window / len(order)))
            first = first or time.monotonic()
            await fault_stack.kill_service(name)
            await fault_stack.start_services(only=[name], env=ENV)
        return first or time.monotonic(), time.monotonic(), "killed " + ",".join(order)

    await scenario(fault_stack, fault_wire, "(a) SIGKILL each service", 11, kill_each)


async def test_database_sigkilled_and_restarted(fault_stack: Stack, fault_wire: Wire) -> None:
    rng = random.Random(2)

    async def kill_db(run: Run) -> tuple[float, float, str]:
        await asyncio.sleep(rng.uniform(5, COUNT / RATE * 0.6))
        at = time.monotonic()
        await fault_stack.kill_service("database")
        await asyncio.sleep(2)
        await fault_stack.start_database()
        return at, time.monotonic(), f"down {time.monotonic() - at:.1f}s"

    await scenario(fault_stack, fault_wire, "(b) SIGKILL the database", 12, kill_db)


async def test_broker_restarted_empty(fault_stack: Stack, fault_wire: Wire) -> None:
    rng = random.Random(3)

    async def restart_broker(run: Run) -> tuple[float, float, str]:
        await asyncio.sleep(rng.uniform(5, COUNT / RATE * 0.6))
        at = time.monotonic()
        await fault_stack.stop_service("broker")
        await fault_stack.start_broker()  # empty: every topic created again
        back = time.monotonic()
        # Re-drive from the databases; every consumer reads the new broker from the start.
        await fault_stack.reconcile(wait_seconds=60, rewind=True)
        redriven = time.monotonic()
        await run.collector.restart()
        resent = await run.resend_lost(before=back)
        return at, back, (f"broker down {back - at:.1f}s, re-drive {redriven - back:.1f}s; "
                          f"{resent} contact(s) the broker lost before intake read them "
                          "sent again")

    await scenario(fault_stack, fault_wire, "(d) broker restarted empty", 13, restart_broker)
