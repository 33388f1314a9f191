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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.types import ASGIApp, Scope
from prometheus_client import REGISTRY, Counter, Gauge, make_asgi_app

OUTBOX_BACKLOG = Gauge(
    "mash_outbox_backlog", "Events committed to the outbox and not yet published.")
OUTBOX_OLDEST_AGE = Gauge(
    "mash_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest event committed and not yet published (0 when none).")
DEAD_LETTERS = Counter(
    "mash_dead_letters", "Messages this service dead-lettered, by the topic they came from.",
    ["topic"])
RETRIES = Counter(
    "mash_handler_retries",
    "Messages handled again after a transient failure, by topic and reason: 'conflict' (another "
    "transaction wrote the same document first) or 'outage' (database or broker away).",
    ["topic", "reason"])
CONSUMER_LAG = Gauge(
    "mash_consumer_lag",
    "Messages behind the end of the topic, over the partitions this process reads.", ["topic"])

# Time-to-something histograms: the safeguarding windows are 4 h, 24 h and
# 72 h, so buckets sit either side of each, down to a minute.
DEADLINE_BUCKETS: Sequence[float] = (
    60, 300, 900, 1800, 3600, 2 * 3600, 3 * 3600, 4 * 3600, 6 * 3600, 12 * 3600,
    24 * 3600, 36 * 3600, 48 * 3600, 72 * 3600, 96 * 3600, 7 * 24 * 3600, float("inf"))
# Machine-speed steps (a research answer, a hop): milliseconds to minutes.
SECONDS_BUCKETS: Sequence[float] = (
    0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, float("inf"))


def set_lag(lag_by_topic: dict[str, int]) -> None:
    for topic, lag in lag_by_topic.items():
        CONSUMER_LAG.labels(topic=topic).set(lag)


def observe_outbox(backlog: int, oldest_created: float | None) -> None:
    OUTBOX_BACKLOG.set(backlog)
    OUTBOX_OLDEST_AGE.set(max(0.0, time.time() - oldest_created) if oldest_created else 0.0)


Check = Callable[[], Awaitable[bool]]


def health_route(checks: dict[str, Check]) -> ASGIApp:
    """``GET /health``: 200 when every dependency answers, 503 naming those
    that do not (a load balancer or `mash up` reads the status; a person the body)."""

    @get(include_in_schema=False)
    async def health(scope: Scope) -> AsgiResponse:
        results = {name: await _safely(check) for name, check in checks.items()}
        body = {name: "ok" if ok else "down" for name, ok in results.items()}
        status = 200 if all(results.values()) else 503
        return AsgiResponse(json.dumps(body).encode(), status,
                            headers={"content-type": "application/json"})

    return health


async def _safely(check: Check) -> bool:
    try:
        return await check()
    except Exception:
        return False


def routes(checks: dict[str, Check]) -> Iterable[tuple[str, Any]]:
    return (("/metrics", make_asgi_app(REGISTRY)), ("/health", health_route(checks)))
