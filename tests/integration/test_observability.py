"""What operations see, on the real embedded stack: one trace per contact
across every service (exported over OTLP to a receiver this test runs), and
a real Prometheus (Debian's) scraping every service with the project's rules
and alerts, queried over its HTTP API.

The clock is controlled by settings: the RED decision window is 25 seconds
instead of 4 hours, and a configured agency with no research service
(youth-offending) holds a case until its research deadline: 3 seconds for
AMBER (decided well inside its window), 10 minutes for RED (held past it).
"""

import asyncio
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from contracts import topics
from contracts.contact import Rag
from contracts.events import ContactSubmitted
from mash.stack import Stack
from tests.embedded import Wire, about, free_port
from tests.factories import contact_about_a_new_family
from tests.stacks import own_stack, wire_to

pytestmark = pytest.mark.integration

SERVICES = ["intake", "decision", "notify", "research-police", "research-health"]


class Spans:
    """An OTLP/HTTP trace receiver: (service, trace id, span name) of every span."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def by_trace(self) -> dict[str, set[str]]:
        with self.lock:
            out: dict[str, set[str]] = defaultdict(set)
            for service, trace_id, _ in self.seen:
                out[trace_id].add(service)
            return out


@pytest.fixture(scope="module")
def spans() -> Iterator[tuple[Spans, int]]:
    received = Spans()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = ExportTraceServiceRequest.FromString(body)
            with received.lock:
                for resource_spans in request.resource_spans:
                    attributes = {a.key: a.value.string_value
                                  for a in resource_spans.resource.attributes}
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            received.seen.append((attributes.get("service.name", "?"),
                                                  span.trace_id.hex(), span.name))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
async def observed(tmp_path_factory: pytest.TempPathFactory,
                   spans: tuple[Spans, int]) -> AsyncIterator[tuple[Stack, str]]:
    env = {
        "MASH_AGENCIES": "police,health,youth-offending",
        "MASH_RESEARCH_WINDOW_RED_SECONDS": "600",
        "MASH_RESEARCH_WINDOW_AMBER_SECONDS": "3",
        "MASH_RESEARCH_WINDOW_GREEN_SECONDS": "3",
        "MASH_TIMESCALE_SECONDS": json.dumps({"decision-rag": 25}),
        "MASH_SWEEP_SECONDS": "0.5",
        "MASH_METRICS_SECONDS": "1",
        "MASH_PROMETHEUS_PORT": str(free_port()),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{spans[1]}",
        # Export every 200 ms, not every 5 s: the test waits for the spans.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    async with own_stack(tmp_path_factory.mktemp("observed"), SERVICES, env) as running:
        url = await running.start_prometheus()
        yield running, url


@pytest.fixture(scope="module")
async def observed_wire(observed: tuple[Stack, str]) -> AsyncIterator[Wire]:
    async with wire_to(observed[0]) as client:
        yield client


def at_rag(cid: str, rag: Rag) -> ContactSubmitted:
    event = contact_about_a_new_family(cid)
    return event.model_copy(update={"data": event.data.model_copy(update={"referrer_rag": rag})})


async def prometheus(url: str, path: str, **params: str) -> Any:
    def get() -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{url}{path}{query}", timeout=5) as response:
            return json.loads(response.read())["data"]
    return await asyncio.to_thread(get)


async def query(url: str, promql: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = (await prometheus(url, "/api/v1/query", query=promql))["result"]
    return result


async def test_one_trace_spans_every_service_for_one_contact(
        observed_wire: Wire, spans: tuple[Spans, int]) -> None:
    received, _ = spans
    cid = f"trace-{uuid.uuid4().hex[:8]}"
    await observed_wire.send(topics.CONTACTS_SUBMITTED, at_rag(cid, Rag.AMBER), key=cid)
    hits = await observed_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=60)
    assert hits, "no outcome"
    everyone = {f"mash-{name}" for name in SERVICES}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        whole = [t for t, services in received.by_trace().items() if services >= everyone]
        if whole:
            break
        await asyncio.sleep(0.5)
    traces = received.by_trace()
    assert whole, f"no single trace spans {sorted(everyone)}: " + str(
        {t[:8]: sorted(s) for t, s in traces.items() if len(s) > 1})
    names = {name for service, trace_id, name in received.seen if trace_id == whole[0]}
    print(f"\ntrace {whole[0]}: {len(names)} span names across {sorted(traces[whole[0]])}")
    # Across the outbox relay: intake's consume span and the agencies' are in it.
    assert f"{topics.CONTACTS_SUBMITTED} process" in names
    assert any(n.startswith("mash.enquiries.") and n.endswith("process") for n in names)


async def test_prometheus_records_timeliness_and_alerts_a_red_case_held_past_its_limit(
        observed: tuple[Stack, str], observed_wire: Wire) -> None:
    _, url = observed
    deadline = time.monotonic() + 60
    up: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(up) < len(SERVICES):
        await asyncio.sleep(1)  # Prometheus reads targets.json a few seconds after it starts
        targets = await prometheus(url, "/api/v1/targets")
        up = [t for t in targets["activeTargets"] if t["health"] == "up"]
    assert sorted(t["labels"]["service"] + t["labels"].get("agency", "") for t in up) == [
        "decision", "intake", "notify", "researchhealth", "researchpolice"], targets

    amber = [f"timely-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for cid in amber:
        await observed_wire.send(topics.CONTACTS_SUBMITTED, at_rag(cid, Rag.AMBER), key=cid)
    for cid in amber:
        assert await observed_wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=60)

    deadline = time.monotonic() + 60
    ratio: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not ratio:
        ratio = await query(url, "mash:decided_within_one_working_day:ratio")
        await asyncio.sleep(1)
    assert ratio, "the timeliness recording rule returned nothing"
    assert float(ratio[0]["value"][1]) == 1.0
    decided = await query(url, "sum(mash_decisions_total)")
    assert float(decided[0]["value"][1]) >= len(amber)

    red = f"held-{uuid.uuid4().hex[:8]}"
    await observed_wire.send(topics.CONTACTS_SUBMITTED, at_rag(red, Rag.RED), key=red)
    seen: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and "MashTimescaleBreached" not in seen:
        for alert in (await prometheus(url, "/api/v1/alerts"))["alerts"]:
            labels = alert["labels"]
            if alert["state"] == "firing" and labels.get("rag") == "RED":
                seen.setdefault(labels["alertname"], labels)
        await asyncio.sleep(0.5)
    print(f"\nprometheus: ratio {ratio[0]['value'][1]}, decisions {decided[0]['value'][1]}, "
          f"RED alerts fired: {sorted(seen)}")
    assert "MashRedCaseNearLimit" in seen, "no warning while the RED case neared its limit"
    assert seen.get("MashTimescaleBreached", {}).get("timescale") == "decision-rag", seen
    left = await query(url, 'mash_timescale_seconds_left_min{timescale="decision-rag",rag="RED"}')
    assert float(left[0]["value"][1]) < 0
