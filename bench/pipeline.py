"""The whole pipeline on the embedded stack, against the limits of its parts,
every headline a ratio of two figures measured in the same run.

    python -m bench.pipeline [--only parts,burst,steady,priority,catchup] [--scale 0.05]
        [--contacts 10000] [--rate 50] [--steady-seconds 60] [--green-backlog 10000]
        [--catchup-contacts 5000] [--profile SERVICE] [--json PATH]

It starts its own stack (temporary home, free ports, auto-authorise on,
research windows of 12 h / 36 h / 144 h so no deadline fires in a run, and a
signature window of a week so a contact queued behind thousands is not
refused as stale) and, in order:

1. parts:    the broker's hop rate (consume from A, republish to B, 2 KB
             messages) and the database's single-client insert_one, find_one
             and update_one rates, before any service starts;
2. burst:    first 10 s of the idle stack (nothing fed): the cores each
             process uses and the database operations the services make on
             their own; then N demo-style contacts submitted at once,
             contacts/s from the first submission to the last outcome or
             rejection, messages and database operations per contact and the
             bound they give with (1); CPU per contact by process, less the
             idle share, and the bound the machine's cores give at that cost;
             database transactions and commands per contact, conflicts, and
             records per consumer batch (from the services' /metrics);
             per-service peak memory; with --profile SERVICE, py-spy's top
             functions in that service during the burst;
3. steady:   contacts at a fixed rate, latency p50/p95/p99 from submission
             to outcome, or the backlog growth when the rate is not sustained
             (and then latency again at half the burst's throughput);
4. priority: one RED contact behind a GREEN backlog;
5. catchup:  police research stopped for a batch of contacts, then started:
             its drain rate against its rate in the burst.

Contacts are the demo's (mash.demo: every agency's own format, signed by its
sender, a few deliberately unusable), each about a family of its own so that
each opens a case that goes to every agency.

Prints progress, then a table (headline rows first); writes JSON to
bench/results/pipeline-<time>.json. Its sections are the ones run ("parts",
"burst", "steady", "priority", "catchup"), "memory_mb" and "headlines".
Figures a service's /metrics does not expose are null (the table says n/a).
CPU is psutil's user + system time per process; the stack is the broker, the
database and the services, never the bench itself (its load generator and
follower, reported beside them as "bench (this process)"). "burst" holds, as
well as its counts, messages, database operations and stage times:

  idle_seconds                the idle window before the burst (about 10 s)
  idle_cores_by_process       {process: cores used in it}
  idle_cores                  the stack's total (goal: <= 0.1)
  cpu_window_seconds          wall time over which the burst's CPU was read
  cpu_seconds                 {process: CPU seconds in the burst}
  cpu_share_of_one_core       {process: cores busy in the burst}
  cpu_ms_per_contact          {process: {total, idle, net}}: CPU ms per contact;
                              idle = its idle cores x cpu_window_seconds /
                              contacts, net = total - idle
  cpu_ms_per_contact_total    {total, idle, net} for the stack
  cpu_bound                   {cores (os.cpu_count()), idle_cores,
                              net_cpu_seconds_per_contact, contacts_per_s}:
                              (cores - idle_cores) / net CPU s per contact
  throughput_over_cpu_bound   contacts_per_s / cpu_bound.contacts_per_s
  bound, throughput_over_bound  the broker/database bound from the parts
  normalised_throughput       contacts/s per 1,000 single-client insert_one/s
                              from "parts" (goal: >= 10)
  db_ops_per_contact_total    every serverStatus opcounter, per contact
  db_transactions_per_contact {committed, aborted, ...: per contact} of
                              mash_db_transactions_total, summed over services
  db_commands_per_contact     {command: per contact} of mash_db_commands_total,
                              summed over services, most first
  db_commands_per_contact_by_service  {service: its top 5 {command: per contact}}
  conflicts_per_contact       mash_handler_retries_total{reason="conflict"},
                              summed over services, per contact
  consumer_batches            {service: {subscriber: {batches, records,
                              mean_records}}} of mash_consumer_batch_records
  mean_batch_records          records per batch over every subscriber
  profile                     with --profile: {service, pid, file, samples,
                              top: [{function, own_samples, share}]} or
                              {service, error}

"headlines" repeats the ratios: throughput_over_bound, bound,
throughput_over_cpu_bound, normalised_throughput, idle_cores,
cpu_ms_per_contact_net, db_ops_per_contact, db_transactions_per_contact,
conflicts_per_contact, mean_batch_records, and the later sections' ratios.

--profile SERVICE runs `py-spy record` (pip install py-spy) on that service
for the burst, writing its collapsed stacks to
bench/results/pipeline-<time>-profile-<service>.folded; py-spy takes CPU of
its own, so a profiled run's throughput is not a headline figure.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from bench.parts import broker_hop_rate, database_rates
from contracts import topics
from contracts.agencies import agencies
from contracts.contact import Consent, ConsentState, Contact, Rag, Urgency
from mash.demo import SOURCES, Account, Message, agency_event, day_of_contacts, make_contact, submit, watch
from mash.keys import KeyRing
from mash.stack import Stack
from plumbing.settings import ServiceSettings
from synthetic import population
from tests.embedded import stack_settings

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("parts", "burst", "steady", "priority", "catchup")
HOUR = 3600.0
# The services' environment on top of the stack's own.
SERVICE_ENV = {
    "MASH_AUTO_AUTHORISE": "true",
    "MASH_RESEARCH_WINDOW_RED_SECONDS": str(12 * HOUR),
    "MASH_RESEARCH_WINDOW_AMBER_SECONDS": str(36 * HOUR),
    "MASH_RESEARCH_WINDOW_GREEN_SECONDS": str(144 * HOUR),
    "MASH_SIGNATURE_WINDOW_SECONDS": str(7 * 24 * HOUR),
}
CATCHUP_AGENCY = "police"
RETRIES = "mash_handler_retries_total"
CONFLICTS = f"{RETRIES}:conflict"
# What the services count of their database work and their batches
# (plumbing); a figure a service does not expose is reported as n/a.
TRANSACTIONS = "mash_db_transactions_total"  # label outcome: committed, aborted
COMMANDS = "mash_db_commands_total"  # label command: insert, find, ...
BATCH = "mash_consumer_batch_records"  # histogram, label subscriber
# Series kept apart by one label when scraped, as "<sample name>:<label value>".
SPLIT_BY = {RETRIES: "reason", TRANSACTIONS: "outcome", COMMANDS: "command",
            f"{BATCH}_sum": "subscriber", f"{BATCH}_count": "subscriber"}
BENCH_PROCESS = "bench (this process)"
IDLE_SECONDS = 10.0

_began = time.monotonic()


def say(line: str) -> None:
    print(f"[{time.monotonic() - _began:7.1f}s] {line}", flush=True)


class Aborted(RuntimeError):
    """A child of the stack died, or the bench's own follower did."""


# --- contacts -----------------------------------------------------------------

Shape = Callable[[Contact], Contact]
Source = tuple[str, str, str, str, float]


def fresh_contacts(count: int, seed: int, run: str, *, invalid_share: float = 0.04,
                   shape: Shape | None = None,
                   sources: tuple[Source, ...] = SOURCES) -> Iterator[Message]:
    """The demo's contacts (mash.demo), each about a family of its own.

    `mash demo` draws from the 400 families of `synthetic.population()`, so
    at bench sizes nearly every contact would join a case already open and
    skip research. Here contact n is about family n of a population of
    `count` families drawn with `seed`: each opens a case (bar the rare
    household that happens to match another) and is researched by every
    agency. The unusable ones, in the demo's share, are the demo's own.
    """
    rng = random.Random(seed)
    families = population(size=max(count, 1), seed=seed)
    weights = [s[4] for s in sources]
    invalid = max(1, round(count * invalid_share)) if count >= 10 and invalid_share else 0
    # The demo's deliberately unusable contacts (the first one not even JSON).
    bad = islice(day_of_contacts(max(invalid, 10), seed, f"{run}x", invalid_share=1.0), invalid)
    bad_slots = set(rng.sample(range(count), invalid))
    for n in range(count):
        if n in bad_slots:
            yield next(bad)
            continue
        source = rng.choices(sources, weights)[0]
        family = families[n]
        contact = make_contact(family, source, rng, run, n, datetime.now(UTC))
        if shape is not None:
            contact = shape(contact)
        yield contact.contact_id, source[0], agency_event(family, contact, rng).to_bytes(), True


def as_green(c: Contact) -> Contact:
    """A routine contact that triages GREEN: no harm or complex-needs factor."""
    return c.model_copy(update={
        "concerns": ["20"], "urgency": Urgency.ROUTINE,
        "referrer_rag": Rag.GREEN if c.referrer.agency == "police" else None,
        "consent": Consent(state=ConsentState.GIVEN, decided_by=c.referrer.role),
        "analysis": "The referrer is worried about the child's wellbeing and asks for the "
                    "family to be offered support."})


def as_red(c: Contact) -> Contact:
    """A police notification of an assault on a child: RED at triage."""
    return c.model_copy(update={
        "concerns": ["18C"], "urgency": Urgency.IMMEDIATE, "referrer_rag": Rag.RED,
        "consent": Consent(state=ConsentState.NOT_SOUGHT,
                           reason="Seeking consent could place the child at risk",
                           decided_by=c.referrer.role),
        "analysis": "The child has bruising to the upper arm and said an adult at home "
                    "grabbed them."})


POLICE_ONLY: tuple[Source, ...] = tuple(s for s in SOURCES if s[0] == "police")


# --- what crosses the wire ----------------------------------------------------

class Tally:
    """Everything the bench sees come out of the pipeline, with when it saw it.

    Outcomes, rejections and joins are accounted for by mash.demo (its
    Account and watch); findings and cases opened are read here."""

    def __init__(self) -> None:
        self.account = Account()
        self.settled_at: dict[str, float] = {}  # contact -> first outcome or rejection seen
        self.triage: dict[str, str] = {}        # contact -> triage RAG of the case it opened
        self.case_of: dict[str, str] = {}       # contact -> the case it opened
        self.opened_at: dict[str, float] = {}   # contact -> its case opened seen
        self.findings: dict[str, dict[str, float]] = {}  # case -> agency -> first seen
        self.decided_at: dict[str, float] = {}  # case -> its first decision seen
        self.seen = 0  # findings and cases opened read
        self._outcomes = 0
        self._rejected = 0

    def activity(self) -> int:
        """Grows whenever anything comes out of the pipeline."""
        return self.seen + len(self.settled_at) + len(self.account.joined)

    def stamp(self, _line: str = "") -> None:
        """Time-stamp every contact newly settled (dicts only grow at the end)."""
        now = time.monotonic()
        for seen, found in ((self._outcomes, self.account.outcomes),
                            (self._rejected, self.account.rejected)):
            for contact_id in islice(reversed(found), len(found) - seen):
                self.settled_at.setdefault(contact_id, now)
        self._outcomes, self._rejected = len(self.account.outcomes), len(self.account.rejected)

    def take(self, topic: str, value: bytes, now: float) -> None:
        data = json.loads(value)["data"]
        self.seen += 1
        if topic in topics.lanes(topics.FINDINGS):
            self.findings.setdefault(data["case_id"], {}).setdefault(data["agency"], now)
        elif topic == topics.DECISIONS:
            self.decided_at.setdefault(data["case_id"], now)
        else:
            contact_id = data["contact"]["contact_id"]
            self.triage[contact_id] = data["triage_rag"]
            self.case_of[contact_id] = data["case_id"]
            self.opened_at.setdefault(contact_id, now)

    def settled(self, ids: list[str]) -> int:
        return sum(1 for c in ids if c in self.settled_at)


async def follow(bootstrap: str, tally: Tally, stop: asyncio.Event) -> None:
    """Outcomes, rejections and joins as the receiving teams see them
    (mash.demo.watch), and findings and cases opened beside them."""
    watcher = asyncio.create_task(watch(bootstrap, tally.account, stop, tally.stamp))
    consumer = AIOKafkaConsumer(*topics.lanes(topics.FINDINGS), *topics.lanes(topics.CASES_OPENED),
                                topics.DECISIONS, bootstrap_servers=bootstrap,
                                group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False,
                                fetch_max_wait_ms=ServiceSettings().kafka_fetch_max_wait_ms)
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    tally.take(record.topic, record.value, now)
            tally.stamp()  # joins settled by their case's outcome after the callback
    finally:
        await consumer.stop()
        await watcher


# --- the stack's own accounts -------------------------------------------------

@dataclass
class Sampler:
    """Resident memory and CPU time of every child of the stack, every 0.5 s."""

    stack: Stack
    section: str = "start"
    peaks: dict[str, dict[str, int]] = field(default_factory=dict)  # section -> child -> bytes
    first: dict[str, dict[str, int]] = field(default_factory=dict)
    _procs: dict[int, psutil.Process] = field(default_factory=dict)

    def processes(self) -> dict[str, psutil.Process]:
        found = {}
        for child in self.stack.children:
            if child.process is None or child.process.returncode is not None:
                continue
            pid = child.process.pid
            if pid not in self._procs:
                self._procs[pid] = psutil.Process(pid)
            found[child.name] = self._procs[pid]
        return found

    def sample(self) -> None:
        peaks = self.peaks.setdefault(self.section, {})
        first = self.first.setdefault(self.section, {})
        for name, proc in self.processes().items():
            with contextlib.suppress(psutil.Error):
                rss = proc.memory_info().rss
                peaks[name] = max(peaks.get(name, 0), rss)
                first.setdefault(name, rss)

    def cpu_seconds(self) -> dict[str, float]:
        out = {}
        for name, proc in self.processes().items():
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                out[name] = t.user + t.system
        me = psutil.Process().cpu_times()
        out[BENCH_PROCESS] = me.user + me.system
        return out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)


async def end_offsets(consumer: AIOKafkaConsumer) -> dict[str, int]:
    """Messages ever written to each of the platform's topics."""
    await consumer.topics()  # fresh metadata
    parts = [TopicPartition(t, p) for t in topics.all_topics()
             for p in sorted(consumer.partitions_for_topic(t) or ())]
    ends = await consumer.end_offsets(parts)
    out: Counter[str] = Counter()
    for tp, end in ends.items():
        out[tp.topic] += end
    return dict(out)


async def opcounters(client: AsyncMongoClient[dict[str, Any]]) -> dict[str, int]:
    status = await client.admin.command("serverStatus")
    return {k: int(v) for k, v in status["opcounters"].items()}


async def collection_times(client: AsyncMongoClient[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """The database's own account per collection (`top`): microseconds and
    count of each kind of operation."""
    totals = (await client.admin.command("top"))["totals"]
    out: dict[str, dict[str, int]] = {}
    for name, kinds in totals.items():
        if not isinstance(kinds, dict):
            continue
        row = {f"{kind}_us": int(v["time"]) for kind, v in kinds.items() if isinstance(v, dict)}
        row |= {f"{kind}_n": int(v["count"]) for kind, v in kinds.items() if isinstance(v, dict)}
        out[name] = row
    return out


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return scraped(text)


def scraped(text: str) -> dict[str, float]:
    """Every counter (…_total) in a /metrics page, summed over its labels,
    and the SPLIT_BY series summed by their one label: retries by reason
    (conflicts and outages explain different waits), transactions by
    outcome, commands by command, batch sizes by subscriber."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = SPLIT_BY.get(sample.name)
            if label is None and not sample.name.endswith("_total"):
                continue
            name = (f"{sample.name}:{sample.labels[label]}"
                    if label is not None and label in sample.labels else sample.name)
            totals[name] = totals.get(name, 0.0) + float(sample.value)
    return totals


def retries_per_contact(counters: dict[str, dict[str, float]], contacts: int,
                        ) -> dict[str, dict[str, float]]:
    """Handler retries per contact, by service and reason (conflict, outage)."""
    out: dict[str, dict[str, float]] = {}
    for service, c in sorted(counters.items()):
        reasons = {name.split(":", 1)[1]: round(v / contacts, 3) for name, v in c.items()
                   if name.startswith(f"{RETRIES}:") and v}
        if reasons:
            out[service] = reasons
    return out


def by_label(counters: dict[str, dict[str, float]], name: str,
             ) -> dict[str, dict[str, float]] | None:
    """Each service's series `name` by its SPLIT_BY label (as scraped);
    None when no service exposes it."""
    prefix = f"{name}:"
    out = {service: {k.removeprefix(prefix): v for k, v in c.items() if k.startswith(prefix)}
           for service, c in sorted(counters.items())}
    return {service: v for service, v in out.items() if v} or None


def _most_first(values: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))


def per_contact(by_service: dict[str, dict[str, float]] | None, contacts: int,
                ) -> dict[str, float] | None:
    """Summed over services, per contact, most first; None when not exposed."""
    if by_service is None:
        return None
    total: dict[str, float] = {}
    for values in by_service.values():
        for k, v in values.items():
            total[k] = total.get(k, 0.0) + v
    return {k: round(v / contacts, 3) for k, v in _most_first(total)}


def top_per_contact(by_service: dict[str, dict[str, float]] | None, contacts: int, top: int = 5,
                    ) -> dict[str, dict[str, float]] | None:
    """Each service's `top` largest, per contact; None when not exposed."""
    if by_service is None:
        return None
    return {service: {k: round(v / contacts, 3) for k, v in _most_first(values)[:top] if v}
            for service, values in by_service.items()}


def conflicts_per_contact(counters: dict[str, dict[str, float]], contacts: int) -> float | None:
    """Handler retries for a conflict, summed over services, per contact."""
    found = [c[CONFLICTS] for c in counters.values() if CONFLICTS in c]
    return round(sum(found) / contacts, 3) if found else None


def batch_sizes(counters: dict[str, dict[str, float]],
                ) -> dict[str, dict[str, dict[str, float]]] | None:
    """Batches each subscriber handled and their mean records (the
    mash_consumer_batch_records histogram), by service; None when no
    service exposes it."""
    sums = by_label(counters, f"{BATCH}_sum") or {}
    counts = by_label(counters, f"{BATCH}_count")
    if counts is None:
        return None
    out: dict[str, dict[str, dict[str, float]]] = {}
    for service, by_subscriber in counts.items():
        rows = {}
        for subscriber, batches in sorted(by_subscriber.items()):
            if batches > 0:
                records = sums.get(service, {}).get(subscriber, 0.0)
                rows[subscriber] = {"batches": int(batches), "records": int(records),
                                    "mean_records": round(records / batches, 2)}
        if rows:
            out[service] = rows
    return out


def mean_batch(batches: dict[str, dict[str, dict[str, float]]] | None) -> float | None:
    """Records per batch over every subscriber of every service."""
    rows = [row for by_subscriber in (batches or {}).values() for row in by_subscriber.values()]
    count = sum(row["batches"] for row in rows)
    return round(sum(row["records"] for row in rows) / count, 2) if count else None


def stack_only(values: dict[str, float]) -> float:
    """Summed over the stack's processes, leaving out the bench's own."""
    return sum(v for name, v in values.items() if name != BENCH_PROCESS)


def cpu_per_contact(cpu: dict[str, float], idle_cores: dict[str, float], seconds: float,
                    contacts: int) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """CPU milliseconds per contact by process, and for the stack (the bench
    left out): all it used (total), what it uses idle over as many seconds
    (idle: idle cores x seconds / contacts) and the difference (net)."""
    rows: dict[str, dict[str, float]] = {}
    stack = {"total": 0.0, "idle": 0.0, "net": 0.0}
    for name, used in sorted(cpu.items()):
        idle = idle_cores.get(name, 0.0) * seconds
        row = {"total": 1000 * used / contacts, "idle": 1000 * idle / contacts,
               "net": 1000 * (used - idle) / contacts}
        rows[name] = {k: round(v, 3) for k, v in row.items()}
        if name != BENCH_PROCESS:
            stack = {k: stack[k] + row[k] for k in stack}
    return rows, {k: round(v, 3) for k, v in stack.items()}


def cpu_bound(cores: int, idle_cores: float, net_ms_per_contact: float) -> float | None:
    """Contacts/s the machine's cores allow at this CPU cost: the cores the
    idle stack leaves over the net CPU seconds per contact."""
    if net_ms_per_contact <= 0 or cores <= idle_cores:
        return None
    return (cores - idle_cores) / (net_ms_per_contact / 1000)


def normalised_throughput(contacts_per_s: float | None, insert_one_per_s: float | None,
                          ) -> float | None:
    """Contacts/s per 1,000 single-client insert_one/s on the same machine."""
    if not contacts_per_s or not insert_one_per_s:
        return None
    return contacts_per_s * 1000 / insert_one_per_s


def top_own(folded: str, top: int = 10) -> tuple[int, list[tuple[str, int]]]:
    """From py-spy's collapsed stacks ("frame;frame;...;frame count" a
    line): the samples in all and the `top` frames with the most samples of
    their own (at the top of the stack)."""
    own: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        own[stack.rsplit(";", 1)[-1]] += int(count)
    return total, sorted(own.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def _read_if_any(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def service_counters(stack: Stack) -> dict[str, dict[str, float]]:
    """Every service's counters (…_total) from its /metrics."""
    names = [n for n in stack.metrics_ports if any(c.name == n for c in stack.children)]
    got = await asyncio.gather(*(asyncio.to_thread(_scrape, stack.metrics_ports[n]) for n in names),
                               return_exceptions=True)
    return {n: g for n, g in zip(names, got, strict=True) if isinstance(g, dict)}


def delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - before.get(k, 0) for k in after}


async def counters_since(stack: Stack, before: dict[str, dict[str, float]],
                         ) -> dict[str, dict[str, float]]:
    """Every service's counters now, less what they were at ``before``."""
    return {name: delta(c, before.get(name, {}))
            for name, c in (await service_counters(stack)).items()}


def percentile(values: list[float], p: float) -> float:
    ranked = sorted(values)
    return ranked[max(0, math.ceil(p / 100 * len(ranked)) - 1)]


# --- the run ------------------------------------------------------------------

@dataclass
class Options:
    only: tuple[str, ...]
    scale: float
    contacts: int
    rate: float
    steady_seconds: float
    green_backlog: int
    catchup_contacts: int
    hop_messages: int
    db_operations: int
    stall_seconds: float
    seed: int
    json_path: Path
    profile: str | None = None  # a service to run py-spy on in the burst

    def count(self, n: int, floor: int) -> int:
        return max(floor, round(n * self.scale))


class Bench:
    def __init__(self, stack: Stack, opts: Options) -> None:
        self.stack = stack
        self.opts = opts
        self.bootstrap = stack.settings.bootstrap
        self.tally = Tally()
        self.sampler = Sampler(stack)
        self.keys = KeyRing(stack.settings.home)
        self.results: dict[str, Any] = {}
        self.run = uuid.uuid4().hex[:6]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.producer: AIOKafkaProducer | None = None
        self.offsets: AIOKafkaConsumer | None = None
        self.mongo: AsyncMongoClient[dict[str, Any]] | None = None
        self.profiler: asyncio.subprocess.Process | None = None
        self.profile: dict[str, Any] = {}

    async def open(self) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                         client_id="bench-pipeline")
        await self.producer.start()
        self.offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self.offsets.start()
        self.mongo = AsyncMongoClient(self.stack.settings.operator_mongo_uri)
        self._tasks = [asyncio.create_task(follow(self.bootstrap, self.tally, self._stop)),
                       asyncio.create_task(self.sampler.run(self._stop))]

    async def close(self) -> None:
        self._stop.set()
        if self.profiler is not None and self.profiler.returncode is None:
            self.profiler.kill()
            await self.profiler.wait()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        if self.producer is not None:
            await self.producer.stop()
        if self.offsets is not None:
            await self.offsets.stop()
        if self.mongo is not None:
            await self.mongo.close()

    # -- helpers -------------------------------------------------------------

    def _check_stack(self) -> None:
        if self.stack.exited.is_set():
            raise Aborted(self.stack.failure or "a child of the stack exited")
        for task in self._tasks:
            if task.done():
                raise Aborted(f"the bench's own follower or sampler stopped: {task!r}")

    async def send(self, messages: list[Message], topic: str = topics.CONTACTS_SUBMITTED) -> None:
        assert self.producer is not None
        await submit(self.producer, messages, self.tally.account, keys=self.keys, topic=topic)

    async def wait_until(self, label: str, done: Callable[[], int], total: int,
                         every: float = 15.0) -> None:
        """Until done() reaches total, printing progress; gives up when nothing
        at all has come out of the pipeline for --stall-seconds."""
        last_change, last_activity = time.monotonic(), -1
        last_print, printed_value = time.monotonic(), done()
        while True:
            self._check_stack()
            value, activity = done(), self.tally.activity()
            now = time.monotonic()
            if activity != last_activity:
                last_change, last_activity = now, activity
            if value >= total:
                return
            if now - last_print >= every:
                rate = (value - printed_value) / (now - last_print)
                say(f"{label}: {value}/{total} ({rate:.1f}/s over the last {now - last_print:.0f}s)")
                last_print, printed_value = now, value
            if now - last_change > self.opts.stall_seconds:
                say(f"{label}: STALLED at {value}/{total}: nothing came out of the pipeline "
                    f"for {self.opts.stall_seconds:.0f}s")
                return
            await asyncio.sleep(0.25)

    async def quiet(self, settle: float = 2.0, limit: float = 30.0) -> dict[str, int]:
        """The topics' end offsets once nothing more is being written."""
        assert self.offsets is not None
        began = time.monotonic()
        ends = await end_offsets(self.offsets)
        while time.monotonic() - began < limit:
            await asyncio.sleep(settle)
            again = await end_offsets(self.offsets)
            if again == ends:
                break
            ends = again
        return ends

    def account_for(self, ids: list[str]) -> dict[str, Any]:
        acc = self.tally.account
        valid = [c for c in ids if acc.submitted[c].valid]
        return {
            "submitted": len(ids),
            "valid": len(valid),
            "deliberately_unusable": len(ids) - len(valid),
            "outcomes": sum(1 for c in ids if c in acc.outcomes),
            "rejected": sum(1 for c in ids if c in acc.rejected),
            "rejected_valid": sum(1 for c in valid if c in acc.rejected),
            "unusable_not_rejected": sum(1 for c in ids if not acc.submitted[c].valid
                                         and c not in acc.rejected),
            "joined_open_case": sum(1 for c in ids if c in acc.joined),
            "lost": sum(1 for c in ids if c not in acc.outcomes and c not in acc.rejected),
        }

    def findings_for(self, cases: set[str], agency: str) -> list[float]:
        """When each of these cases' finding from this agency was first seen."""
        found = self.tally.findings
        return [found[c][agency] for c in cases if agency in found.get(c, {})]

    def stages(self, ids: list[str]) -> dict[str, list[float]]:
        """Where each contact's time went, for those that opened a case and
        reached an outcome: intake (submitted -> case opened), research (case
        opened -> the last agency's finding), decision (last finding -> the
        case's first decision) and notify (decision -> outcome)."""
        t, acc, every = self.tally, self.tally.account, len(agencies())
        out: dict[str, list[float]] = {stage: [] for stage in STAGES}
        for c in ids:
            case = t.case_of.get(c, "")
            answers = t.findings.get(case, {})
            if (c not in t.opened_at or c not in acc.outcomes or len(answers) < every
                    or case not in t.decided_at):
                continue
            last = max(answers.values())
            out["intake"].append(t.opened_at[c] - acc.submitted[c].sent_at)
            out["research"].append(last - t.opened_at[c])
            out["decision"].append(t.decided_at[case] - last)
            out["notify"].append(t.settled_at[c] - t.decided_at[case])
        return out

    def stage_summary(self, ids: list[str]) -> dict[str, dict[str, float]]:
        return {stage: {"p50": round(percentile(v, 50), 2), "p95": round(percentile(v, 95), 2),
                        "max": round(max(v), 2)}
                for stage, v in self.stages(ids).items() if v}

    def cases_of(self, ids: list[str]) -> set[str]:
        return {self.tally.case_of[c] for c in ids if c in self.tally.case_of}

    # -- 1. the parts ---------------------------------------------------------

    async def parts(self) -> None:
        o, s = self.opts, self.stack.settings
        hop = o.count(o.hop_messages, 1000)
        say(f"parts: broker hop rate over {hop} messages of 2 KB")
        broker = await broker_hop_rate(self.bootstrap, hop, s.topic_partitions,
                                       one_by_one=max(500, hop // 10))
        say(f"parts: broker {broker.hop_per_s:.0f} hops/s batched, "
            f"{broker.hop_one_by_one_per_s:.0f}/s one at a time; produce {broker.produce_per_s:.0f}/s")
        ops = o.count(o.db_operations, 200)
        say(f"parts: database single-client rates over {ops} operations")
        db = await database_rates(s.operator_mongo_uri, ops)
        say(f"parts: database insert_one {db.insert_one_per_s:.0f}/s, "
            f"find_one {db.find_one_per_s:.0f}/s, update_one {db.update_one_per_s:.0f}/s")
        self.results["parts"] = {"broker": broker.as_dict(), "database": db.as_dict()}

    # -- 2. the burst ---------------------------------------------------------

    async def burst(self) -> None:
        assert self.mongo is not None
        n = self.opts.count(self.opts.contacts, 10)
        say(f"burst: generating {n} contacts")
        messages = list(fresh_contacts(n, self.opts.seed + 1, f"{self.run}b"))
        ids = [m[0] for m in messages]
        ends_before = await self.quiet()
        say(f"burst: {IDLE_SECONDS:g} s of the idle stack first, for the CPU and database "
            "operations it uses alone")
        self.sampler.section = "idle"
        idle = await self.idle()
        busiest_idle = sorted(idle["cores_by_process"].items(), key=lambda kv: -kv[1])[:3]
        say(f"burst: idle stack {idle['cores']:.3f} cores (" + ", ".join(
            f"{k} {v:.3f}" for k, v in busiest_idle) + ")")
        ops_before = await opcounters(self.mongo)
        top_before = await collection_times(self.mongo)
        counters_before = await service_counters(self.stack)
        self.sampler.sample()
        if self.opts.profile:
            await self.start_profile(self.opts.profile)
        self.sampler.section = "burst"
        cpu_before, cpu_began = self.sampler.cpu_seconds(), time.monotonic()
        say(f"burst: submitting {n} contacts")
        began = time.monotonic()
        await self.send(messages)
        submitted = time.monotonic() - began
        say(f"burst: {n} submitted in {submitted:.1f}s; waiting for every outcome")
        await self.wait_until("burst: settled", lambda: self.tally.settled(ids), n)
        stamps = [self.tally.settled_at[c] for c in ids if c in self.tally.settled_at]
        last = max(stamps) if stamps else time.monotonic()
        cpu = delta(self.sampler.cpu_seconds(), cpu_before)
        cpu_window = time.monotonic() - cpu_began
        self.sampler.section = "after burst"
        if self.profiler is not None:
            await self.stop_profile()
        elapsed = last - began
        ends = delta(await self.quiet(), ends_before)
        ops = delta(await opcounters(self.mongo), ops_before)
        top = {name: delta(row, top_before.get(name, {}))
               for name, row in (await collection_times(self.mongo)).items()}
        busiest = sorted(top.items(), key=lambda kv: -kv[1].get("total_n", 0))[:12]
        outbox_getmore = sum(row.get("getmore_n", 0) for name, row in top.items()
                             if name.endswith(".outbox"))
        by_database: dict[str, Counter[str]] = {}
        for name, row in top.items():
            kinds = by_database.setdefault(name.split(".", 1)[0], Counter())
            for kind in ("queries", "getmore", "insert", "update", "remove", "commands"):
                kinds[kind] += row.get(f"{kind}_n", 0)
        counters = await counters_since(self.stack, counters_before)
        accounted = self.account_for(ids)
        settled = accounted["outcomes"] + accounted["rejected"]
        cases = self.cases_of(ids)
        per_agency = {}
        for agency in agencies():
            seen = self.findings_for(cases, agency)
            span = max(seen) - min(seen) if len(seen) > 1 else 0.0
            per_agency[agency] = {"findings": len(seen),
                                  "per_s": round((len(seen) - 1) / span, 2) if span else None}

        def summed(name: str) -> float:
            return float(sum(c.get(name, 0.0) for c in counters.values()))

        cpu_rows, cpu_stack = cpu_per_contact(cpu, idle["cores_by_process"], cpu_window, n)
        cores = os.cpu_count() or 1
        bound_by_cpu = cpu_bound(cores, idle["cores"], cpu_stack["net"])
        contacts_per_s = round(settled / elapsed, 2) if elapsed else None
        commands = by_label(counters, COMMANDS)
        batches = batch_sizes(counters)

        self.results["burst"] = {
            **accounted,
            "cases_opened": len(cases),
            "submit_seconds": round(submitted, 2),
            "seconds_to_last_outcome": round(elapsed, 2),
            "contacts_per_s": contacts_per_s,
            "messages_by_topic": {t: v for t, v in sorted(ends.items()) if v},
            "messages_per_contact": round(sum(ends.values()) / n, 2),
            "services_received_per_contact": round(
                summed("faststream_received_messages_total") / n, 2),
            "services_published_per_contact": round(
                summed("faststream_published_messages_total") / n, 2),
            "db_ops": ops,
            "db_ops_per_contact": {k: round(v / n, 2) for k, v in ops.items()},
            "db_ops_per_contact_total": round(sum(ops.values()) / n, 2),
            "db_idle_ops_per_s": idle["db_ops_per_s"],
            "db_idle_share_of_ops": round(
                sum(idle["db_ops_per_s"].values()) * elapsed / sum(ops.values()), 3)
            if sum(ops.values()) else None,
            "db_getmore_on_outbox_per_contact": round(outbox_getmore / n, 2),
            "db_cpu_seconds_per_contact": round(cpu.get("database", 0.0) / n, 4),
            "db_ops_per_contact_by_database": {
                db: {k: round(v / n, 2) for k, v in kinds.items() if v}
                for db, kinds in sorted(by_database.items(), key=lambda kv: -kv[1].total())
                if kinds.total()},
            # `top`: operations per collection; its times are wall times and
            # include the waits of change-stream getMores, so not busy time.
            "db_busiest_collections": {
                name: {k.removesuffix("_n"): v for k, v in row.items()
                       if k.endswith("_n") and v and not k.endswith("Lock_n")}
                for name, row in busiest},
            "findings_by_agency": per_agency,
            "cpu_seconds": {k: round(v, 1) for k, v in sorted(cpu.items())},
            "cpu_share_of_one_core": {k: round(v / elapsed, 2) for k, v in sorted(cpu.items())}
            if elapsed else {},
            "idle_seconds": idle["seconds"],
            "idle_cores_by_process": {k: round(v, 3) for k, v in idle["cores_by_process"].items()},
            "idle_cores": round(idle["cores"], 3),
            "cpu_window_seconds": round(cpu_window, 2),
            "cpu_ms_per_contact": cpu_rows,
            "cpu_ms_per_contact_total": cpu_stack,
            "cpu_bound": {"cores": cores, "idle_cores": round(idle["cores"], 3),
                          "net_cpu_seconds_per_contact": round(cpu_stack["net"] / 1000, 5),
                          "contacts_per_s": round(bound_by_cpu, 2) if bound_by_cpu else None},
            "throughput_over_cpu_bound": round(contacts_per_s / bound_by_cpu, 3)
            if contacts_per_s and bound_by_cpu else None,
            "normalised_throughput": None,  # with the parts (_bound)
            "db_transactions_per_contact": (
                {"committed": 0.0, "aborted": 0.0} | tx if (tx := per_contact(
                    by_label(counters, TRANSACTIONS), n)) is not None else None),
            "db_commands_per_contact": per_contact(commands, n),
            "db_commands_per_contact_by_service": top_per_contact(commands, n),
            "conflicts_per_contact": conflicts_per_contact(counters, n),
            "consumer_batches": batches,
            "mean_batch_records": mean_batch(batches),
            "duplicate_outcomes": self.tally.account.duplicates,
            "handler_retries_per_contact": retries_per_contact(counters, n),
            "stages_s": self.stage_summary(ids),
        }
        if self.opts.profile:
            self.results["burst"]["profile"] = self.profile
        say(f"burst: {settled}/{n} settled in {elapsed:.1f}s = {settled / elapsed:.2f} contacts/s; "
            f"{accounted['lost']} lost")
        self._bound()

    async def idle(self, seconds: float = IDLE_SECONDS) -> dict[str, Any]:
        """The stack with nothing fed for `seconds`: the cores each process
        uses (cores_by_process; cores for the stack, the bench left out) and
        the database operations the services make on their own (outbox
        relays, queue polls, gauges), per second."""
        assert self.mongo is not None
        ops_before = await opcounters(self.mongo)
        cpu_before, began = self.sampler.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, took = delta(self.sampler.cpu_seconds(), cpu_before), time.monotonic() - began
        ops = delta(await opcounters(self.mongo), ops_before)
        cores = {k: v / took for k, v in sorted(cpu.items())}
        return {"seconds": round(took, 2), "cores_by_process": cores, "cores": stack_only(cores),
                "db_ops_per_s": {k: round(v / took, 1) for k, v in ops.items()}}

    async def start_profile(self, service: str) -> None:
        """`py-spy record` on the service until stop_profile; if it cannot
        (not installed, the service not running, ptrace refused), why not."""
        self.profile = {"service": service}
        exe = (shutil.which("py-spy")
               or shutil.which("py-spy", path=str(Path(sys.executable).parent)))
        running = self.sampler.processes()
        proc = running.get(service)
        if exe is None or proc is None:
            self.profile["error"] = ("py-spy is not installed (pip install py-spy)" if exe is None
                                     else f"no process {service} in the stack; it runs "
                                          f"{', '.join(sorted(running))}")
            say(f"profile: {self.profile['error']}; going on without it")
            return
        path = self.opts.json_path.with_name(f"{self.opts.json_path.stem}-profile-{service}.folded")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.profile |= {"pid": proc.pid, "file": str(path)}
        self.profiler = await asyncio.create_subprocess_exec(
            exe, "record", "--pid", str(proc.pid), "--format", "raw", "--function",
            "--nonblocking", "--output", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        # It stops at once when it cannot attach.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.profiler.wait(), timeout=1.0)
        if self.profiler.returncode is not None:
            await self.stop_profile()
        else:
            say(f"profile: py-spy recording {service} (pid {proc.pid}) to {path}")

    async def stop_profile(self) -> None:
        """Stop py-spy (as Ctrl-C does: it writes its file) and read its top
        functions by own samples."""
        profiler, self.profiler = self.profiler, None
        assert profiler is not None
        assert profiler.stdout is not None
        attached = profiler.returncode is None
        if attached:
            profiler.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(profiler.wait(), timeout=60.0)
        except TimeoutError:
            profiler.kill()
            await profiler.wait()
        said = (await profiler.stdout.read()).decode(errors="replace").strip().splitlines()
        path = Path(self.profile["file"])
        folded = await asyncio.to_thread(_read_if_any, path)
        if not folded:
            why = said[-1] if said else f"exit status {profiler.returncode}"
            self.profile["error"] = (f"py-spy wrote nothing: {why}" if attached
                                     else f"py-spy could not attach (ptrace?): {why}")
            say(f"profile: {self.profile['error']}; going on without it")
            return
        samples, top = top_own(folded)
        self.profile |= {"samples": samples,
                         "top": [{"function": frame, "own_samples": count,
                                  "share": round(count / samples, 3)} for frame, count in top]}
        say(f"profile: {samples} samples of {self.profile['service']} in {path}")

    def _bound(self) -> None:
        """What the parts allow: the tighter of broker and database."""
        burst, parts = self.results.get("burst"), self.results.get("parts")
        if not burst or not parts:
            return
        b, d = parts["broker"], parts["database"]
        per = burst["db_ops_per_contact"]
        broker_bound = b["hop_per_s"] / burst["messages_per_contact"]
        # Seconds of one client's database time per contact, each kind of
        # operation at the rate measured for its nearest single operation.
        seconds = (per.get("insert", 0) / d["insert_one_per_s"]
                   + (per.get("update", 0) + per.get("delete", 0)) / d["update_one_per_s"]
                   + (per.get("query", 0) + per.get("getmore", 0) + per.get("command", 0))
                   / d["find_one_per_s"])
        db_bound = 1 / seconds if seconds else float("inf")
        bound = min(broker_bound, db_bound)
        burst["bound"] = {
            "broker_contacts_per_s": round(broker_bound, 2),
            "database_contacts_per_s": round(db_bound, 2),
            "database_seconds_per_contact": round(seconds, 4),
            "tighter": "broker" if broker_bound <= db_bound else "database",
            "contacts_per_s": round(bound, 2),
        }
        if burst["contacts_per_s"]:
            burst["throughput_over_bound"] = round(burst["contacts_per_s"] / bound, 3)
        normalised = normalised_throughput(burst["contacts_per_s"], d["insert_one_per_s"])
        burst["normalised_throughput"] = round(normalised, 2) if normalised else None

    # -- 3. steady rate ---------------------------------------------------------

    async def unloaded(self, count: int = 5) -> list[float]:
        """Submission to outcome for single contacts sent one at a time."""
        took = []
        for i, message in enumerate(fresh_contacts(count, self.opts.seed + 2, f"{self.run}u",
                                                   invalid_share=0)):
            await self.send([message])
            contact_id = message[0]

            def settled(c: str = contact_id) -> int:
                return int(c in self.tally.settled_at)

            await self.wait_until(f"steady: unloaded contact {i + 1}/{count}", settled, 1)
            if message[0] in self.tally.account.outcomes:
                took.append(self.tally.settled_at[message[0]]
                            - self.tally.account.submitted[message[0]].sent_at)
        return took

    async def steady(self) -> None:
        o = self.opts
        alone = await self.unloaded()
        seconds = max(10.0, o.steady_seconds * o.scale)
        say(f"steady: unloaded p50 {statistics.median(alone) if alone else float('nan'):.2f}s")
        result = await self._steady_at(o.rate, seconds, o.seed + 3, "s")
        result["unloaded_latency_s"] = [round(x, 3) for x in alone]
        if result.get("latency_s") and alone:
            result["p50_over_unloaded_p50"] = round(
                result["latency_s"]["p50"] / statistics.median(alone), 2)
        burst = self.results.get("burst", {})
        if burst.get("contacts_per_s"):
            result["rate_over_burst_throughput"] = round(o.rate / burst["contacts_per_s"], 2)
            if not result["sustained"]:
                # The target is past what this machine sustains, so its
                # latencies are queueing time. Latency is also measured where
                # the pipeline keeps up: at half the burst's throughput.
                # After a pause, so that it does not start in the target's wake.
                await asyncio.sleep(5.0)
                half = round(burst["contacts_per_s"] / 2, 2)
                result["within_capacity"] = await self._steady_at(
                    half, max(30.0, seconds), o.seed + 6, "h")
        self.results["steady"] = result

    async def _steady_at(self, rate: float, seconds: float, seed: int, tag: str) -> dict[str, Any]:
        count = max(1, round(rate * seconds))
        say(f"steady: {count} contacts at {rate:g}/s for {seconds:.0f}s")
        sent: list[str] = []
        backlog: list[tuple[float, int]] = []
        self.sampler.section = "steady"

        async def watch_backlog(stop: asyncio.Event) -> None:
            while not stop.is_set():
                backlog.append((time.monotonic(), len(sent) - self.tally.settled(sent)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)

        stop = asyncio.Event()
        counters_before = await service_counters(self.stack)
        watcher = asyncio.create_task(watch_backlog(stop))
        began = time.monotonic()
        try:
            for i, message in enumerate(fresh_contacts(count, seed, f"{self.run}{tag}")):
                self._check_stack()
                wait = began + i / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self.send([message])
                sent.append(message[0])
        finally:
            stop.set()
            await watcher
        sending = time.monotonic() - began
        achieved = len(sent) / sending
        # Backlog growth: least-squares slope over the second half of the window.
        half = [(t - began, b) for t, b in backlog if t - began >= sending / 2]
        growth = (statistics.linear_regression([t for t, _ in half], [float(b) for _, b in half]).slope
                  if len(half) >= 3 and len({t for t, _ in half}) > 1 else 0.0)
        at_end = len(sent) - self.tally.settled(sent)
        sustained = achieved >= 0.95 * rate and growth <= 0.1 * rate
        say(f"steady: sent {len(sent)} at {achieved:.1f}/s; backlog {at_end} at the end, "
            f"growing {growth:+.1f}/s; waiting for the rest")
        await self.wait_until("steady: settled", lambda: self.tally.settled(sent), len(sent))
        counters = await counters_since(self.stack, counters_before)
        acc = self.tally.account
        latencies = [self.tally.settled_at[c] - acc.submitted[c].sent_at
                     for c in sent if c in acc.outcomes and c in self.tally.settled_at]
        stamps = [self.tally.settled_at[c] for c in sent if c in self.tally.settled_at]
        result: dict[str, Any] = {
            **self.account_for(sent),
            "target_per_s": rate, "seconds": round(seconds, 1),
            "achieved_submit_per_s": round(achieved, 2),
            "completed_per_s_in_window": round(
                sum(1 for t in stamps if t <= began + sending) / sending, 2),
            "backlog_at_end_of_window": at_end,
            "backlog_growth_per_s": round(growth, 2),
            "drain_after_window_s": round(max(stamps) - (began + sending), 1) if stamps else None,
            "sustained": sustained,
            "handler_retries_per_contact": retries_per_contact(counters, max(1, len(sent))),
            "stages_s": self.stage_summary(sent),
        }
        if latencies:
            result["latency_s"] = {f"p{p}": round(percentile(latencies, p), 3) for p in (50, 95, 99)}
            result["latency_s"]["max"] = round(max(latencies), 3)
        return result

    # -- 4. priority ------------------------------------------------------------

    async def priority(self) -> None:
        o = self.opts
        n = o.count(o.green_backlog, 10)
        say(f"priority: generating {n} GREEN contacts and one RED")
        greens = list(fresh_contacts(n, o.seed + 4, f"{self.run}g", invalid_share=0,
                                     shape=as_green))
        red = next(fresh_contacts(1, o.seed + 5, f"{self.run}r", invalid_share=0, shape=as_red,
                                  sources=POLICE_ONLY))
        ids = [m[0] for m in greens]
        self.sampler.section = "priority"
        began = time.monotonic()
        await self.send(greens)
        # As a referrer does with a RED contact: on the urgent lane.
        await self.send([red], topics.urgent(topics.CONTACTS_SUBMITTED))
        red_id = red[0]
        say(f"priority: {n} GREEN then 1 RED submitted in {time.monotonic() - began:.1f}s")
        everyone = [*ids, red_id]
        await self.wait_until("priority: settled, GREEN and RED", lambda: self.tally.settled(everyone),
                              n + 1)
        acc = self.tally.account
        red_at = self.tally.settled_at.get(red_id)
        red_took = red_at - acc.submitted[red_id].sent_at if red_at else None
        green_stamps = [self.tally.settled_at[c] for c in ids if c in self.tally.settled_at]
        drain = max(green_stamps) - began if green_stamps else None
        triage = Counter(self.tally.triage.get(c) or ("joined an open case" if c in acc.joined
                                                      else "no case opened") for c in ids)
        red_stages = {k: round(v[0], 2) for k, v in self.stages([red_id]).items() if v}
        result: dict[str, Any] = {
            **self.account_for([*ids, red_id]),
            "green_backlog": n,
            "green_triage": dict(triage),
            "red_triage": self.tally.triage.get(red_id),
            "red_outcome": acc.outcomes[red_id].data.rag.value if red_id in acc.outcomes else None,
            "red_seconds": round(red_took, 2) if red_took is not None else None,
            "green_drain_seconds": round(drain, 2) if drain is not None else None,
            "green_settled_before_red": sum(1 for t in green_stamps if red_at and t < red_at),
            "red_stages_s": red_stages,
            "green_stages_s": self.stage_summary(ids),
        }
        if red_took is not None and drain:
            result["red_over_drain"] = round(red_took / drain, 3)
        self.results["priority"] = result
        say(f"priority: RED in {red_took or float('nan'):.1f}s, GREEN backlog drained in "
            f"{drain or float('nan'):.1f}s")

    # -- 5. catch-up ------------------------------------------------------------

    async def catchup(self) -> None:
        o = self.opts
        service = f"research-{CATCHUP_AGENCY}"
        n = o.count(o.catchup_contacts, 10)
        messages = list(fresh_contacts(n, o.seed + 6, f"{self.run}c"))
        ids = [m[0] for m in messages]
        valid = [m[0] for m in messages if m[3]]
        say(f"catchup: stopping {service}")
        await self.stack.stop_service(service)
        self.sampler.section = "catchup"
        await self.send(messages)
        others = [a for a in agencies() if a != CATCHUP_AGENCY]
        acc = self.tally.account

        def intake_done() -> int:
            return sum(1 for c in valid if c in self.tally.case_of or c in acc.joined
                       or c in acc.rejected)

        await self.wait_until("catchup: taken in by intake", intake_done, len(valid))
        cases = self.cases_of(ids)
        await self.wait_until("catchup: answered by the other agencies",
                              lambda: sum(len(self.findings_for(cases, a)) >= len(cases)
                                          for a in others), len(others))
        say(f"catchup: {len(cases)} {CATCHUP_AGENCY} enquiries waiting; starting {service}")
        restart = time.monotonic()
        await self.stack.start_services(only=[service], env=SERVICE_ENV)
        ready = time.monotonic()
        await self.wait_until(f"catchup: {CATCHUP_AGENCY} findings",
                              lambda: len(self.findings_for(cases, CATCHUP_AGENCY)), len(cases))
        await self.wait_until("catchup: settled", lambda: self.tally.settled(ids), n)
        seen = sorted(self.findings_for(cases, CATCHUP_AGENCY))
        result: dict[str, Any] = {**self.account_for(ids), "agency": CATCHUP_AGENCY,
                                  "backlog": len(cases),
                                  "restart_to_ready_s": round(ready - restart, 2),
                                  "findings_after_restart": len(seen)}
        if seen:
            result["ready_to_first_finding_s"] = round(seen[0] - ready, 2)
            result["drain_seconds"] = round(seen[-1] - ready, 2)
            result["drain_per_s"] = round(len(seen) / (seen[-1] - ready), 2)
            normal = (self.results.get("burst", {}).get("findings_by_agency", {})
                      .get(CATCHUP_AGENCY, {}).get("per_s"))
            if normal:
                result["normal_per_s_in_burst"] = normal
                result["drain_over_normal"] = round(result["drain_per_s"] / normal, 2)
        self.results["catchup"] = result
        say(f"catchup: {len(seen)} findings in {result.get('drain_seconds', float('nan'))}s after "
            f"ready = {result.get('drain_per_s', float('nan'))}/s")

    # -- the ratios -----------------------------------------------------------

    def headlines(self) -> None:
        r = self.results
        burst, steady = r.get("burst", {}), r.get("steady", {})
        growth = [v["burst_over_idle"] for v in r.get("memory_mb", {}).values()
                  if v.get("burst_over_idle")]
        r["headlines"] = {
            "throughput_over_bound": burst.get("throughput_over_bound"),
            "bound": burst.get("bound", {}).get("tighter"),
            "throughput_over_cpu_bound": burst.get("throughput_over_cpu_bound"),
            "normalised_throughput": burst.get("normalised_throughput"),
            "idle_cores": burst.get("idle_cores"),
            "cpu_ms_per_contact_net": burst.get("cpu_ms_per_contact_total", {}).get("net"),
            "db_ops_per_contact": burst.get("db_ops_per_contact_total"),
            "db_transactions_per_contact": round(sum(tx.values()), 3)
            if (tx := burst.get("db_transactions_per_contact")) else None,
            "conflicts_per_contact": burst.get("conflicts_per_contact"),
            "mean_batch_records": burst.get("mean_batch_records"),
            "steady_sustained": steady.get("sustained"),
            "steady_completed_over_target": round(
                steady["completed_per_s_in_window"] / steady["target_per_s"], 3) if steady else None,
            "steady_p50_over_unloaded_p50": steady.get("p50_over_unloaded_p50")
            if steady.get("sustained") else None,
            "within_capacity_p99_s": steady.get("within_capacity", {}).get("latency_s", {})
            .get("p99"),
            "red_over_green_drain": r.get("priority", {}).get("red_over_drain"),
            "catchup_drain_over_normal": r.get("catchup", {}).get("drain_over_normal"),
            "largest_rss_burst_over_idle": max(growth) if growth else None,
        }

    # -- memory ---------------------------------------------------------------

    def memory(self) -> None:
        mb = 1024 * 1024
        peaks = self.sampler.peaks
        burst, idle = peaks.get("burst", {}), peaks.get("idle", {})
        whole: dict[str, int] = {}
        for section in peaks.values():
            for name, rss in section.items():
                whole[name] = max(whole.get(name, 0), rss)
        self.results["memory_mb"] = {
            name: {"idle": round(idle[name] / mb, 1) if name in idle else None,
                   "peak_burst": round(burst[name] / mb, 1) if name in burst else None,
                   "peak_run": round(rss / mb, 1),
                   "burst_over_idle": round(burst[name] / idle[name], 2)
                   if name in burst and name in idle else None}
            for name, rss in sorted(whole.items())}
        self.results["memory_peak_by_section_mb"] = {
            s: {n: round(v / mb, 1) for n, v in sorted(p.items())} for s, p in peaks.items()}


# --- output -------------------------------------------------------------------

def _f(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


STAGES = ("intake", "research", "decision", "notify")


def _steady_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("achieved submission rate", _f(s["achieved_submit_per_s"], " /s", 2)),
        ("completed within the window", _f(s["completed_per_s_in_window"], " /s", 2)),
        ("backlog at end of window / growth",
         f"{s['backlog_at_end_of_window']} / {s['backlog_growth_per_s']:+.2f} per s"),
    ]
    lat = s.get("latency_s")
    lat_text = (f"p50 {lat['p50']}s  p95 {lat['p95']}s  p99 {lat['p99']}s" if lat else "n/a")
    if s["sustained"]:
        rows.append(("LATENCY at this rate", lat_text))
        if "p50_over_unloaded_p50" in s:
            rows.append(("p50 at rate / p50 unloaded", _f(s.get("p50_over_unloaded_p50"), "", 2)))
    else:
        rows.append(("NOT SUSTAINED", f"achieved {s['achieved_submit_per_s']}/s submitted, "
                                      f"{s['completed_per_s_in_window']}/s completed, backlog "
                                      f"growing {s['backlog_growth_per_s']:+.1f}/s"))
        rows.append(("  latency (queueing behind the backlog, not steady state)", lat_text))
    rows.append(_stage_row(s.get("stages_s", {})))
    rows.append(_retries_row(s))
    rows.append(("outcomes / rejected / lost", f"{s['outcomes']} / {s['rejected']} / {s['lost']}"))
    return rows


def _retries_row(section: dict[str, Any]) -> tuple[str, str]:
    by_service = section.get("handler_retries_per_contact", {})
    text = ", ".join(f"{name} " + " ".join(f"{reason} {n}" for reason, n in reasons.items())
                     for name, reasons in by_service.items())
    return ("handler retries per contact (mash_handler_retries_total)", text or "none")


def _stage_row(stages: dict[str, dict[str, float]], whose: str = "") -> tuple[str, str]:
    label = f"{whose} p50 time: intake / research / decision / notify".strip()
    return (label, " / ".join(f"{stages[k]['p50']}s" if k in stages else "n/a" for k in STAGES))


def _headline_rows(b: dict[str, Any]) -> list[tuple[str, str]]:
    """The burst's figures against their goals, first in the table."""
    cpu = b.get("cpu_ms_per_contact_total") or {}
    by_cpu = b.get("cpu_bound") or {}
    parts_bound = b.get("bound")
    tx = b.get("db_transactions_per_contact")
    return [
        ("THROUGHPUT (burst)", _f(b.get("contacts_per_s"), " contacts/s", 2)),
        ("CPU ms per contact, stack: total / idle share / NET",
         " / ".join(_f(cpu.get(k), "", 1) for k in ("total", "idle", "net")) + " ms"
         if cpu else "n/a"),
        ("IDLE STACK, cores (goal <= 0.1)", _f(b.get("idle_cores"), "", 3)),
        (f"CPU-budget bound: ({by_cpu.get('cores', '?')} cores - idle) / net CPU per contact",
         _f(by_cpu.get("contacts_per_s"), " contacts/s", 2)),
        ("THROUGHPUT / CPU-BUDGET BOUND", _f(b.get("throughput_over_cpu_bound"), "", 3)),
        ("throughput / broker-database bound (for comparison)",
         f"{_f(b.get('throughput_over_bound'), '', 3)} (bound {_f(parts_bound['contacts_per_s'])} "
         f"contacts/s, {parts_bound['tighter']})" if parts_bound else "n/a"),
        ("NORMALISED: contacts/s per 1,000 insert_one/s (goal >= 10)",
         _f(b.get("normalised_throughput"), "", 2)),
        ("database operations per contact (opcounters)", _f(b.get("db_ops_per_contact_total"), "", 1)),
        ("database transactions per contact: committed / aborted",
         f"{_f(tx.get('committed', 0.0), '', 2)} / {_f(tx.get('aborted', 0.0), '', 3)}"
         if tx is not None else "n/a"),
        ("conflicts per contact (handler retries, reason conflict)",
         _f(b.get("conflicts_per_contact"), "", 3)),
        ("mean consumer batch, records (all subscribers)", _f(b.get("mean_batch_records"), "", 2)),
    ]


def _cpu_rows(b: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("CPU by process: ms per contact total / idle share / net; cores idle, in burst", "")]
    idle, busy = b.get("idle_cores_by_process", {}), b.get("cpu_share_of_one_core", {})
    for name, ms in sorted(b.get("cpu_ms_per_contact", {}).items(), key=lambda kv: -kv[1]["total"]):
        rows.append((f"  {name}", f"{ms['total']:.1f} / {ms['idle']:.1f} / {ms['net']:.1f} ms; "
                                  f"{_f(idle.get(name), '', 3)}, {_f(busy.get(name), '', 2)}"))
    return rows


def _database_client_rows(b: dict[str, Any]) -> list[tuple[str, str]]:
    commands = b.get("db_commands_per_contact")
    rows = [("database commands per contact, services' side (mash_db_commands_total)",
             ", ".join(f"{k} {v}" for k, v in commands.items() if v) or "none"
             if commands is not None else "n/a")]
    for service, top in (b.get("db_commands_per_contact_by_service") or {}).items():
        rows.append((f"  {service}, top 5", ", ".join(f"{k} {v}" for k, v in top.items()) or "none"))
    batches = b.get("consumer_batches")
    rows.append(("consumer batches: count, mean records (mash_consumer_batch_records)",
                 "" if batches else "n/a"))
    for service, by_subscriber in (batches or {}).items():
        for subscriber, row in by_subscriber.items():
            rows.append((f"  {service} {subscriber}",
                         f"{row['batches']} batches, {row['mean_records']:.2f} records"))
    return rows


def _profile_rows(p: dict[str, Any]) -> list[tuple[str, str]]:
    if "error" in p:
        return [("profile", f"{p['service']}: {p['error']}")]
    rows = [(f"profile: {p['service']}, {p['samples']} samples (py-spy), top by own samples",
             p["file"])]
    rows += [(f"  {i}.", f"{row['share'] * 100:5.1f}%  {row['own_samples']:>6}  {row['function']}")
             for i, row in enumerate(p["top"], 1)]
    return rows


def table(r: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, str]] = []

    def head(title: str) -> None:
        rows.append(("", ""))
        rows.append((f"== {title}", ""))

    if b := r.get("burst"):
        head(f"headline: burst of {b['submitted']} contacts")
        rows += _headline_rows(b)
    if p := r.get("parts"):
        b, d = p["broker"], p["database"]
        head("parts, alone, before the services start")
        rows += [
            (f"broker hop, {b['message_bytes']} B, consume A -> publish B (batched)",
             _f(b["hop_per_s"], " msg/s", 0)),
            ("broker hop, one at a time (send_and_wait)", _f(b["hop_one_by_one_per_s"], " msg/s", 0)),
            ("broker produce only", _f(b["produce_per_s"], " msg/s", 0)),
            (f"database insert_one, 1 client, {d['document_bytes']} B", _f(d["insert_one_per_s"], " /s", 0)),
            ("database find_one by _id, 1 client", _f(d["find_one_per_s"], " /s", 0)),
            ("database update_one by _id, 1 client", _f(d["update_one_per_s"], " /s", 0)),
        ]
    if b := r.get("burst"):
        head(f"burst: {b['submitted']} contacts submitted at once")
        rows += [
            ("outcomes / rejected (deliberately unusable) / lost",
             f"{b['outcomes']} / {b['rejected']} ({b['deliberately_unusable']}) / {b['lost']}"),
            ("submitted in / last outcome after",
             f"{b['submit_seconds']}s / {b['seconds_to_last_outcome']}s"),
            ("THROUGHPUT", _f(b["contacts_per_s"], " contacts/s", 2)),
            ("messages per contact (topic end offsets)", _f(b["messages_per_contact"], "", 2)),
            ("  received / published by services per contact",
             f"{b['services_received_per_contact']} / {b['services_published_per_contact']}"),
            ("database ops per contact (serverStatus opcounters)",
             ", ".join(f"{k} {v}" for k, v in b["db_ops_per_contact"].items() if v)),
            ("  of which the idle services' own polling", _f(b["db_idle_share_of_ops"], "", 3)),
            ("  of which getMore on the outbox change streams (`top`)",
             _f(b["db_getmore_on_outbox_per_contact"], "", 2)),
            ("database CPU per contact (psutil)", _f(b["db_cpu_seconds_per_contact"], "s", 4)),
            ("database ops per contact by database, top 4 (`top`)",
             ", ".join(f"{db.removeprefix('mash_')} {sum(k.values()):.0f}"
                       for db, k in islice(b["db_ops_per_contact_by_database"].items(), 4))),
        ]
        if bound := b.get("bound"):
            rows += [
                ("bound from broker (hop rate / messages per contact)",
                 _f(bound["broker_contacts_per_s"], " contacts/s", 2)),
                ("bound from database (1 / single-client seconds per contact)",
                 _f(bound["database_contacts_per_s"], " contacts/s", 2)),
                ("THROUGHPUT / BOUND", f"{_f(b.get('throughput_over_bound'), '', 3)} "
                                       f"(bound: {bound['tighter']})"),
            ]
        rows.append(_stage_row(b.get("stages_s", {})))
        rows.append(_retries_row(b))
        busiest = sorted(b["cpu_share_of_one_core"].items(), key=lambda kv: -kv[1])[:5]
        rows.append(("CPU, cores busy during the burst (top 5)",
                     ", ".join(f"{k} {v}" for k, v in busiest)))
        rows += _cpu_rows(b)
        rows += _database_client_rows(b)
        if p := b.get("profile"):
            rows += _profile_rows(p)
    if s := r.get("steady"):
        head(f"steady: {s['target_per_s']:g} contacts/s for {s['seconds']:g}s")
        rows.append(("unloaded latency (single contacts), s",
                     ", ".join(map(str, s["unloaded_latency_s"]))))
        rows += _steady_rows(s)
        if w := s.get("within_capacity"):
            head(f"steady within capacity: {w['target_per_s']:g} contacts/s (half the burst's "
                 f"throughput) for {w['seconds']:g}s")
            rows += _steady_rows(w)
    if p := r.get("priority"):
        head(f"priority: 1 RED behind {p['green_backlog']} GREEN")
        rows += [
            ("triage: GREEN backlog / RED", ", ".join(f"{k} {v}" for k, v in p["green_triage"].items())
             + f" / {p['red_triage']} (decided {p['red_outcome']})"),
            ("RED: submission to outcome", _f(p["red_seconds"], "s", 2)),
            ("GREEN: first submission to last outcome", _f(p["green_drain_seconds"], "s", 2)),
            ("GREEN settled before the RED", str(p["green_settled_before_red"])),
            ("RED's time: intake / research / decision / notify",
             " / ".join(f"{p['red_stages_s'].get(k, 'n/a')}s" for k in STAGES)),
            _stage_row(p.get("green_stages_s", {}), "GREEN's"),
            ("RED / GREEN DRAIN", _f(p.get("red_over_drain"), "", 3)),
            ("lost", str(p["lost"])),
        ]
    if c := r.get("catchup"):
        head(f"catch-up: research-{c['agency']} stopped for {c['submitted']} contacts")
        rows += [
            ("enquiries waiting at restart", str(c["backlog"])),
            ("restart to ready / ready to first finding",
             f"{c['restart_to_ready_s']}s / {_f(c.get('ready_to_first_finding_s'), 's', 2)}"),
            ("drain rate after restart", _f(c.get("drain_per_s"), " findings/s", 2)),
            ("normal rate in the burst", _f(c.get("normal_per_s_in_burst"), " findings/s", 2)),
            ("DRAIN / NORMAL", _f(c.get("drain_over_normal"), "", 2)),
            ("lost", str(c["lost"])),
        ]
    if m := r.get("memory_mb"):
        head("memory: peak RSS (MB), sampled every 0.5 s")
        rows.append(("process", "idle  burst-peak  run-peak  burst/idle"))
        rows += [(f"  {name}", f"{_f(v['idle'])}  {_f(v['peak_burst'])}  {_f(v['peak_run'])}  "
                               f"{_f(v['burst_over_idle'], '', 2)}")
                 for name, v in m.items()]
    if h := r.get("headlines"):
        head("headline ratios (each from one run)")
        rows += [(f"  {k}", _f(v, "", 3)) for k, v in h.items()]
    width = max(len(k) for k, _ in rows) + 2
    return [f"{k:<{width}}{v}" if v else k for k, v in rows]


# --- main ---------------------------------------------------------------------

async def measure(opts: Options) -> dict[str, Any]:
    results: dict[str, Any] = {}
    errors = Counter[str]()

    def echo(line: str) -> None:
        if "ERROR" in line or "Traceback" in line:
            errors["service error lines"] += 1
            if errors["service error lines"] > 20:
                return
        say(line)

    with tempfile.TemporaryDirectory(prefix="mash-bench-") as home:
        stack = Stack(stack_settings(Path(home)), quiet_services=True, auto_authorise=True, echo=echo)
        bench: Bench | None = None
        try:
            say("stack: starting broker and database")
            await stack.start_servers()
            bench = Bench(stack, opts)
            results = bench.results
            if "parts" in opts.only:
                await bench.parts()
            say("stack: starting every service")
            await stack.start_services(env=SERVICE_ENV)
            await stack.reconcile(wait_seconds=stack.settings.ready_timeout_seconds)
            await bench.open()
            for section in SECTIONS[1:]:
                if section in opts.only:
                    await getattr(bench, section)()
            bench.memory()
            bench.headlines()
        except Aborted as exc:
            results["aborted"] = str(exc)
            say(f"ABORTED: {exc}")
        except Exception as exc:
            # Keep what the sections before it measured: a full run is an hour.
            results["aborted"] = f"{type(exc).__name__}: {exc}"
            say(f"ABORTED: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        finally:
            if bench is not None:
                if "memory_mb" not in results:
                    bench.memory()
                await bench.close()
            say("stack: stopping")
            await stack.stop()
    results["service_error_lines"] = errors["service error lines"]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"sections to run, comma-separated: {','.join(SECTIONS)}")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    parser.add_argument("--contacts", type=int, default=10_000, help="burst size")
    parser.add_argument("--rate", type=float, default=50.0, help="steady rate, contacts/s")
    parser.add_argument("--steady-seconds", type=float, default=60.0,
                        help="scaled too, but at least 10 s")
    parser.add_argument("--green-backlog", type=int, default=10_000)
    parser.add_argument("--catchup-contacts", type=int, default=5_000)
    parser.add_argument("--hop-messages", type=int, default=20_000)
    parser.add_argument("--db-operations", type=int, default=3_000)
    parser.add_argument("--stall-seconds", type=float, default=180.0,
                        help="give up waiting when nothing has come out of the pipeline "
                             "for this long")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--profile", default=None, metavar="SERVICE",
                        help="run py-spy on this service process during the burst (pip install "
                             "py-spy): intake, decision, notify, research-<agency> or desk")
    parser.add_argument("--json", type=Path, default=None, help="default: bench/results/pipeline-<time>.json")
    args = parser.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.scale <= 0 or args.rate <= 0:
        parser.error("--scale and --rate must be positive")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.json or ROOT / "bench" / "results" / f"pipeline-{stamp}.json"
    opts = Options(only, args.scale, args.contacts, args.rate, args.steady_seconds,
                   args.green_backlog, args.catchup_contacts, args.hop_messages, args.db_operations,
                   args.stall_seconds, args.seed, path, args.profile)
    started, load = datetime.now(UTC), os.getloadavg()[0]
    say(f"bench.pipeline: sections {','.join(only)}, scale {opts.scale:g}; "
        f"{os.cpu_count()} CPUs, load average {load:.2f}")
    results = asyncio.run(measure(opts))
    report = {
        "run": {"started": started.isoformat(timespec="seconds"),
                "seconds": round(time.monotonic() - _began, 1),
                "argv": sys.argv[1:], "sections": list(only), "scale": opts.scale,
                "cpus": os.cpu_count(), "load_average_at_start": load,
                "python": platform.python_version(), "service_env": SERVICE_ENV},
        **results,
    }
    print()
    for line in table(results):
        print(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nJSON: {path}")
    if results.get("aborted"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
