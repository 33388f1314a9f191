"""Decision's FastStream app: gathering findings, sweeping deadlines."""

from typing import Any

from contracts import topics
from contracts.envelope import utc_now
from contracts.events import CaseOpened, DecisionMade, FindingReported
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
from services.decision import domain, store
from services.decision.settings import DecisionSettings

settings = DecisionSettings()
service = Service(
    "decision",
    settings,
    settings.database,
    description="Merges every agency's findings, waiting for all of them or the research "
                "deadline, and decides RAG and outcome with reasons.",
)
service.on_startup(lambda: store.ensure_indexes(service.db))
broker = service.broker
app = service.app
broker.publisher(topics.DECISIONS, schema=DecisionMade, title="decision made")


async def _decide_if_ready(tx: Transaction, doc: dict[str, Any]) -> DecisionMade | None:
    opened = store.opened_of(doc)
    if opened is None or doc.get("state") != "gathering":
        return None
    findings = store.findings_of(doc)
    now = utc_now()
    if not domain.ready(opened.expected_agencies, set(findings), opened.research_deadline, now):
        return None
    decision = domain.decision_event(opened, findings, doc["correlation_id"], now)
    if not await store.record_decision(tx, decision):
        return None
    tx.emit(topics.DECISIONS, decision)
    return decision


def _log(decision: DecisionMade | None) -> None:
    if decision is not None:
        d = decision.data
        service.log.info("case %s decided %s %s (%d/%d agencies)", d.case_id, d.rag.value,
                         d.outcome.value, len(d.agencies_answered),
                         len(d.agencies_answered) + len(d.agencies_missing))


@broker.subscriber(topics.CASES_OPENED, **service.subscription(), title="case opened")
async def on_case_opened(event: CaseOpened) -> None:
    async with service.uow.transaction() as tx:
        if await tx.already_processed(event.id):
            return
        tx.mark_processed(event.id)
        doc = await store.record_opened(tx, event)
        decision = await _decide_if_ready(tx, doc)
    _log(decision)


@broker.subscriber(topics.FINDINGS, **service.subscription(), title="finding reported")
async def on_finding(event: FindingReported) -> None:
    async with service.uow.transaction() as tx:
        if await tx.already_processed(event.id):
            return
        tx.mark_processed(event.id)
        doc = await store.record_finding(tx, event)
        if doc.get("state") == "decided":
            # Reviewing late findings comes with the decision workflow.
            service.log.warning("case %s: late finding from %s after decision",
                                event.data.case_id, event.data.agency)
        decision = await _decide_if_ready(tx, doc)
    _log(decision)


async def sweep() -> None:
    """Decide cases whose research deadline has passed. It reads the database,
    not a timer, so a restart loses no deadline."""
    for case_id in await store.due_for_sweep(service.db, utc_now()):
        async with service.uow.transaction() as tx:
            doc = await store.load(tx, case_id)
            decision = await _decide_if_ready(tx, doc) if doc else None
        _log(decision)


service.every(settings.sweep_seconds, sweep)
