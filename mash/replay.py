"""`mash rules replay`: a threshold change replayed on past cases before it
goes live.

Reads the decision service's case documents over the wire, read-only, as
`mash case` does (``mash_decision.cases``, the operator's user), rebuilds
the facts each case was last judged on, judges them again with the new rule
set (``judgement.replay``) and prints what would change. It emits nothing.
"""

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from judgement import Model, named
from judgement.replay import FIELDS, Replay, replay_documents
from mash.case import DATABASE, CaseSettings

# Documents per round trip: large enough that 10,000 cases are a handful of
# batches, small enough that one batch of long analyses stays a few MB.
BATCH = 1000
ORDER = {"down": 0, "up": 1, "same": 2}


def query(since: datetime | None) -> dict[str, Any]:
    if since is None:
        return {}
    start = since if since.tzinfo else since.replace(tzinfo=UTC)
    # The service stores its times as ISO text; a datetime is matched too, should one be.
    return {"$or": [{"opened.opened_at": {"$gte": start.date().isoformat()}},
                    {"opened.opened_at": {"$gte": start}}]}


def _fetch(uri: str, since: datetime | None, batch: int, out: "queue.Queue[Fetched]",
           stop: threading.Event) -> None:
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="mash-rules-replay")
        with client:
            cursor = client[DATABASE].cases.find(query(since), dict.fromkeys(FIELDS, 1),
                                                 batch_size=batch)
            chunk: list[dict[str, Any]] = []
            for doc in cursor:
                if stop.is_set():
                    return
                chunk.append(doc)
                if len(chunk) >= batch:
                    out.put(chunk)
                    chunk = []
            if chunk:
                out.put(chunk)
        out.put(None)
    except Exception as error:  # raised again where the batches are read
        out.put(error)


Fetched = list[dict[str, Any]] | Exception | None


def documents(uri: str, since: datetime | None, batch: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """The case documents, in batches, with only the fields a replay reads.

    A thread fetches the next batch while this one is judged: the database
    scans and encodes in its own process meanwhile, which is about half of
    a replay's time (SecantusDB: ~0.45 ms a document)."""
    batches: queue.Queue[Fetched] = queue.Queue(maxsize=2)
    stop = threading.Event()
    thread = threading.Thread(target=_fetch, args=(uri, since, batch, batches, stop),
                              name="replay-fetch", daemon=True)
    thread.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let a fetch blocked on a full queue finish
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)


def read_and_replay(model: Model, uri: str, since: datetime | None,
                    batch: int = BATCH) -> tuple[Replay, int]:
    """The replay of every case in the database, and how many documents were read."""
    result, read = Replay(version=model.version), 0
    for chunk in documents(uri, since, batch):
        read += len(chunk)
        replay_documents(model, chunk, into=result)
    return result, read


def _limited(lines: Sequence[str], show: int | None) -> list[str]:
    if show is None or len(lines) <= show:
        return list(lines)
    return [*lines[:show], f"  ... and {len(lines) - show} more"]


def render(result: Replay, read: int, seconds: float, show: int | None = None) -> list[str]:
    recorded = ", ".join(f"{v} ({n})" for v, n in sorted(result.recorded_versions.items())) \
        or "none"
    d = result.directions
    lines = [f"replay of rule set {result.version} on cases recorded under {recorded}",
             f"cases read {read}: replayed {result.replayed}, not yet proposed "
             f"{result.not_proposed}, unreadable {len(result.unreadable)}; {seconds:.2f} s"]
    changes = sorted(result.changes, key=lambda c: (ORDER[c.direction], c.case_id))
    lines.append(f"changed ({len(changes)}): case, recorded RAG and outcome, replayed, "
                 "direction of the RAG, the replayed rule ids")
    lines += _limited([f"  {c.case_id}  {c.old_rag.value} {c.old_outcome.value} -> "
                       f"{c.new_rag.value} {c.new_outcome.value}  {c.direction}  "
                       + ",".join(c.rule_ids) for c in changes], show)
    lines.append(f"RAG up {d['up']}, RAG down {d['down']}, RAG same {d['same']}; "
                 f"outcome changed {result.outcome_changed}")
    lines.append(f"below a floor ({len(result.below_floor)}): the replayed RAG under the "
                 "referrer's or intake's triage")
    lines += _limited([f"  {b.case_id}  {b.rag.value} < {b.floor} {b.floor_rag.value}"
                       for b in result.below_floor], show)
    lines.append(f"held up by a floor ({len(result.held_by_floor)}): the model's own "
                 "indicators under it")
    lines += _limited([f"  {b.case_id}  indicators {b.rag.value} < {b.floor} {b.floor_rag.value}"
                       for b in result.held_by_floor], show)
    lines.append(f"below a person's decision ({len(result.below_person)})")
    lines += _limited([f"  {p.case_id}  {p.new_rag.value} {p.new_outcome.value} < "
                       f"{p.decided_rag.value} {p.decided_outcome.value} by {p.decided_by}"
                       for p in result.below_person], show)
    if result.unreadable:
        lines.append(f"unreadable ({len(result.unreadable)})")
        lines += _limited([f"  {u.case_id}  {u.problem}" for u in result.unreadable], show)
    return lines


def replay(
    rules: Annotated[Path, typer.Option(
        help="The rule set to replay: a TOML file, or a version in judgement/rules "
             "(e.g. 2026.11-1).")],
    since: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Only cases opened on or after this day (YYYY-MM-DD).")
    ] = None,
    show: Annotated[int | None, typer.Option(
        min=0, help="Print at most this many cases in each list (all by default).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole replay as JSON.")
                       ] = False,
) -> None:
    """Re-decide every recorded case with another rule set, from the facts the
    decision stored with it; print what would change. Emits nothing."""
    try:
        model = named(rules)
    except (OSError, ValueError) as error:
        typer.echo(f"mash rules replay: {error}", err=True)
        raise typer.Exit(2) from error
    began = time.perf_counter()
    try:
        result, read = read_and_replay(model, CaseSettings().mongo(), since)
    except PyMongoError as error:
        typer.echo(f"mash rules replay: cannot read the case database: {type(error).__name__}",
                   err=True)
        raise typer.Exit(2) from error
    seconds = time.perf_counter() - began
    if as_json:
        typer.echo(json.dumps({**result.as_dict(), "read": read, "seconds": round(seconds, 3)},
                              indent=2))
        return
    typer.echo("\n".join(render(result, read, seconds, show)))
