"""One agency's research metrics (see deploy/METRICS.md); every series is
labelled with the agency, so nine processes add up on one dashboard.

Each series exists at zero from import, for this process's agency only
(MASH_AGENCY, as the app reads it): Prometheus gives a research target's
series its own `agency` target label, so another agency's series here would
collide with the real ones."""

from typing import get_args

from prometheus_client import Counter, Gauge, Histogram

from contracts.contact import Rag
from contracts.events import FindingData
from plumbing.metrics import SECONDS_BUCKETS, expect_every_topic, zero
from services.research.settings import ResearchSettings

ENQUIRIES_RECEIVED = Counter(
    "mash_enquiries_received", "Enquiries taken into the agency's queue.", ["agency", "rag"])
FINDINGS_DISCLOSED = Counter(
    "mash_findings_disclosed", "Findings sent, by result and disclosure level.",
    ["agency", "result", "disclosure"])
RESPONSE_SECONDS = Histogram(
    "mash_research_response_seconds", "Enquiry sent to finding published.", ["agency"],
    buckets=SECONDS_BUCKETS)
QUEUE_DEPTH = Gauge(
    "mash_research_queue_depth", "Enquiries waiting in the agency's queue.", ["agency"])

# The labels' values, from the finding's contract.
RESULTS: tuple[str, ...] = get_args(FindingData.model_fields["result"].annotation)
DISCLOSURES: tuple[str, ...] = get_args(FindingData.model_fields["disclosure_level"].annotation)


def expect(agency: str) -> None:
    zero(ENQUIRIES_RECEIVED, ({"agency": agency, "rag": rag.value} for rag in Rag))
    zero(FINDINGS_DISCLOSED, ({"agency": agency, "result": result, "disclosure": disclosure}
                              for result in RESULTS for disclosure in DISCLOSURES))
    zero(RESPONSE_SECONDS, [{"agency": agency}])
    zero(QUEUE_DEPTH, [{"agency": agency}])


expect_every_topic()
expect(ResearchSettings().agency)
