"""Fault injection on the embedded stack: feed contacts at a steady rate,
break something, and account for every contact afterwards.

What is counted, per scenario (its own run of contacts):

- settled: a contact with an outcome (its own, or its case's when it joined
  an open case) or a rejection (the demo makes a few unusable on purpose);
- lost: submitted, neither outcome nor rejection once the run is over;
- duplicates: two different outcome event ids for the same case, destination
  and decision version: a second outcome that is not a redelivery. (A case
  re-decided because late information changed its RAG gets a new outcome with
  decision version + 1 by design; that is counted as `re-decided`.)
- redeliveries: the same outcome event id seen more than once (a re-drive
  republishes with the original id; a consumer deduplicating by id sees it
  once);
- recover: seconds from the fault being over (component back) until every
  contact submitted before the fault is settled.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer

from contracts import topics
from contracts.events import OutcomeRouted
from mash.demo import Account, Submitted, _account_for, day_of_contacts, watched
from mash.stack import Stack
from tests.embedded import Wire, mash_cli

WATCHED = watched()


@dataclass
class Collector:
    """Follows outcomes, rejections and joins as the receiving teams would,
    across broker restarts (restart() after the broker comes back)."""

    bootstrap: str
    account: Account = field(default_factory=Account)
    seen: Counter[str] = field(default_factory=Counter)  # outcome id -> times seen
    outcomes: dict[str, OutcomeRouted] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def restart(self) -> None:
        await self.stop()
        self.start()

    async def _follow(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(*WATCHED, bootstrap_servers=self.bootstrap, group_id=None,
                                        auto_offset_reset="earliest", enable_auto_commit=False)
            try:
                await consumer.start()
                while True:
                    batch = await consumer.getmany(timeout_ms=300)
                    for records in batch.values():
                        for r in records:
                            self._take(r.topic, r.value)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1)  # the broker away: follow it again
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    def _take(self, topic: str, value: bytes) -> None:
        if topic in topics.OUTCOME_TOPICS:
            event = OutcomeRouted.model_validate_json(value)
            if not any(c in self.account.submitted for c in event.data.contact_ids) and \
                    event.data.case_id not in self._cases():
                return
            self.seen[event.id] += 1
            self.outcomes[event.id] = event
        _account_for(topic, value, self.account, None)

    def _cases(self) -> set[str]:
        return set(self.account.joined.values())


@dataclass
class Result:
    scenario: str
    contacts: int
    outcomes: int
    rejected: int
    lost: int
    duplicates: int
    redeliveries: int
    redecided: int
    recover_s: float
    notes: str = ""

    HEADER = (f"{'scenario':<34} {'contacts':>8} {'outcomes':>8} {'rejected':>8} {'lost':>5} "
              f"{'dupl.':>5} {'redeliv.':>8} {'re-decided':>10} {'recover':>8}  notes")

    def line(self) -> str:
        return (f"{self.scenario:<34} {self.contacts:>8} {self.outcomes:>8} {self.rejected:>8} "
                f"{self.lost:>5} {self.duplicates:>5} {self.redeliveries:>8} {self.redecided:>10} "
                f"{self.recover_s:>7.1f}s  {self.notes}")


class Run:
    """One scenario's contacts, fed at a steady rate while something breaks."""

    def __init__(self, stack: Stack, wire: Wire, count: int, rate: float, seed: int) -> None:
        self.stack = stack
        self.wire = wire
        self.count = count
        self.rate = rate
        self.messages = list(day_of_contacts(count, seed, run=uuid.uuid4().hex[:6]))
        self.collector = Collector(stack.settings.bootstrap)
        self.sent_at: dict[str, float] = {}
        self.paused = asyncio.Event()
        self.paused.set()
        self.resent = 0

    @property
    def account(self) -> Account:
        return self.collector.account

    async def _send(self, cid: str, raw: bytes) -> None:
        for attempt in range(120):
            try:
                await self.wire.send(topics.CONTACTS_SUBMITTED, raw, key=cid)
                return
            except Exception:
                if attempt == 119:
                    raise
                await asyncio.sleep(0.5)  # the broker away: the agency tries again

    async def feed(self) -> None:
        began = time.monotonic()
        for n, (cid, agency, raw, valid) in enumerate(self.messages):
            await self.paused.wait()
            self.account.submitted[cid] = Submitted.now(cid, agency, raw, valid)
            self.sent_at[cid] = time.monotonic()
            await self._send(cid, raw)
            pause = began + (n + 1) / self.rate - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)

    async def resend_lost(self, before: float) -> int:
        """What an agency must do when the broker lost a contact before intake
        read it: send it again. (Production Kafka keeps the topic; the embedded
        broker does not, and no MASH database holds a contact intake never
        read.) The agency cannot see intake's database; the test can, and
        resends exactly the contacts intake has no record of, because intake
        rejects a second record with an id it has accepted as a replay."""
        processed = self.wire.mongo["mash_intake"].processed_messages
        lost = []
        for cid, _agency, raw, _valid in self.messages:
            if cid not in self.sent_at or self.sent_at[cid] >= before:
                continue
            if cid in self.account.outcomes or cid in self.account.rejected or \
                    cid in self.account.joined:
                continue
            try:
                event_id = json.loads(raw)["id"]
            except (ValueError, KeyError):
                lost.append((cid, raw))  # not JSON: rejected on arrival, if it arrived
                continue
            if await processed.find_one({"_id": f"intake:{event_id}"}) is None:
                lost.append((cid, raw))
        for cid, raw in lost:
            await self._send(cid, raw)
        self.resent += len(lost)
        return len(lost)

    def settled_before(self, t: float) -> bool:
        self.account.reconcile()
        return all(c in self.account.outcomes or c in self.account.rejected
                   for c, at in self.sent_at.items() if at < t)

    async def wait_recovered(self, fault_at: float, back_at: float, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not self.settled_before(fault_at) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        return max(0.0, time.monotonic() - back_at)

    async def wait_settled(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sent_at) == self.count and self.settled_before(float("inf")):
                return
            await asyncio.sleep(0.5)

    def result(self, scenario: str, recover_s: float, notes: str = "") -> Result:
        self.account.reconcile()
        by_slot: dict[tuple[str, str, int], set[str]] = {}
        for event in self.collector.outcomes.values():
            d = event.data
            by_slot.setdefault((d.case_id, d.destination.value, d.decision_version),
                               set()).add(event.id)
        duplicates = sum(len(ids) - 1 for ids in by_slot.values())
        redeliveries = sum(n - 1 for n in self.collector.seen.values())
        redecided = len({case for case, _d, v in by_slot if v > 1})
        return Result(scenario, len(self.account.submitted), len(self.account.outcomes),
                      len(self.account.rejected), len(self.account.lost), duplicates,
                      redeliveries, redecided, recover_s, notes)


async def audit_check(stack: Stack) -> tuple[int, str]:
    """`mash audit verify` (the hash-chained audit trail), exit code and output."""
    done = await mash_cli(stack.settings, "audit", "verify", timeout=300)
    return done.returncode, done.stdout[-2000:] + done.stderr[-2000:]


async def trail_complete(wire: Wire, run: Run, agencies: list[str]) -> list[str]:
    """Every answered enquiry of this run's cases has its disclosure record,
    and every decided case its history."""
    problems: list[str] = []
    cases = {e.data.case_id for e in run.collector.outcomes.values()}
    decision = wire.mongo["mash_decision"].cases
    async for case in decision.find({"_id": {"$in": list(cases)}}, {"history": 1, "state": 1}):
        if not case.get("history"):
            problems.append(f"{case['_id']}: no history")
    for agency in agencies:
        db = wire.mongo["mash_research_" + agency.replace("-", "_")]
        answered = {d["finding_id"]: d["case_id"] async for d in db.enquiries.find(
            {"state": "answered", "case_id": {"$in": list(cases)}},
            {"finding_id": 1, "case_id": 1})}
        audited = {d["_id"] async for d in db.disclosures.find(
            {"_id": {"$in": list(answered)}}, {"_id": 1})}
        problems += [f"{agency}: finding {f} of {c} has no disclosure record"
                     for f, c in answered.items() if f not in audited]
    return problems


async def whereabouts(wire: Wire, run: Run, contact_id: str, agencies: list[str]) -> str:
    """Where a contact that never settled got to, database by database: what a
    failing run prints so the stage that held it is named, not guessed."""
    mongo = wire.mongo
    lines = [f"{contact_id}:"]
    raw = next((r for c, _a, r, _v in run.messages if c == contact_id), b"")
    try:
        event_id = json.loads(raw)["id"]
    except (ValueError, KeyError):
        event_id = None
    intake = mongo["mash_intake"]
    processed = event_id and await intake.processed_messages.find_one({"_id": f"intake:{event_id}"})
    lines.append(f"  intake processed {event_id}: {bool(processed)}")
    case_ids = {str(d["_id"]) async for d in intake.cases.find({"contact_ids": contact_id},
                                                                 {"_id": 1})}
    lines.append(f"  intake cases holding it: {sorted(case_ids)}; joined (collector): "
                 f"{run.account.joined.get(contact_id)}")
    case_ids |= {run.account.joined[contact_id]} if contact_id in run.account.joined else set()
    for case_id in sorted(case_ids):
        for service in ("intake", "decision", "notify"):
            sent = [f"{d['topic']} {'sent' if d.get('sent_at') else 'UNSENT'}"
                    async for d in mongo[f"mash_{service}"].outbox.find(
                        {"key": case_id}, {"topic": 1, "sent_at": 1}).sort("created_at", 1)]
            lines.append(f"  {case_id} {service} outbox: {sent}")
        case = await mongo["mash_decision"].cases.find_one({"_id": case_id})
        if case is None:
            lines.append(f"  {case_id} decision: no case")
        else:
            lines.append(
                f"  {case_id} decision: state {case.get('state')}, opened "
                f"{case.get('opened') is not None}, deadline {case.get('research_deadline')}, "
                f"findings {sorted(case.get('findings') or {})}, added "
                f"{[a['contact']['contact_id'] for a in case.get('added') or []]}, decisions "
                f"{len(case.get('decisions') or [])}, history "
                f"{[h.get('kind') for h in case.get('history') or []][-6:]}")
        for agency in agencies:
            db = mongo["mash_research_" + agency.replace("-", "_")]
            states = [d.get("state") async for d in db.enquiries.find({"case_id": case_id},
                                                                      {"state": 1})]
            lines.append(f"  {case_id} research {agency}: {states}")
        delivered = [d["topic"] async for d in mongo["mash_notify"].deliveries.find(
            {"case_id": case_id}, {"topic": 1})]
        seen = [e.data.destination.value for e in run.collector.outcomes.values()
                if e.data.case_id == case_id]
        lines.append(f"  {case_id} notify delivered: {delivered}; collector saw: {seen}")
    return "\n".join(lines)


def dump(value: Any) -> str:
    return json.dumps(value, default=str)
