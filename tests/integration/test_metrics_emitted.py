"""Every metric deploy/METRICS.md lists is really emitted by the running
services: after one contact has gone all the way through, each service's
/metrics is scraped and every documented name must have a series in one of
them. Metrics METRICS.md says may have none ("absent when none open",
"absent until the first exception") must still be declared (their HELP line).

The counters a panel or rule reads with increase() are made at 0 when each
service starts (deploy/METRICS.md, "Series that exist from the start";
tests/unit/test_metrics.py checks the zeros): a few are checked on the live
services too."""

import asyncio
import re
import time
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import topics
from mash.stack import Stack
from tests.embedded import Wire, about
from tests.factories import contact_about_a_new_family
from tests.unit.deploy.metrics_doc import documented_metrics, may_be_absent, metrics_doc

pytestmark = pytest.mark.integration


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


class Scraped:
    """Each service's /metrics: sample names and values, declared names."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        self.samples: dict[str, set[str]] = {}
        self.values: dict[str, dict[tuple[str, frozenset[tuple[str, str]]], float]] = {}
        for service, text in texts.items():
            families = list(text_string_to_metric_families(text))
            self.samples[service] = {s.name for f in families for s in f.samples}
            self.values[service] = {(s.name, frozenset(s.labels.items())): s.value
                                    for f in families for s in f.samples}

    def emitting(self, name: str) -> list[str]:
        return [service for service, names in self.samples.items() if name in names]

    def declaring(self, name: str) -> list[str]:
        line = re.compile(rf"^# HELP {re.escape(name)} ", re.M)
        return [service for service, text in self.texts.items() if line.search(text)]


async def scrape_all(stack: Stack) -> Scraped:
    names = sorted(stack.metrics_ports)
    texts = await asyncio.gather(*(asyncio.to_thread(scrape, stack.metrics_ports[n])
                                   for n in names))
    return Scraped(dict(zip(names, texts, strict=True)))


def plumbing_metrics() -> set[str]:
    """The metrics METRICS.md says every service exposes."""
    section = metrics_doc().split("## Every service (plumbing)", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\|\s*`(mash_[a-z0-9_]+)`", section, re.M))


async def test_every_documented_metric_is_emitted(stack: Stack, wire: Wire) -> None:
    cid = f"emitted-{uuid.uuid4().hex[:8]}"
    await wire.send(topics.CONTACTS_SUBMITTED, contact_about_a_new_family(cid), key=cid)
    assert await wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=90), "no outcome"

    documented = documented_metrics()
    exempt = may_be_absent()
    assert exempt <= {re.sub(r"_(bucket|sum|count)$", "", n) for n in documented}
    # Gauges are read every few seconds (MASH_METRICS_SECONDS): wait for them.
    deadline = time.monotonic() + 60
    while True:
        scraped = await scrape_all(stack)
        missing = sorted(n for n in documented if n not in exempt and not scraped.emitting(n))
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    print(f"\n{len(scraped.texts)} services scraped: {sorted(scraped.texts)}; "
          f"{len(documented)} documented names, {len(exempt)} may be absent: {sorted(exempt)}")
    assert not missing, f"documented in deploy/METRICS.md but emitted by no service: {missing}"
    undeclared = sorted(n for n in exempt if not scraped.declaring(n))
    assert not undeclared, f"not even declared by any service: {undeclared}"

    # The platform's metrics come from every process.
    for name in sorted(plumbing_metrics()):
        silent = sorted(s for s in scraped.texts if name not in scraped.samples[s])
        assert not silent, f"{name} not emitted by {silent}"


async def test_counted_series_exist_on_the_live_services_before_they_count(
        stack: Stack) -> None:
    """Series no flow of this file touches: made at 0 when the service started
    (other tests of the session may have counted some since)."""
    scraped = await scrape_all(stack)
    expected = {
        "intake": [("mash_contacts_rejected_total", {"reason": "unknown-format"}),
                   ("mash_contacts_received_total", {"source_agency": "childrens-social-care",
                                                     "channel": "phone", "source_code": "10"})],
        "decision": [("mash_timescales_closed_total", {"timescale": "la-enquiry-answer",
                                                       "result": "breached"}),
                     ("mash_time_to_decision_seconds_bucket", {"rag": "RED", "le": "1.0"})],
        "notify": [("mash_outcomes_routed_total", {"destination": "nfa", "rag": "RED"}),
                   ("mash_outbox_set_aside_total", {"topic": "other",
                                                    "reason": "unknown-topic"})],
    }
    for service, wanted in expected.items():
        for name, labels in wanted:
            assert (name, frozenset(labels.items())) in scraped.values[service], (
                f"{service}: no {name}{labels}")
    # Each research process labels only its own agency.
    for service, names in scraped.values.items():
        if service.startswith("research-"):
            agency = service.removeprefix("research-")
            seen = {dict(labels).get("agency") for name, labels in names
                    if name.startswith(("mash_enquiries_received", "mash_findings_disclosed"))}
            assert seen == {agency}, (service, seen)
