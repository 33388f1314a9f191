"""One agency's research service. MASH_AGENCY says which.

Enquiries are filed in the agency's own database as they arrive (the offset is
committed only once the enquiry is stored) and answered by a worker in order
of risk: a RED enquiry behind thousands of GREEN ones is answered next, not
last. Kafka is FIFO per partition; the queue in the database is not, holds
any backlog without growing memory, and survives a restart.
"""

import asyncio
import contextlib

from contracts import topics
from contracts.agencies import is_agency
from contracts.envelope import utc_now
from contracts.events import EnquiryRequested, FindingReported
from plumbing import logs, tracing
from plumbing.guard import retry_conflicts
from plumbing.service import Service
from services.research import domain, metrics, store
from services.research.policy import load_policy
from services.research.settings import ResearchSettings

settings = ResearchSettings()
if not is_agency(settings.agency):
    raise SystemExit(f"MASH_AGENCY={settings.agency!r} is not a configured agency")
policy = load_policy(settings.agency, settings.policy_dir)

service = Service(
    f"research-{settings.agency}",
    settings,
    settings.database,
    description=f"Answers MASH enquiries from {settings.agency}'s own records, highest risk "
                "first, disclosing what its policy allows and auditing every disclosure.",
)
broker = service.broker
app = service.app
work = asyncio.Event()


async def _prepare() -> None:
    if settings.signing_key_file is None:
        raise RuntimeError(
            "MASH_SIGNING_KEY_FILE is not set: decision takes only findings signed by "
            f"research-{settings.agency} (`mash keys new-service research-{settings.agency}`)")
    await store.ensure_indexes(service.db)
    seeded = await store.seed_if_empty(service.db, settings.agency, settings.seed_population,
                                       settings.seed)
    if seeded:
        service.log.info("seeded %d synthetic %s records", seeded, settings.agency)
    service.log.info("disclosure policy %s", policy.version)


service.on_startup(_prepare)
broker.publisher(topics.FINDINGS, schema=FindingReported, title=f"finding from {settings.agency}")
broker.publisher(topics.urgent(topics.FINDINGS), schema=FindingReported,
                 title=f"finding on a RED case from {settings.agency}")


@service.lanes(topics.enquiries(settings.agency), title=f"enquiry to {settings.agency}")
async def on_enquiry(enquiry: EnquiryRequested) -> None:
    if await store.enqueue(service.db, enquiry, domain.priority(enquiry.data.rag), utc_now()):
        metrics.ENQUIRIES_RECEIVED.labels(agency=settings.agency, rag=enquiry.data.rag.value).inc()
        work.set()


async def _answer_next() -> tuple[EnquiryRequested, FindingReported] | None:
    """One transaction: the most urgent waiting enquiry, answered; None when
    none is waiting."""
    async with service.uow.transaction() as tx:
        pending = await store.next_pending(tx)
        if pending is None:
            return None
        enquiry, trace = pending
        with (logs.about(enquiry.data.case_id),
              tracing.continued(trace, f"{enquiry.data.agency} research")):
            records = await store.records_for(tx, enquiry)
            finding, used = domain.answer(enquiry, records, policy, utc_now())
            await store.audit_disclosure(tx, enquiry, finding, used, policy.version)
            tx.audit(actor=service.name, action="disclosed",
                     case_id=finding.data.case_id, at=finding.data.answered_at, what={
                         "enquiry_id": enquiry.data.enquiry_id,
                         "finding_id": finding.id, "asked_by": enquiry.source,
                         "purpose": enquiry.data.purpose,
                         "lawful_basis": finding.data.lawful_basis,
                         "rag": enquiry.data.rag.value,
                         "consent": enquiry.data.consent.value,
                         "level": finding.data.disclosure_level,
                         "policy_version": policy.version,
                         "result": finding.data.result,
                         "items": len(finding.data.items),
                         "records_drawn_on": used})
            await store.mark_answered(tx, enquiry.id, finding.id, utc_now())
            tx.emit(topics.lane(topics.FINDINGS, enquiry.data.rag), finding)
    return enquiry, finding


async def answer_one() -> bool:
    """Answer the most urgent waiting enquiry; False when none is waiting.

    A write conflict (another replica of this service took the same enquiry,
    or wrote the audit head, first) is tried again after a short random wait
    rather than at once; after 20 in a row the job fails onto its backoff."""
    answered = await retry_conflicts(_answer_next, service.guard.policy)
    if answered is None:
        return False
    enquiry, finding = answered
    metrics.FINDINGS_DISCLOSED.labels(agency=settings.agency, result=finding.data.result,
                                      disclosure=finding.data.disclosure_level).inc()
    metrics.RESPONSE_SECONDS.labels(agency=settings.agency).observe(
        max(0.0, (finding.data.answered_at - enquiry.time).total_seconds()))
    service.log.info("case %s: %s (%d item(s), %s)", finding.data.case_id, finding.data.result,
                     len(finding.data.items), enquiry.data.rag.value)
    return True


async def answer_waiting() -> None:
    """Wait for work (woken by a new enquiry, or polling), then drain the queue."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(work.wait(), timeout=settings.queue_poll_seconds)
    work.clear()
    while await answer_one():
        pass


service.every(0.0, answer_waiting)


async def observe_queue() -> None:
    metrics.QUEUE_DEPTH.labels(agency=settings.agency).set(await store.waiting(service.db))


service.every(settings.metrics_seconds, observe_queue)
