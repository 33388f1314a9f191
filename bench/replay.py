"""How fast `mash rules replay` re-decides recorded cases: in memory, and the
whole command reading the decision service's database.

    python -m bench.replay [--cases 10000] [--rules 2026.12-1] [--seed 7]

Builds N case documents as the decision service stores them: demo contacts
about the synthetic borough's families, each agency's findings from its own
synthetic records, run through ``services.decision.domain`` under the
2026.11-1 rule list (most auto-authorised; some decided by a manager, a few
overridden; some with a further contact, a missing agency, a late finding;
a few still gathering and a few corrupted). Inserts them into a fresh
embedded SecantusDB, then times (a) rebuilding the facts and re-deciding in
memory and (b) `mash rules replay --rules <new>` end to end, in its own
process as an operator runs it. Target: 10,000 cases in under 10 s end to
end. Wall and CPU seconds are both given: on a shared machine the wall time
also measures whatever else runs.

Prints the figures; writes JSON to bench/results/replay-<time>.json.
"""

import argparse
import asyncio
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from pymongo import MongoClient

from contracts.agencies import agencies
from contracts.casework import Actor, DecideCommand, DecideData, Role
from contracts.contact import Rag
from contracts.events import CaseOpenedData, ContactAddedData, FindingData, FindingItem, Outcome
from judgement import Model, load
from judgement.replay import Recorded, Replay, facts_of, replay_one
from mash.demo import SOURCES, make_contact
from mash.replay import BATCH, documents
from mash.stack import Stack
from services.decision import domain
from services.decision.domain import AddedContact, CaseRecord, Policy, Step
from services.intake.domain import triage
from synthetic import Family, agency_records, population
from tests.embedded import stack_settings

ROOT = Path(__file__).resolve().parents[1]
OLD = "2026.11-1"
MANAGER = Actor(actor_id="mgr-bench", role=Role.MANAGER)
# After the synthetic borough's "today" (2026-11-01), so that no child is yet to be born.
START = datetime(2026, 11, 2, 8, tzinfo=UTC)
Records = dict[tuple[str, str, str], list[tuple[str, str, str, str]]]


def _index(families: list[Family]) -> dict[str, Records]:
    """Each agency's records by the person they are about."""
    out: dict[str, Records] = {}
    for agency in agencies():
        held: Records = {}
        for r in agency_records(agency, families):
            key = (r.given_name, r.family_name, r.date_of_birth.isoformat())
            held.setdefault(key, []).append((r.record_type, r.summary, r.occurred_on.isoformat(),
                                             r.risk))
        out[agency] = held
    return out


def _finding(case_id: str, agency: str, family: Family, held: Records,
             answered: datetime) -> FindingData:
    items = []
    people = [(f"child-{i}", p) for i, p in enumerate(family.children)] + \
        [(f"adult-{i}", p) for i, p in enumerate(family.adults)]
    for ref, p in people:
        for category, summary, on, risk in held.get(
                (p.given_name, p.family_name, p.date_of_birth.isoformat()), []):
            items.append(FindingItem(person_ref=ref, category=category, summary=summary,
                                     occurred_on=datetime.fromisoformat(on).date(),
                                     risk=risk))
    return FindingData(enquiry_id=f"enq-{case_id}-{agency}", case_id=case_id, agency=agency,
                       result="trace" if items else "no-trace", items=items[:60],
                       disclosure_level="summary", lawful_basis="Children Act 1989 s47/s17",
                       answered_at=answered)


def _decide(step: Step, now: datetime, policy: Policy, rng: random.Random) -> Step:
    """A manager's word on a proposal: mostly as proposed, sometimes overridden."""
    case = step.case
    if case.proposal is None or case.state != "proposed":
        return step
    if rng.random() < 0.3:
        rag = rng.choice([r for r in Rag if r is not case.proposal.rag])
        outcome = {Rag.RED: Outcome.STRATEGY_DISCUSSION, Rag.AMBER: Outcome.ASSESSMENT,
                   Rag.GREEN: Outcome.EARLY_HELP}[rag]
        data = DecideData(case_id=case.case_id, actor=MANAGER, action="override", rag=rag,
                          outcome=outcome, rationale="Known to the team: history the "
                          "agencies' records do not show.")
    else:
        data = DecideData(case_id=case.case_id, actor=MANAGER, action="authorise")
    cmd = DecideCommand.new(data, source="/mash/cli", subject=case.case_id,
                            correlation_id=case.case_id)
    return domain.command(case, cmd, now, policy)


def case_document(n: int, family: Family, rng: random.Random, index: dict[str, Records],
                  old: Model) -> dict[str, Any]:
    """One case from contact to decision, as the decision service stores it."""
    auto = Policy(auto_authorise=True, ruleset=old)
    manual = Policy(auto_authorise=False, ruleset=old)
    received = START + timedelta(minutes=rng.randrange(60 * 24 * 60))
    source = rng.choices(SOURCES, [s[4] for s in SOURCES])[0]
    contact = make_contact(family, source, rng, "bench", n, received)
    case_id = f"CASE-{n:08X}"  # as intake names them
    opened_at = received + timedelta(minutes=1)
    expected = list(agencies())
    opened = CaseOpenedData(case_id=case_id, contact=contact, expected_agencies=expected,
                            triage_rag=triage(contact, old), opened_at=opened_at,
                            research_deadline=opened_at + timedelta(hours=24))
    case = CaseRecord.model_validate({"_id": case_id, "opened": opened,
                                      "correlation_id": contact.contact_id})
    policy = manual if rng.random() < 0.15 else auto
    step = domain.advance(case, opened_at, policy)
    if rng.random() < 0.01:  # opened this morning: still gathering
        return step.case.model_dump(mode="json", by_alias=True)
    if rng.random() < 0.03:  # the same family again while it is gathered
        again = make_contact(family, rng.choices(SOURCES, [s[4] for s in SOURCES])[0], rng,
                             "bench-again", n, opened_at + timedelta(hours=1))
        added_at = opened_at + timedelta(hours=1, minutes=1)
        rec = step.case.model_copy(deep=True)
        rec.added.append(AddedContact(contact=again, reason="re-contact", added_at=added_at))
        step = domain.contact_added(rec, ContactAddedData(
            case_id=case_id, contact=again, reason="re-contact", added_at=added_at),
            added_at, policy, None)
    answering = [a for a in expected if rng.random() > 0.04]
    late = [a for a in expected if a not in answering and rng.random() < 0.5]
    times = sorted(opened_at + timedelta(minutes=rng.randint(5, 20 * 60)) for _ in answering)
    for agency, at in zip(answering, times, strict=True):
        rec = step.case.model_copy(deep=True)
        rec.findings[agency] = _finding(case_id, agency, family, index[agency], at)
        step = domain.finding(rec, agency, at, policy, None)
    deadline = opened.research_deadline
    if step.case.state == "gathering":
        step = domain.sla(step.case, deadline, policy)
    step = _decide(step, deadline + timedelta(minutes=30), policy, rng)
    for i, agency in enumerate(late):
        at = deadline + timedelta(hours=2 + i)
        rec = step.case.model_copy(deep=True)
        rec.findings[agency] = _finding(case_id, agency, family, index[agency], at)
        step = domain.finding(rec, agency, at, policy, None)
        step = _decide(step, at + timedelta(minutes=30), policy, rng)
    return step.case.model_dump(mode="json", by_alias=True)


def _build_range(seed: int, start: int, stop: int) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}|{start}")
    families = population()
    index = _index(families)
    old = load(OLD)
    return [case_document(n, rng.choice(families), rng, index, old) for n in range(start, stop)]


def build(count: int, seed: int) -> list[dict[str, Any]]:
    """N documents, built in parallel (each is several domain steps: ~6 ms)."""
    step = 500
    ranges = [(seed, i, min(i + step, count)) for i in range(0, count, step)]
    with ProcessPoolExecutor() as pool:
        docs = [d for chunk in pool.map(_build_range, *zip(*ranges, strict=True)) for d in chunk]
    rng = random.Random(seed)
    for doc in rng.sample(docs, max(1, count // 1000)):  # as an older release might have left
        doc["opened"]["contact"]["concerns"] = ["99Z"]
    return docs


def in_memory(model: Model, docs: list[dict[str, Any]]) -> tuple[Replay, float, float]:
    """Rebuilding the facts, then re-deciding, in batches as the command
    reads them: seconds for each."""
    result, rebuilt, judged = Replay(version=model.version), 0.0, 0.0
    for i in range(0, len(docs), BATCH):
        began = time.perf_counter()
        recorded = list(_readable(docs[i:i + BATCH]))
        middle = time.perf_counter()
        for case in recorded:
            replay_one(model, case, result)
        rebuilt, judged = rebuilt + middle - began, judged + time.perf_counter() - middle
    return result, rebuilt, judged


def _readable(docs: list[dict[str, Any]]) -> Iterator[Recorded]:
    for doc in docs:
        try:
            case = facts_of(doc)
        except ValueError:
            continue
        if case is not None:
            yield case


@dataclass
class Timed:
    """Wall seconds, and the CPU seconds this process and the database spent:
    on a shared machine the wall time says how busy it was, the CPU time what
    the replay costs."""

    wall: float = 0.0
    cpu: float = 0.0
    database_cpu: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"wall_s": round(self.wall, 3), "cpu_s": round(self.cpu, 3),
                "database_cpu_s": round(self.database_cpu, 3)}


def _timed(database: psutil.Process, work: Callable[[], Any]) -> tuple[Timed, Any]:
    before = database.cpu_times()
    began, cpu = time.perf_counter(), _cpu()
    out = work()
    after = database.cpu_times()
    return Timed(time.perf_counter() - began, _cpu() - cpu,
                 after.user + after.system - before.user - before.system), out


def _cpu() -> float:
    """This process's CPU seconds and its finished children's (the command's)."""
    mine, children = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


async def end_to_end(docs: list[dict[str, Any]], rules: str) -> tuple[Timed, Timed, str]:
    """The same reads with nothing judged (the database's share, and a warm
    cache as a running database has), then `mash rules replay` as the
    operator runs it: its own process, on a fresh database holding the
    documents."""
    with tempfile.TemporaryDirectory() as home:
        stack = Stack(stack_settings(Path(home)), quiet_services=True, echo=lambda _: None)
        await stack.start_servers()
        try:
            [child] = [c for c in stack.children if c.name == "database"]
            assert child.process is not None
            database = psutil.Process(child.process.pid)
            uri = stack.env_for("decision")["MASH_MONGO_URI"]  # written as the service writes
            client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
            with client:
                cases = client["mash_decision"].cases
                for i in range(0, len(docs), 1000):
                    cases.insert_many(docs[i:i + 1000], ordered=False)
            operator = stack.settings.operator_mongo_uri
            reading, _ = await asyncio.to_thread(
                _timed, database, lambda: sum(len(b) for b in documents(operator, None)))
            env = {**os.environ, "MASH_CASE_MONGO_URI": operator}
            whole, done = await asyncio.to_thread(_timed, database, lambda: subprocess.run(
                [sys.executable, "-m", "mash.cli", "rules", "replay", "--rules", rules],
                env=env, capture_output=True, text=True, check=False))
        finally:
            await stack.stop()
    if done.returncode != 0:
        raise SystemExit(f"mash rules replay failed ({done.returncode}): {done.stderr[-2000:]}")
    return whole, reading, str(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rules", default="2026.12-1")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    began = time.perf_counter()
    docs = build(args.cases, args.seed)
    print(f"built {len(docs)} case documents in {time.perf_counter() - began:.1f} s")
    model = load(args.rules)
    result, rebuilt, judged = in_memory(model, docs)
    memory = rebuilt + judged
    # The facts are rebuilt right if the recorded rules re-decide every case as recorded.
    control, _, _ = in_memory(load(OLD), docs)
    whole, reading, output = asyncio.run(end_to_end(docs, args.rules))
    seconds = whole.wall
    header = output.splitlines()[1] if len(output.splitlines()) > 1 else ""
    d = result.directions
    figures: dict[str, Any] = {
        "cases": len(docs), "rules": args.rules, "load_average_1m": round(os.getloadavg()[0], 2),
        "replayed": result.replayed,
        "recorded_versions": dict(result.recorded_versions),
        "memory_rebuild_s": round(rebuilt, 3), "memory_judge_s": round(judged, 3),
        "memory_s": round(memory, 3), "memory_cases_per_s": round(len(docs) / memory),
        "end_to_end_s": round(seconds, 3),
        # The command's own figure: reading and replaying, without starting Python.
        "command_reported_s": float(m.group(1)) if (m := re.search(r"; ([0-9.]+) s$", header))
        else None,
        "end_to_end_cpu": whole.as_dict(), "database_read_only": reading.as_dict(),
        "end_to_end_cases_per_s": round(len(docs) / seconds),
        "target_s_per_10000": 10.0,
        "end_to_end_s_per_10000": round(seconds * 10_000 / len(docs), 3),
        "rag_up": d["up"], "rag_down": d["down"], "rag_same": d["same"],
        "outcome_changed": result.outcome_changed, "below_floor": len(result.below_floor),
        "held_by_floor": len(result.held_by_floor), "below_person": len(result.below_person),
        # The projection and batches lose nothing: the command counts what memory did.
        "command_agrees_with_memory": f"RAG up {d['up']}, RAG down {d['down']}, RAG same "
                                      f"{d['same']}; outcome changed {result.outcome_changed}"
                                      in output,
        "recorded_rules_reproduce": f"{control.replayed - len(control.changes)}/{control.replayed}",
        "cli_header": output.splitlines()[:2],
    }
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"replay-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
