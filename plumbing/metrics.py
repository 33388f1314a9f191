"""What every service exposes to Prometheus, besides its own domain metrics.

FastStream's ``KafkaPrometheusMiddleware`` counts and times every message
received and published; this module adds what only the platform knows (the
outbox, dead letters, consumer lag) and serves ``/metrics`` and ``/health``
from the service's own ASGI app. The names are listed, with every service's
domain metrics, in ``deploy/METRICS.md``; label values are codes, never
personal data.
"""

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.types import ASGIApp, Scope
from prometheus_client import (
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    make_asgi_app,
)

from contracts import topics

# Every counter and histogram series would otherwise carry a `_created` twin,
# which Prometheus stores as a series of its own and nothing here reads; with
# every label set made at start (``zero``), that doubled the series for nothing.
disable_created_metrics()  # type: ignore[no-untyped-call]

OUTBOX_BACKLOG = Gauge(
    "mash_outbox_backlog", "Events committed to the outbox and not yet published.")
OUTBOX_OLDEST_AGE = Gauge(
    "mash_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest event committed and not yet published (0 when none).")
DEAD_LETTERS = Counter(
    "mash_dead_letters", "Messages this service dead-lettered, by the topic they came from.",
    ["topic"])
OUTBOX_SET_ASIDE = Counter(
    "mash_outbox_set_aside",
    "Events the outbox relay could never publish, held in the service's quarantine and "
    "announced on mash.dlq, by topic and reason: too-large, refused (a topic the broker "
    "refuses), unknown-topic (no contract names it), unreadable.",
    ["topic", "reason"])
RETRIES = Counter(
    "mash_handler_retries",
    "Messages handled again after a transient failure, by topic and reason: 'conflict' (another "
    "transaction wrote the same document first) or 'outage' (database or broker away).",
    ["topic", "reason"])
TRANSACTIONS = Counter(
    "mash_db_transactions",
    "Database transactions this service ran, by outcome: committed or aborted (a write "
    "conflict, an outage, a batch set aside to be handled one message at a time).",
    ["outcome"])
DB_COMMANDS = Counter(
    "mash_db_commands",
    "Commands this service sent to its database, by command name (insert, find, update, "
    "commitTransaction, ...): what a message costs the database.", ["command"])
BATCH_RECORDS = Histogram(
    "mash_consumer_batch_records",
    "Messages per batch a consumer handled in one transaction, by subscriber (its consumer "
    "group).", ["subscriber"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500))
CONSUMER_LAG = Gauge(
    "mash_consumer_lag",
    "Messages behind the end of the topic, over the partitions this process reads.", ["topic"])

# Values of OUTBOX_SET_ASIDE's `reason` (plumbing.outbox.Unpublishable), and
# the `topic` it gives an event whose own topic no contract names.
SET_ASIDE_REASONS = ("too-large", "refused", "unknown-topic", "unreadable")
UNNAMED_TOPIC = "other"
RETRY_REASONS = ("conflict", "outage")

# Time-to-something histograms: the safeguarding windows are 4 h, 24 h and
# 72 h, so buckets sit either side of each. Below the minute too: the rules
# decide a clear case in seconds, and with 60 s as the first bucket
# histogram_quantile spread every such decision over 0-60 s (a demo's p90 read
# 54 s when its true p95 was 9 s).
DEADLINE_BUCKETS: Sequence[float] = (
    1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 4 * 3600,
    6 * 3600, 12 * 3600, 24 * 3600, 36 * 3600, 48 * 3600, 72 * 3600, 96 * 3600, 7 * 24 * 3600,
    float("inf"))
# Machine-speed steps (a research answer, a hop): milliseconds to minutes, and
# hours for an agency working off a backlog.
SECONDS_BUCKETS: Sequence[float] = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800,
    3600, 2 * 3600, 4 * 3600, float("inf"))


def zero(metric: Counter | Gauge | Histogram, label_sets: Iterable[Mapping[str, str]]) -> None:
    """Make each labelled series now, at zero.

    A series that first appears with its first increment is invisible to
    ``increase()`` and ``rate()``, which need a sample before the step: a
    dashboard after 30 contacts read 16.7 received, and an alert on a
    counter's increase never fired for the first event. Every label set a
    panel or rule reads is therefore made at start, with values taken from
    the contracts (deploy/METRICS.md, "Series that exist from the start")."""
    for labels in label_sets:
        metric.labels(**labels)


def set_aside_label_sets(named: Iterable[str]) -> Iterator[dict[str, str]]:
    """(topic, reason) pairs the outbox relay can count: a topic a contract
    names can be too large, refused or unreadable, never unknown; one no
    contract names is counted as UNNAMED_TOPIC and set aside before it is
    tried, so it is never refused."""
    for topic in named:
        for reason in SET_ASIDE_REASONS:
            if reason != "unknown-topic":
                yield {"topic": topic, "reason": reason}
    for reason in SET_ASIDE_REASONS:
        if reason != "refused":
            yield {"topic": UNNAMED_TOPIC, "reason": reason}


def expect_every_topic() -> None:
    """The topic-labelled counters at zero for every topic the contracts name
    (``contracts.topics.all_topics``): a process cannot tell at import which
    of them it will read or write, and a few hundred zero series cost less
    than an alert that misses the first set-aside event. Each service's
    metrics module calls it at import."""
    named = topics.all_topics()
    zero(DEAD_LETTERS, ({"topic": topic} for topic in named))
    zero(RETRIES, ({"topic": topic, "reason": reason}
                   for topic in named for reason in RETRY_REASONS))
    zero(OUTBOX_SET_ASIDE, set_aside_label_sets(named))


def set_lag(lag_by_topic: dict[str, int]) -> None:
    for topic, lag in lag_by_topic.items():
        CONSUMER_LAG.labels(topic=topic).set(lag)


def observe_outbox(backlog: int, oldest_created: float | None) -> None:
    OUTBOX_BACKLOG.set(backlog)
    OUTBOX_OLDEST_AGE.set(max(0.0, time.time() - oldest_created) if oldest_created else 0.0)


Check = Callable[[], Awaitable[bool]]
# A condition the service can run under but should not for long: None while
# all is well, otherwise why not (e.g. an outbox that has stopped moving).
Condition = Callable[[], Awaitable[str | None]]


def health_route(checks: dict[str, Check],
                 conditions: dict[str, Condition] | None = None) -> ASGIApp:
    """``GET /health``: ``status`` is ``ok``; ``degraded`` (200) when a
    condition says why the service is running but not doing its work, e.g.
    an outbox whose oldest unsent event has waited past
    MASH_OUTBOX_STALL_SECONDS (restarting it would not help: someone must
    look); ``down`` (503) naming the dependencies that do not answer. A load
    balancer or `mash up` reads the status code, a person the body."""

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:
        results = {name: await _safely(check) for name, check in checks.items()}
        body: dict[str, str] = {name: "ok" if ok else "down" for name, ok in results.items()}
        up = all(results.values())
        degraded = False
        for name, condition in (conditions or {}).items():
            if not up:  # it would read what is down
                body[name] = "not checked"
                continue
            why = await _why(condition)
            body[name] = why or "ok"
            degraded = degraded or why is not None
        status = "down" if not up else "degraded" if degraded else "ok"
        return AsgiResponse(json.dumps({"status": status, **body}).encode(),
                            503 if status == "down" else 200,
                            headers={"content-type": "application/json"})

    return health


async def _safely(check: Check) -> bool:
    try:
        return await check()
    except Exception:
        return False


async def _why(condition: Condition) -> str | None:
    try:
        return await condition()
    except Exception as error:
        return f"could not be checked ({type(error).__name__})"


def routes(checks: dict[str, Check],
           conditions: dict[str, Condition] | None = None) -> Iterable[tuple[str, Any]]:
    return (("/metrics", make_asgi_app(REGISTRY)), ("/health", health_route(checks, conditions)))
