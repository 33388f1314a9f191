"""Notify's FastStream app: routing, feedback, acknowledgements, escalation."""

from datetime import timedelta
from typing import Any

from contracts import topics
from contracts.casework import OutcomeAcknowledged, OutcomeEscalated
from contracts.contact import Rag
from contracts.envelope import utc_now
from contracts.events import (
    DeadLettered,
    DeadLetterReplayed,
    DeadLetterResolved,
    DecisionMade,
    Destination,
    Outcome,
    OutcomeRouted,
    ReferrerFeedback,
)
from plumbing.service import Service
from services.notify import domain, metrics, store
from services.notify.settings import NotifySettings

settings = NotifySettings()
ack_window = timedelta(seconds=settings.ack_window_seconds) if settings.ack_window_seconds else None
clock = utc_now
service = Service(
    "notify",
    settings,
    settings.database,
    description="Routes each outcome to Social Care, Early Help or NFA, feeds the decision "
                "back to the referrer's agency, and escalates an outcome the receiving team "
                "does not acknowledge within its timescale.",
)
service.on_startup(lambda: store.ensure_indexes(service.db))
broker = service.broker
app = service.app
for _topic in topics.OUTCOME_TOPICS:
    broker.publisher(_topic, schema=OutcomeRouted, title=_topic,
                     description="What the receiving team needs to act: case, contacts, children "
                                 "(refs and initials), RAG, outcome, level of need, reasons, who "
                                 "decided, advice (NFA / single agency), the time to act by, "
                                 "every timescale due, and when to acknowledge by on "
                                 "mash.outcomes.acks. Delivered once per destination (the id "
                                 "is derived from the decision and the destination); a "
                                 "re-decided case sends a new outcome with decision_version + 1.")
for _sender in topics.senders():
    broker.publisher(topics.feedback(_sender), schema=ReferrerFeedback,
                     title=f"feedback to {_sender}",
                     description="What the MASH decided on this sender's own contacts, sent when "
                                 "the decision is made: within the statutory working day whenever "
                                 "the decision is. Nobody else's contacts are ever on it.")
broker.publisher(topics.OUTCOME_ESCALATIONS, schema=OutcomeEscalated, title="outcome escalated",
                 description="An outcome not acknowledged by its ack_by time; once per outcome.")


@broker.subscriber(topics.DECISIONS, **service.subscription(), title="decision made")
async def on_decision(decision: DecisionMade) -> None:
    async with service.uow.transaction() as tx:
        if not await tx.claim(decision.id):
            return
        topic, outcome = domain.route(decision, ack_window)
        await store.record_delivery(tx, topic, outcome)
        tx.audit(actor="notify", action="outcome delivered",
                 case_id=decision.data.case_id, what={
                     "outcome_id": outcome.id, "decision_id": decision.id,
                     "topic": topic, "destination": outcome.data.destination.value,
                     "rag": decision.data.rag.value,
                     "outcome": decision.data.outcome.value,
                     "decided_by": decision.data.decided_by})
        tx.emit(topic, outcome)
        told = domain.feedback(decision, topics.senders())
        for feedback_topic, feedback in told:
            await store.record_delivery(tx, feedback_topic, feedback)
            tx.emit(feedback_topic, feedback)
    metrics.OUTCOMES_ROUTED.labels(destination=outcome.data.destination.value,
                                   rag=decision.data.rag.value).inc()
    for _, feedback in told:
        metrics.REFERRER_FEEDBACK.labels(agency=feedback.data.sender).inc()
    service.log.info("case %s routed to %s", decision.data.case_id, topic)


@broker.subscriber(topics.OUTCOME_ACKS, **service.subscription("acks"),
                   title="outcome acknowledged")
async def on_ack(ack: OutcomeAcknowledged) -> None:
    async with service.uow.transaction() as tx:
        if not await tx.claim(ack.id):
            return
        found = await store.record_ack(tx, ack)
        if found is not None:
            tx.audit(actor=ack.data.team, action="outcome acknowledged",
                     case_id=ack.data.case_id, at=ack.data.acknowledged_at,
                     what={"outcome_id": ack.data.outcome_id, "ack_id": ack.id})
    if found is None:
        service.log.warning("case %s: acknowledgement of an outcome not open here (%s)",
                            ack.data.case_id, ack.data.outcome_id)
    else:
        service.log.info("case %s acknowledged by %s", ack.data.case_id, ack.data.team)


async def escalate() -> None:
    """Outcomes past their acknowledgement time, read from the database."""
    now = clock()
    for doc in await store.unacknowledged(service.db, now):
        async with service.uow.transaction() as tx:
            if not await store.mark_escalated(tx, doc["_id"], now):
                continue
            tx.audit(actor="notify", action="outcome escalated",
                     case_id=doc["case_id"], at=now, what={
                         "outcome_id": doc["_id"], "destination": doc["destination"],
                         "ack_due": doc["ack_due"]})
            tx.emit(topics.OUTCOME_ESCALATIONS, domain.escalation(
                doc["_id"], doc["case_id"], doc["correlation_id"], Destination(doc["destination"]),
                Outcome(doc["outcome"]), Rag(doc["rag"]), doc["ack_due"], now))
        service.log.warning("case %s: outcome not acknowledged in time; escalated", doc["case_id"])


service.every(settings.sweep_seconds, escalate)


async def unacknowledged_outcomes() -> list[str]:
    """Re-driven whatever their age: after a broker restart the team sees them
    again, and gives again an acknowledgement the broker may have forgotten."""
    return [d["_id"] async for d in service.db.deliveries.find(
        {"type": OutcomeRouted.event_type, "acked_at": None}, {"_id": 1})]


service.in_flight(unacknowledged_outcomes)


@broker.subscriber(topics.DLQ, **service.subscription("dlq"),
                   title="dead letters",
                   description="Counted, for the operators' mash_dlq_depth: dead letters "
                               "waiting, less those replayed (`mash dlq replay`) or closed as "
                               "never to succeed (`mash dlq resolve`).")
async def on_dead_letter(event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == DeadLettered.event_type:
        await store.record_dead_letter(service.db, DeadLettered.model_validate(event))
    elif kind == DeadLetterReplayed.event_type:
        await store.record_replayed(service.db, DeadLetterReplayed.model_validate(event))
    elif kind == DeadLetterResolved.event_type:
        await store.record_resolved(service.db, DeadLetterResolved.model_validate(event))


async def observe_dead_letters() -> None:
    metrics.DLQ_DEPTH.set(await store.dead_letters_waiting(service.db))


service.every(settings.metrics_seconds, observe_dead_letters)
