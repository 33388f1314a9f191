"""Notify's orchestration: each handler works in the transaction it is
given (``plumbing.unit_of_work.Transaction``), so the unit tests drive it
with an in-memory one."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import topics
from contracts.casework import OutcomeAcknowledged
from contracts.contact import Rag
from contracts.events import (
    DeadLettered,
    DeadLetterReplayed,
    DeadLetterResolved,
    DecisionMade,
    Destination,
    Outcome,
)
from plumbing.unit_of_work import Transaction
from services.notify import domain, metrics, store


@dataclass
class Notifier:
    """What notify does with each message, and with an overdue outcome."""

    ack_window: timedelta | None = None
    senders: tuple[str, ...] = field(default_factory=topics.senders)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("mash.notify"))

    async def decision(self, tx: Transaction, decision: DecisionMade) -> None:
        if not await tx.claim(decision.id):
            return
        topic, outcome = domain.route(decision, self.ack_window)
        await store.record_delivery(tx, topic, outcome)
        tx.audit(actor="notify", action="outcome delivered",
                 case_id=decision.data.case_id, what={
                     "outcome_id": outcome.id, "decision_id": decision.id,
                     "topic": topic, "destination": outcome.data.destination.value,
                     "rag": decision.data.rag.value,
                     "outcome": decision.data.outcome.value,
                     "decided_by": decision.data.decided_by})
        tx.emit(topic, outcome)
        told = domain.feedback(decision, self.senders)
        for feedback_topic, feedback in told:
            await store.record_delivery(tx, feedback_topic, feedback)
            tx.emit(feedback_topic, feedback)

        def counted() -> None:
            metrics.OUTCOMES_ROUTED.labels(destination=outcome.data.destination.value,
                                           rag=decision.data.rag.value).inc()
            for _, feedback in told:
                metrics.REFERRER_FEEDBACK.labels(agency=feedback.data.sender).inc()
            self.log.info("case %s routed to %s", decision.data.case_id, topic)

        tx.after_commit(counted)

    async def acknowledged(self, tx: Transaction, ack: OutcomeAcknowledged) -> None:
        if not await tx.claim(ack.id):
            return
        found = await store.record_ack(tx, ack)
        if found is None:
            tx.after_commit(lambda: self.log.warning(
                "case %s: acknowledgement of an outcome not open here (%s)",
                ack.data.case_id, ack.data.outcome_id))
            return
        tx.audit(actor=ack.data.team, action="outcome acknowledged",
                 case_id=ack.data.case_id, at=ack.data.acknowledged_at,
                 what={"outcome_id": ack.data.outcome_id, "ack_id": ack.id})
        tx.after_commit(lambda: self.log.info("case %s acknowledged by %s", ack.data.case_id,
                                              ack.data.team))

    async def escalate(self, tx: Transaction, doc: dict[str, Any], now: datetime) -> bool:
        """An outcome past its acknowledgement time, escalated once."""
        if not await store.mark_escalated(tx, doc["_id"], now):
            return False
        tx.audit(actor="notify", action="outcome escalated",
                 case_id=doc["case_id"], at=now, what={
                     "outcome_id": doc["_id"], "destination": doc["destination"],
                     "ack_due": doc["ack_due"]})
        tx.emit(topics.OUTCOME_ESCALATIONS, domain.escalation(
            doc["_id"], doc["case_id"], doc["correlation_id"], Destination(doc["destination"]),
            Outcome(doc["outcome"]), Rag(doc["rag"]), doc["ack_due"], now))
        tx.after_commit(lambda: self.log.warning(
            "case %s: outcome not acknowledged in time; escalated", doc["case_id"]))
        return True

    async def dead_letter(self, tx: Transaction, event: dict[str, Any]) -> None:
        """Counted for mash_dlq_depth: a dead letter, or its replay or closing."""
        kind = event.get("type")
        if kind == DeadLettered.event_type:
            await store.record_dead_letter(tx, DeadLettered.model_validate(event))
        elif kind == DeadLetterReplayed.event_type:
            await store.record_replayed(tx, DeadLetterReplayed.model_validate(event))
        elif kind == DeadLetterResolved.event_type:
            await store.record_resolved(tx, DeadLetterResolved.model_validate(event))
