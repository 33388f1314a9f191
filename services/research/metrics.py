"""One agency's research metrics (see deploy/METRICS.md); every series is
labelled with the agency, so nine processes add up on one dashboard."""

from prometheus_client import Counter, Gauge, Histogram

from plumbing.metrics import SECONDS_BUCKETS

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
