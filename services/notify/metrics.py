"""Notify's metrics (see deploy/METRICS.md), counted after each commit.

Each labelled series exists at zero from import, its values taken from the
contracts, so ``increase()`` counts the first outcome to each destination and
the first feedback to each sender."""

from prometheus_client import Counter, Gauge

from contracts import topics
from contracts.contact import Rag
from contracts.events import Destination
from plumbing.metrics import expect_every_topic, zero

OUTCOMES_ROUTED = Counter(
    "mash_outcomes_routed", "Outcomes routed to a receiving team.", ["destination", "rag"])
# Labelled by the sender told (contracts.topics.senders(): the agencies and the
# signers of contracts/signers.toml); the label keeps its first name, `agency`.
REFERRER_FEEDBACK = Counter(
    "mash_referrer_feedback", "Feedback sent to those who sent the contacts, by sender "
    "(label `agency`).", ["agency"])
DLQ_DEPTH = Gauge(
    "mash_dlq_depth", "Dead letters on mash.dlq neither replayed nor resolved.")

expect_every_topic()
zero(OUTCOMES_ROUTED, ({"destination": destination.value, "rag": rag.value}
                       for destination in Destination for rag in Rag))
zero(REFERRER_FEEDBACK, ({"agency": sender} for sender in topics.senders()))
