"""One agency's research service. MASH_AGENCY says which.

Enquiries are filed in the agency's own database as they arrive (the offset is
committed only once the enquiry is stored) and answered by a worker in order
of risk: a RED enquiry behind thousands of GREEN ones is answered next, not
last. Kafka is FIFO per partition; the queue in the database is not, holds
any backlog without growing memory, and survives a restart.

An agency researcher's note (``ResearchNoteCommand``, from the desk on the
agency's own command topic) becomes one of the agency's records and answers
the enquiry again at once, under the same policy and audit: the new finding
has an id of its own and names the note as its cause. A note on an enquiry
not yet answered answers it then (and the worker does not answer it again).
"""

import asyncio
import contextlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from faststream.kafka.annotations import KafkaMessage

from contracts import topics
from contracts.agencies import is_agency
from contracts.casework import COMMAND_SIGNER, ResearchNoteCommand
from contracts.envelope import derived_id, utc_now
from contracts.events import EnquiryRequested, FindingReported
from contracts.signing import load_public_keys
from plumbing import logs, tracing
from plumbing.guard import retry_conflicts
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
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
# The desk's public key (MASH_SERVICE_KEYS_FILE), read at startup: a note is
# taken only when the desk signed it.
service_keys: dict[str, Ed25519PublicKey] = {}


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


async def _load_service_keys() -> None:
    """Without the desk's key the service still answers enquiries; it refuses
    every note, and says so now rather than at the first one."""
    if settings.service_keys_file is None:
        service.log.warning("MASH_SERVICE_KEYS_FILE is not set: every researcher's note will "
                            "be refused (no public key for the %s)", COMMAND_SIGNER)
        return
    service_keys.update(load_public_keys(settings.service_keys_file))
    if COMMAND_SIGNER not in service_keys:
        service.log.warning("no public key for the %s in %s: every researcher's note will be "
                            "refused (`mash keys new-service %s`)", COMMAND_SIGNER,
                            settings.service_keys_file, COMMAND_SIGNER)


service.on_startup(_load_service_keys)
broker.publisher(topics.FINDINGS, schema=FindingReported, title=f"finding from {settings.agency}")
broker.publisher(topics.urgent(topics.FINDINGS), schema=FindingReported,
                 title=f"finding on a RED case from {settings.agency}")


@service.lanes(topics.enquiries(settings.agency), title=f"enquiry to {settings.agency}")
async def on_enquiry(enquiry: EnquiryRequested) -> None:
    if await store.enqueue(service.db, enquiry, domain.priority(enquiry.data.rag), utc_now()):
        metrics.ENQUIRIES_RECEIVED.labels(agency=settings.agency, rag=enquiry.data.rag.value).inc()
        work.set()


async def _disclose(tx: Transaction, enquiry: EnquiryRequested,
                    cause: ResearchNoteCommand | None = None) -> FindingReported:
    """Answer the enquiry from the agency's records as they stand in this
    transaction: the finding, its disclosure record and audit entry, and the
    finding queued to publish. ``cause``: the note that made the agency
    answer again, which the finding names as its cause."""
    records = await store.records_for(tx, enquiry)
    finding, used = domain.answer(enquiry, records, policy, utc_now(),
                                  cause=None if cause is None else cause.id)
    await store.audit_disclosure(tx, enquiry, finding, used, policy.version)
    what: dict[str, Any] = {
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
        "records_drawn_on": used}
    if cause is not None:
        what["caused_by"] = cause.id
    tx.audit(actor=service.name, action="disclosed", case_id=finding.data.case_id,
             at=finding.data.answered_at, what=what)
    tx.emit(topics.lane(topics.FINDINGS, enquiry.data.rag), finding)
    return finding


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
            finding = await _disclose(tx, enquiry)
            await store.mark_answered(tx, enquiry.id, finding.id, utc_now())
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


@broker.subscriber(topics.research_commands(settings.agency), **service.subscription("notes"),
                   title=f"an agency researcher's note for {settings.agency}",
                   description="Each signed by the desk, which authenticates the researcher "
                               "(Kafka headers mash-signer desk and mash-signature, Ed25519 over "
                               "the value), from a researcher of this agency about a person its "
                               "enquiry on the case names; any other is refused on the audit "
                               "chain, never applied.")
async def on_note(command: ResearchNoteCommand, message: KafkaMessage) -> None:
    data = command.data
    with logs.about(data.case_id):
        unsigned = domain.signature_problem(message.body, message.headers, service_keys)
        if unsigned is not None:
            await _refuse_unverified(command, unsigned)
            return
        async with service.uow.transaction() as tx:
            if not await tx.claim(command.id):
                return
            refusal, finding = await _take_note(tx, command)
        if refusal is not None:
            service.log.warning("note %s refused: %s", command.id[:40], refusal.code)
            return
        if finding is not None:
            metrics.FINDINGS_DISCLOSED.labels(
                agency=settings.agency, result=finding.data.result,
                disclosure=finding.data.disclosure_level).inc()
            service.log.info("note %s recorded; case %s answered again: %s (%d item(s))",
                             command.id[:40], data.case_id, finding.data.result,
                             len(finding.data.items))


async def _take_note(tx: Transaction, command: ResearchNoteCommand
                     ) -> tuple[domain.Refusal | None, FindingReported | None]:
    """In the caller's transaction: the note checked, and either refused on the
    audit chain, or recorded and the enquiry answered with it."""
    data, actor = command.data, command.data.actor
    filed = await store.enquiry_for(tx, data.case_id)
    state, enquiry = filed if filed is not None else ("", None)
    checked = domain.actor_problem(data, settings.agency) or \
        domain.note_subject(data, enquiry, filed=filed is not None)
    if isinstance(checked, domain.Refusal):
        _audit_refusal(tx, command, checked, actor.actor_id)
        return checked, None
    assert enquiry is not None  # a person is named only by an enquiry held
    now = utc_now()
    record = domain.note_record(checked, data, domain.note_record_id(settings.agency, command.id),
                                domain.local_day(now))
    await store.add_note_record(tx, record, agency=settings.agency, case_id=data.case_id,
                                added_by=actor.actor_id, command_id=command.id, now=now)
    tx.audit(actor=actor.actor_id, action="record added", case_id=data.case_id, at=now, what={
        "command_id": command.id, "record_id": record.record_id, "role": actor.role.value,
        "enquiry_id": enquiry.data.enquiry_id, "person_ref": data.person_ref,
        "record_type": record.record_type, "risk": record.risk})
    finding = await _disclose(tx, enquiry, cause=command)
    # Still waiting: answered now, with the note, and the worker leaves it.
    await store.note_answered(tx, enquiry.id, command_id=command.id, record_id=record.record_id,
                              finding_id=finding.id, now=now, first=state == "pending")
    return None, finding


def _audit_refusal(tx: Transaction, command: ResearchNoteCommand, refusal: domain.Refusal,
                   actor_id: str) -> None:
    data = command.data
    tx.audit(actor=actor_id, action="note refused", case_id=data.case_id, what={
        "command_id": command.id, "reason": refusal.text, "code": refusal.code,
        "agency": data.agency, "person_ref": data.person_ref})


async def _refuse_unverified(command: ResearchNoteCommand, refusal: domain.Refusal) -> None:
    """On the audit chain, never applied, put to no one's name: the actor a
    note the desk did not sign names is unchecked. The claim is the refusal's
    id, not the command's: a forged copy must not use up the id of a note the
    desk did sign."""
    async with service.uow.transaction() as tx:
        if not await tx.claim(derived_id("note refused", command.id)):
            return
        _audit_refusal(tx, command, refusal, "unknown")
    service.log.warning("note %s refused: %s", command.id[:40], refusal.code)


async def observe_queue() -> None:
    metrics.QUEUE_DEPTH.labels(agency=settings.agency).set(await store.waiting(service.db))


service.every(settings.metrics_seconds, observe_queue)
