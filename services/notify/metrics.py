"""Notify's metrics (see deploy/METRICS.md), counted after each commit."""

from prometheus_client import Counter, Gauge

OUTCOMES_ROUTED = Counter(
    "mash_outcomes_routed", "Outcomes routed to a receiving team.", ["destination", "rag"])
REFERRER_FEEDBACK = Counter(
    "mash_referrer_feedback", "Feedback sent to referring agencies.", ["agency"])
DLQ_DEPTH = Gauge("mash_dlq_depth", "Dead letters on mash.dlq not yet replayed.")
