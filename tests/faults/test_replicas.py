"""Replicas on the embedded stack: decision and research-police run as two
processes each (MASH_REPLICAS); one of each is SIGKILLed while contacts flow
and never comes back. The survivor of each pair must take over the dead
one's partitions (Kafka rebalances the group once the dead member's session
times out) and handle what the dead one had read but not committed: every
contact still gets exactly one outcome (none lost, none doubled) and the
audit trail is whole.

Small on purpose (MASH_FAULTS_REPLICA_CONTACTS, default 30, at 3 a second):
its own stack of two agencies, 35-70 s in all when both kills land between
transactions. When a kill lands inside a transaction, the dead process's
transaction keeps what it wrote locked until the database reaps it (60 s, as
mongod's transactionLifetimeLimitSeconds; closing the connection does not
abort it), and the survivor's transactions meet write conflicts on the same
documents (the service's audit chain head, the case) until then: about 95 s
in all.
The table line and the time each survivor took to hold every partition of
its groups are printed (`pytest -s tests/faults/test_replicas.py`).
"""

import asyncio
import json
import os
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.agencies import agencies
from mash.settings import StackSettings
from mash.stack import Stack
from tests.embedded import Wire, stack_settings
from tests.faults.harness import Result, Run, audit_check, trail_complete, whereabouts
from tests.stacks import environment

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

# Two agencies researched (contacts still come from every sender): a lighter
# stack, so the scenario stays short on a loaded machine.
AGENCIES = ["police", "health"]
SERVICES = ["intake", "decision", "notify", *(f"research-{a}" for a in AGENCIES)]
REPLICAS = "decision=2,research-police=2"
ENV = {"MASH_AGENCIES": ",".join(AGENCIES), "MASH_SWEEP_SECONDS": "0.5"}
COUNT = int(os.environ.get("MASH_FAULTS_REPLICA_CONTACTS", "30"))
RATE = 3.0
# Killed: the second decision and the first research-police (both kinds of
# name); their partners survive.
KILLED = {"decision#2": "decision", "research-police": "research-police#2"}
_PARTITION = re.compile(r"TopicPartition\(topic='([^']+)', partition=(\d+)\)")
Held = frozenset[tuple[str, int]]  # (topic, partition) pairs


@dataclass
class Assignments:
    """Every partition assignment the services log (FastStream logs one per
    rebalance of each consumer: "Consumer <member> assigned to partitions:
    (...)"), with when the test saw it."""

    seen: list[tuple[float, str, str, Held]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def echo(self, line: str) -> None:
        child, bar, text = line.partition(" | ")
        if not bar:
            return
        try:
            record = json.loads(text)
        except ValueError:
            return
        message = str(record.get("message", ""))
        if record.get("level") == "ERROR":
            self.errors.append(f"{child.strip()}: {message[:300]}")
        if "assigned to partitions" in message and record.get("group_id"):
            self.seen.append((time.monotonic(), child.strip(), str(record["group_id"]),
                              frozenset((t, int(p)) for t, p in _PARTITION.findall(message))))

    def held(self, child: str, before: float) -> dict[str, Held]:
        """Each group's partitions the child held at `before`."""
        now: dict[str, Held] = {}
        for at, who, group, parts in self.seen:
            if who == child and at < before:
                now[group] = parts
        return now

    def took(self, child: str, group: str, after: float, wanted: Held) -> float | None:
        """When, after `after`, the child first held every partition in `wanted`."""
        for at, who, g, parts in self.seen:
            if who == child and g == group and at > after and wanted <= parts:
                return at
        return None


@pytest.fixture(scope="module")
def agency_config() -> Iterator[None]:
    with environment(ENV):
        yield


@pytest.fixture(scope="module")
async def replica_stack(agency_config: None, tmp_path_factory: pytest.TempPathFactory
                        ) -> AsyncIterator[tuple[Stack, Assignments]]:
    assert list(agencies()) == AGENCIES
    base = stack_settings(tmp_path_factory.mktemp("replicas"))
    settings = StackSettings(**{**base.model_dump(), "replicas": REPLICAS})
    log = Assignments()
    # Not quiet: the services' lines come to `log` (nothing is printed).
    running = Stack(settings, quiet_services=False, auto_authorise=True, echo=log.echo)
    try:
        await running.start_servers()
        await running.start_services(only=SERVICES, env=ENV)
        yield running, log
    finally:
        await running.stop()


def received(port: int) -> float:
    """Messages a process has taken from Kafka (FastStream's own counter)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("faststream_received_messages_total{"))


async def committed_to_the_end(stack: Stack, groups: dict[str, Held]) -> list[str]:
    """Each group's committed offset, partition by partition, against the end
    of its topic: a partition the dead replica held and the survivor never
    took would be left behind."""
    behind = []
    for group, held in groups.items():
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.settings.bootstrap, group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for topic, p in sorted(held)]
            ends = await consumer.end_offsets(parts)
            for tp in parts:
                done = await consumer.committed(tp) or 0
                if done < ends[tp]:
                    behind.append(f"{group} {tp.topic}/{tp.partition}: committed {done} "
                                  f"of {ends[tp]}")
        finally:
            await consumer.stop()
    return behind


async def test_a_replica_sigkilled_mid_stream_is_taken_over_by_its_partner(
        replica_stack: tuple[Stack, Assignments]) -> None:
    stack, log = replica_stack
    wire = Wire(stack.settings)
    try:
        await sigkill_one_of_each_pair(stack, log, wire)
    finally:
        await wire.close()


async def sigkill_one_of_each_pair(stack: Stack, log: Assignments, wire: Wire) -> None:
    began = time.monotonic()
    run = Run(stack, wire, COUNT * 3, RATE, seed=21)
    # Only contacts from senders intake takes with these agencies (the public's
    # channels and the agencies researched): intake refuses a referrer agency
    # that is not a MASH agency, and a refusal never reaches decision.
    run.messages = [m for m in run.messages if m[1] in (*AGENCIES, "public")][:COUNT]
    run.count = len(run.messages)
    run.collector.start()
    feeder = asyncio.create_task(run.feed())
    window = COUNT / RATE
    killed_at: dict[str, float] = {}
    try:
        for order, (victim, _survivor) in enumerate(KILLED.items()):
            # Mid-stream: once the victim has taken messages of this run, while
            # contacts are still being sent.
            await asyncio.sleep(max(0.0, began + window * (0.25 + 0.15 * order)
                                    - time.monotonic()))
            port = stack.metrics_ports[victim]
            while await asyncio.to_thread(received, port) == 0 and \
                    time.monotonic() < began + window * 0.7:
                await asyncio.sleep(0.2)
            assert await asyncio.to_thread(received, port) > 0, f"{victim} took no message"
            assert not feeder.done(), "the contacts were all sent before the kill"
            killed_at[victim] = time.monotonic()
            await stack.kill_service(victim)
        await feeder
    finally:
        feeder.cancel()
    last_kill = max(killed_at.values())
    await run.wait_settled(timeout=150)
    settled = time.monotonic()
    await asyncio.sleep(1)  # anything still arriving is counted
    await run.collector.stop()
    sent_after = sum(1 for at in run.sent_at.values() if at > last_kill)

    # The survivors: each held every partition of each group the dead one had.
    takeover: dict[str, float] = {}
    slowest: dict[str, float] = {}
    missing = []
    groups: dict[str, Held] = {}
    for victim, survivor in KILLED.items():
        had = log.held(victim, before=killed_at[victim])
        assert any(had.values()), f"{victim} was never assigned a partition"
        kept = log.held(survivor, before=killed_at[victim])
        for group, parts in had.items():
            wanted = parts | kept.get(group, frozenset())
            groups[group] = wanted
            at = log.took(survivor, group, killed_at[victim], wanted)
            if at is None:
                missing.append(f"{survivor} never held all of {group}: {sorted(wanted)} (had "
                               f"{sorted(log.held(survivor, float('inf')).get(group, ()))})")
            else:
                takeover[group] = at - killed_at[victim]
                slowest[victim] = max(slowest.get(victim, 0.0), takeover[group])
    behind = await committed_to_the_end(stack, groups)
    problems = await trail_complete(wire, run, AGENCIES)
    code, output = await audit_check(stack)
    result = run.result("(e) SIGKILL one of two replicas", settled - last_kill, (
        "took over in " + ", ".join(f"{v} {t:.1f}s" for v, t in slowest.items())
        + f"; {sent_after} sent after the kills; audit verify exit {code}"))
    print("\n" + Result.HEADER + "\n" + result.line(), flush=True)
    print("takeover per group (s): " + ", ".join(f"{g} {t:.1f}" for g, t in sorted(
        takeover.items())), flush=True)
    print(f"scenario wall time {time.monotonic() - began:.1f}s", flush=True)
    if result.lost:
        for contact_id in run.account.lost[:5]:
            print(await whereabouts(wire, run, contact_id, AGENCIES), flush=True)
        print("\n".join(log.errors[-20:]), flush=True)
    assert result.contacts == COUNT
    assert result.lost == 0, run.account.lost[:10]
    assert result.duplicates == 0
    assert sent_after > 0, "no contact was sent after the kills: the survivors were not tested"
    assert missing == [], missing
    assert behind == [], behind
    assert problems == [], problems[:10]
    assert code == 0, output
