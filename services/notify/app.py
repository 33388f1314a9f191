"""Notify's wiring: routing, feedback, acknowledgements, escalation.
``bootstrap(settings)`` builds it; nothing is made at import."""

from datetime import timedelta
from typing import Any

from faststream.asgi import AsgiFastStream

from contracts import topics
from contracts.casework import OutcomeAcknowledged, OutcomeEscalated
from contracts.envelope import utc_now
from contracts.events import DeadLettered, DecisionMade, OutcomeRouted, ReferrerFeedback
from plumbing.consumer import Received, Subscription
from plumbing.guard import Unusable
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
from services.notify import metrics, store
from services.notify.handlers import Notifier
from services.notify.settings import NotifySettings


def bootstrap(settings: NotifySettings) -> Service:
    """The composition root: notify's service, subscriptions and jobs."""
    service = Service(
        "notify",
        settings,
        settings.database,
        description="Routes each outcome to Social Care, Early Help or NFA, feeds the decision "
                    "back to the referrer's agency, and escalates an outcome the receiving team "
                    "does not acknowledge within its timescale.",
    )
    notifier = Notifier(
        ack_window=timedelta(seconds=settings.ack_window_seconds)
        if settings.ack_window_seconds else None, log=service.log)
    service.on_startup(lambda: store.ensure_indexes(service.db))
    _declare(service)

    reads: dict[str, Any] = {
        topics.DECISIONS: DecisionMade.model_validate,
        topics.OUTCOME_ACKS: OutcomeAcknowledged.model_validate,
        topics.DLQ: _as_dict,
    }

    def read(received: Received) -> Any:
        return reads[received.topic](received.decoded)

    async def handle(tx: Transaction, event: Any, _: Received) -> None:
        if isinstance(event, DecisionMade):
            await notifier.decision(tx, event)
        elif isinstance(event, OutcomeAcknowledged):
            await notifier.acknowledged(tx, event)
        else:
            await notifier.dead_letter(tx, event)

    # One consumer: every consumer polls the broker, and notify's work on
    # each is small. Dead letters are counted, for the operators'
    # mash_dlq_depth: waiting, less those replayed (`mash dlq replay`) or
    # closed as never to succeed (`mash dlq resolve`).
    service.consume(Subscription("notify", handle, read), list(reads), group=None,
                    title="decisions, acknowledgements and dead letters",
                    description="Decisions made, routed to their destination and fed back to "
                                "each referrer; acknowledgements of outcomes by the receiving "
                                "teams; dead letters, counted for mash_dlq_depth.",
                    schema=DecisionMade | OutcomeAcknowledged | DeadLettered)

    async def escalate() -> None:
        """Outcomes past their acknowledgement time, read from the database."""
        now = utc_now()
        for doc in await store.unacknowledged(service.db, now):
            async with service.uow.transaction() as tx:
                await notifier.escalate(tx, doc, now)

    async def unacknowledged_outcomes() -> list[str]:
        """Re-driven whatever their age: after a broker restart the team sees them
        again, and gives again an acknowledgement the broker may have forgotten."""
        return [d["_id"] async for d in service.db.deliveries.find(
            {"type": OutcomeRouted.event_type, "acked_at": None}, {"_id": 1})]

    async def observe_dead_letters() -> None:
        metrics.DLQ_DEPTH.set(await store.dead_letters_waiting(service.db))

    service.every(settings.sweep_seconds, escalate)
    service.in_flight(unacknowledged_outcomes)
    service.every(settings.metrics_seconds, observe_dead_letters)
    return service


def _as_dict(decoded: Any) -> dict[str, Any]:
    if not isinstance(decoded, dict):
        raise Unusable([("(message)", "is not a JSON object")])
    return decoded


def _declare(service: Service) -> None:
    """Declared for the AsyncAPI document: the outbox relay does the publishing."""
    broker = service.broker
    for topic in topics.OUTCOME_TOPICS:
        broker.publisher(topic, schema=OutcomeRouted, title=topic,
                         description="What the receiving team needs to act: case, contacts, "
                                     "children (refs and initials), RAG, outcome, level of need, "
                                     "reasons, who decided, advice (NFA / single agency), the "
                                     "time to act by, every timescale due, and when to "
                                     "acknowledge by on mash.outcomes.acks. Delivered once per "
                                     "destination (the id is derived from the decision and the "
                                     "destination); a re-decided case sends a new outcome with "
                                     "decision_version + 1.")
    for sender in topics.senders():
        broker.publisher(topics.feedback(sender), schema=ReferrerFeedback,
                         title=f"feedback to {sender}",
                         description="What the MASH decided on this sender's own contacts, sent "
                                     "when the decision is made: within the statutory working "
                                     "day whenever the decision is. Nobody else's contacts are "
                                     "ever on it.")
    broker.publisher(topics.OUTCOME_ESCALATIONS, schema=OutcomeEscalated,
                     title="outcome escalated",
                     description="An outcome not acknowledged by its ack_by time; once per "
                                 "outcome.")


def app() -> AsgiFastStream:
    """For `faststream docs gen --factory`: the app as configured by the environment."""
    return bootstrap(NotifySettings()).app
