"""Notify's FastStream app."""

from contracts import topics
from contracts.agencies import agencies
from contracts.events import DecisionMade, OutcomeRouted, ReferrerFeedback
from plumbing.service import Service
from services.notify import domain, store
from services.notify.settings import NotifySettings

settings = NotifySettings()
service = Service(
    "notify",
    settings,
    settings.database,
    description="Routes each outcome to Social Care, Early Help or NFA and feeds the decision "
                "back to the referrer's agency.",
)
service.on_startup(lambda: store.ensure_indexes(service.db))
broker = service.broker
app = service.app
for _topic in topics.OUTCOME_TOPICS:
    broker.publisher(_topic, schema=OutcomeRouted, title=_topic,
                     description="What the receiving team needs to act: case, children (refs "
                                 "and initials), RAG, outcome, reasons and the time to act by.")
for _agency in agencies():
    broker.publisher(topics.feedback(_agency), schema=ReferrerFeedback,
                     title=f"feedback to {_agency}")


@broker.subscriber(topics.DECISIONS, **service.subscription(), title="decision made")
async def on_decision(decision: DecisionMade) -> None:
    async with service.uow.transaction() as tx:
        if await tx.already_processed(decision.id):
            return
        tx.mark_processed(decision.id)
        topic, outcome = domain.route(decision)
        await store.record_delivery(tx, topic, outcome)
        tx.emit(topic, outcome)
        told = domain.feedback(decision, agencies())
        if told is not None:
            await store.record_delivery(tx, *told)
            tx.emit(*told)
    service.log.info("case %s routed to %s", decision.data.case_id, topic)
