"""Decision's FastStream app: gathering findings, proposing, people's
decisions, and the sweeper for deadlines and timescales."""

import time
from datetime import datetime
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from faststream.kafka.annotations import KafkaMessage
from pymongo.errors import OperationFailure

from contracts import topics
from contracts.agencies import agencies
from contracts.casework import (
    COMMAND_SIGNER,
    CaseChanged,
    DecisionCommand,
    OutcomeAcknowledged,
    OutcomeEscalated,
    SlaBreached,
    SlaWarning,
)
from contracts.envelope import utc_now
from contracts.events import CaseOpened, ContactAdded, DecisionMade, FindingReported
from contracts.signing import load_public_keys
from plumbing import logs, tracing
from plumbing.guard import Delivery, Unusable, is_conflict, retry_conflicts
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
from plumbing.wire import plain_errors
from services.decision import domain, metrics, provenance, store
from services.decision.settings import DecisionSettings

settings = DecisionSettings()
policy = settings.policy()
clock: domain.Clock = utc_now
# The research services' and the desk's public keys, read at startup: a
# finding is taken only when signed by its own agency's research service, a
# command only when signed by the desk.
service_keys: dict[str, Ed25519PublicKey] = {}


def _said(error: Unusable) -> str:
    return "; ".join(problem for _, problem in error.problems)


async def refuse_unreadable_command(delivery: Delivery, error: Exception) -> None:
    """A command that cannot be read (a blank rationale, an override without
    its RAG) is refused on the case's history, where the CLI or the desk that
    sent it waits for the verdict; a message that names no command and case
    is dead-lettered."""
    named = domain.command_named(delivery.raw)
    if named is None:
        await service.guard.dead_letter(delivery, error, 1)
        return
    cmd_id, case_id, actor = named
    try:
        provenance.check_command(delivery.raw, delivery.headers, service_keys)
        said, why = "; ".join(f"{w}: {p}" for w, p in plain_errors(error)), "it cannot be read"
    except Unusable as unsigned:
        # Not from the desk: that is its answer, and the actor it names is
        # unchecked, so nothing is put to their name.
        said, why, actor = _said(unsigned), "not from the desk", domain.SYSTEM
    refusal = domain.unreadable_command_refusal(cmd_id, case_id, actor, said, clock())
    async with service.uow.transaction() as tx:
        if not await tx.claim(refusal.id):
            return
        _audit(tx, refusal)
        tx.emit(topics.CASE_HISTORY, refusal)
    service.log.warning("command %s for case %s refused: %s", cmd_id[:40], case_id, why)


service = Service(
    "decision",
    settings,
    settings.database,
    on_invalid={topics.DECISION_COMMANDS: refuse_unreadable_command},
    description="Merges every agency's findings into one case record, waiting for all of them "
                "or the research deadline; proposes RAG and outcome by versioned threshold rules; "
                "records practitioners' recommendations and managers' decisions; tracks every "
                "timescale and raises warnings and breaches.",
)
service.on_startup(lambda: store.ensure_indexes(service.db))


async def _load_service_keys() -> None:
    if settings.service_keys_file is None:
        raise RuntimeError("MASH_SERVICE_KEYS_FILE is not set: without the research services' "
                           "public keys no finding can be trusted (`mash keys new-service "
                           "research-<agency>`)")
    service_keys.update(load_public_keys(settings.service_keys_file))
    missing = [a for a in agencies() if provenance.research_service(a) not in service_keys]
    if missing:
        service.log.warning("no public key for the research service of %s: their findings "
                            "will be refused", ", ".join(missing))
    if COMMAND_SIGNER not in service_keys:
        service.log.warning("no public key for the %s: every command will be refused "
                            "(`mash keys new-service %s`)", COMMAND_SIGNER, COMMAND_SIGNER)


service.on_startup(_load_service_keys)
broker = service.broker
app = service.app
broker.publisher(topics.DECISIONS, schema=DecisionMade, title="decision made",
                 description="Only authorised decisions: by a manager, or by the rules when "
                             "auto-authorise is on (decided_by = 'rules').")
broker.publisher(topics.CASE_HISTORY, schema=CaseChanged, title="case changed",
                 description="Every change to a case's decision, with who and why.")
broker.publisher(topics.SLA_WARNINGS, schema=SlaWarning, title="timescale due soon")
broker.publisher(topics.SLA_BREACHED, schema=SlaBreached, title="timescale breached")


async def _apply(tx: Transaction, step: domain.Step) -> None:
    await store.save(tx, step.case)
    for topic, event in step.emit:
        _audit(tx, event)
        tx.emit(topic, event)


def _audit(tx: Transaction, event: Any) -> None:
    """Every change to a case's decision, and every decision made, on the chain."""
    if isinstance(event, CaseChanged):
        d = event.data
        tx.audit(actor=d.actor.actor_id, action=d.kind.value, case_id=d.case_id,
                 at=d.at, what={"role": d.actor.role, "rag": d.rag, "outcome": d.outcome,
                                "rule_ids": d.rule_ids, "text": d.text,
                                "event_id": event.id})
    elif isinstance(event, DecisionMade):
        made = event.data
        tx.audit(actor="decision", action="decision published",
                 case_id=made.case_id,
                 what={"decision_id": event.id,
                       "rule_ids": [r.rule_id for r in made.reasons],
                       **made.model_dump(mode="json", include=_DECIDED)})


_DECIDED = {"rag", "outcome", "level_of_need", "rule_set_version", "decided_by", "proposed_rag",
            "recommended_rag", "rationale", "agencies_answered", "agencies_missing",
            "decision_version", "decided_at"}


def _committed(step: domain.Step | None, before: metrics.Before | None) -> None:
    """Log and count what a committed transition did (never before the commit)."""
    if step is None or before is None:
        return
    metrics.count_step(before, step)
    for note in step.notes:
        service.log.info("%s", note)


@service.lanes(topics.CASES_OPENED, "cases-opened", title="case opened")
async def on_case_opened(event: CaseOpened) -> None:
    step = before = None
    async with service.uow.transaction() as tx:
        if not await tx.claim(event.id):
            return
        await store.record_opened(tx, event)
        case = await store.load(tx, event.data.case_id)
        if case is not None:
            before = metrics.Before.of(case)
            step = domain.advance(case, clock(), policy, event.id)
            await _apply(tx, step)
    _committed(step, before)


@service.lanes(topics.FINDINGS, "findings", title="finding reported",
               description="Each signed by the research service of the agency it names "
                           "(Kafka headers mash-signer research-<agency> and mash-signature, "
                           "Ed25519 over the value); any other is dead-lettered, never merged.")
async def on_finding(event: FindingReported, message: KafkaMessage) -> None:
    provenance.check_finding(message.body, message.headers, event.data.agency, service_keys)
    step = before = None
    async with service.uow.transaction() as tx:
        if not await tx.claim(event.id):
            return
        await store.record_finding(tx, event)
        case = await store.load(tx, event.data.case_id)
        if case is not None:
            before = metrics.Before.of(case)
            step = domain.finding(case, event.data.agency, clock(), policy, event.id)
            await _apply(tx, step)
    metrics.FINDINGS_RECEIVED.labels(agency=event.data.agency).inc()
    metrics.LAST_ANSWER.labels(agency=event.data.agency).set(time.time())
    _committed(step, before)


@broker.subscriber(topics.CASES_CONTACT_ADDED, **service.subscription("contact-added"),
                   title="contact added")
async def on_contact_added(event: ContactAdded) -> None:
    step = before = None
    async with service.uow.transaction() as tx:
        if not await tx.claim(event.id):
            return
        if not await store.record_added(tx, event):
            return
        case = await store.load(tx, event.data.case_id)
        if case is not None:
            before = metrics.Before.of(case)
            step = domain.contact_added(case, event.data, clock(), policy, event.id)
            await _apply(tx, step)
    _committed(step, before)


@broker.subscriber(topics.DECISION_COMMANDS, **service.subscription("commands"),
                   title="recommend or decide",
                   description="Each signed by the desk, which authenticates who sends it (Kafka "
                               "headers mash-signer desk and mash-signature, Ed25519 over the "
                               "value); any other is refused on the case's history, never "
                               "applied.")
async def on_command(command: DecisionCommand, message: KafkaMessage) -> None:
    try:
        provenance.check_command(message.body, message.headers, service_keys)
    except Unusable as unsigned:
        await _refuse_unverified(command, _said(unsigned))
        return
    step = before = None
    async with service.uow.transaction() as tx:
        if not await tx.claim(command.id):
            return
        case = await store.load(tx, command.data.case_id)
        if case is None or case.opened is None:
            service.log.warning("command for unknown case %s refused", command.data.case_id)
            refusal = domain.unknown_case_refusal(command, clock())
            _audit(tx, refusal)
            tx.emit(topics.CASE_HISTORY, refusal)
            return
        before = metrics.Before.of(case)
        step = domain.command(case, command, clock(), policy)
        await _apply(tx, step)
    _committed(step, before)


async def _refuse_unverified(command: DecisionCommand, why: str) -> None:
    """Refused where its sender waits for the verdict, and never applied.
    The claim is the refusal's id, not the command's: a forged copy must not
    use up the id of a command the desk did sign."""
    refusal = domain.unverified_command_refusal(command, why, clock())
    async with service.uow.transaction() as tx:
        if not await tx.claim(refusal.id):
            return
        _audit(tx, refusal)
        tx.emit(topics.CASE_HISTORY, refusal)
    service.log.warning("command %s for case %s refused: not from the desk (it named %s)",
                        command.id[:40], command.data.case_id, command.data.actor.actor_id[:100])


@broker.subscriber(topics.OUTCOME_ACKS, **service.subscription("acks"), title="outcome acknowledged")
async def on_ack(event: OutcomeAcknowledged) -> None:
    async with service.uow.transaction() as tx:
        if not await tx.claim(event.id):
            return
        case = await store.load(tx, event.data.case_id)
        if case is None:
            service.log.warning("acknowledgement for unknown case %s", event.data.case_id)
            return
        before = metrics.Before.of(case)
        step = domain.acknowledged(case, event.data.team, event.data.destination.value,
                                   event.data.acknowledged_at, event.id)
        await _apply(tx, step)
    _committed(step, before)


@broker.subscriber(topics.OUTCOME_ESCALATIONS, **service.subscription("escalations"),
                   title="outcome escalated")
async def on_escalation(event: OutcomeEscalated) -> None:
    async with service.uow.transaction() as tx:
        if not await tx.claim(event.id):
            return
        case = await store.load(tx, event.data.case_id)
        if case is None:
            return
        before = metrics.Before.of(case)
        step = domain.escalated(case, event.data.text, event.data.escalated_at, event.id)
        await _apply(tx, step)
    _committed(step, before)


async def _sweep_case(case_id: str, now: datetime) -> tuple[domain.Step | None, metrics.Before | None]:
    async with service.uow.transaction() as tx:
        case = await store.load(tx, case_id)
        if case is None:
            return None, None
        before = metrics.Before.of(case)
        step = domain.sla(case, now, policy)
        await _apply(tx, step)
    return step, before


async def sweep() -> None:
    """Research deadlines and timescales, read from the database, not a timer:
    a restart loses none. A case that keeps meeting write conflicts is left
    for the next sweep; the others are swept now."""
    now = clock()
    for case_id, trace in (await store.due_for_sweep(service.db, now)).items():
        with logs.about(case_id), tracing.continued(trace, "decision sweep"):
            try:
                step, before = await retry_conflicts(partial(_sweep_case, case_id, now),
                                                     service.guard.policy)
            except OperationFailure as error:
                if not is_conflict(error):
                    raise
                service.log.warning("case %s: write conflicts on every try; "
                                    "left for the next sweep", case_id)
                continue
            _committed(step, before)


service.every(settings.sweep_seconds, sweep)


async def observe() -> None:
    """The live picture: open cases, outstanding timescales, agencies awaited."""
    cases = await store.open_cases(service.db, clock(), agencies())
    metrics.publish(metrics.snapshot(cases, clock(), agencies()))


metrics.start(agencies(), time.time())
service.every(settings.metrics_seconds, observe)
