"""Decision's orchestration: each handler works in the transaction it is
given (``plumbing.unit_of_work.Transaction``), so the unit tests drive it
with an in-memory one; ``app.py`` only wires these to topics and jobs."""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import TypeAdapter

from contracts import topics
from contracts.casework import (
    CaseChanged,
    DecideCommand,
    DecisionCommand,
    OutcomeAcknowledged,
    OutcomeEscalated,
    RecommendCommand,
)
from contracts.envelope import utc_now
from contracts.events import CaseOpened, ContactAdded, DecisionMade, FindingReported
from plumbing.guard import Delivery, Unusable
from plumbing.unit_of_work import Transaction
from plumbing.wire import plain_errors
from services.decision import domain, metrics, provenance, store

# What decision reads, by topic (a RED lane read as its main topic).
Incoming = (CaseOpened | FindingReported | ContactAdded | DecisionCommand | OutcomeAcknowledged
            | OutcomeEscalated)
MODELS: dict[str, TypeAdapter[Any]] = {
    topics.CASES_OPENED: TypeAdapter(CaseOpened),
    topics.FINDINGS: TypeAdapter(FindingReported),
    topics.CASES_CONTACT_ADDED: TypeAdapter(ContactAdded),
    topics.DECISION_COMMANDS: TypeAdapter(DecisionCommand),
    topics.OUTCOME_ACKS: TypeAdapter(OutcomeAcknowledged),
    topics.OUTCOME_ESCALATIONS: TypeAdapter(OutcomeEscalated),
}

_DECIDED = {"rag", "outcome", "level_of_need", "rule_set_version", "decided_by", "proposed_rag",
            "recommended_rag", "rationale", "agencies_answered", "agencies_missing",
            "decision_version", "decided_at"}


def _said(error: Unusable) -> str:
    return "; ".join(problem for _, problem in error.problems)


def audit_event(tx: Transaction, event: Any) -> None:
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


@dataclass
class Decider:
    """What decision does with each event about a case, and with a case due
    for its sweep. ``keys``: the research services' and the desk's public
    keys (a finding is taken only from its own agency's research service, a
    command only from the desk)."""

    policy: domain.Policy
    keys: Mapping[str, Ed25519PublicKey]
    clock: domain.Clock = utc_now
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("mash.decision"))

    def read(self, topic: str, decoded: Any, body: bytes, headers: Mapping[str, str]) -> Incoming:
        """An event as decision takes it; what is unreadable or (a finding)
        not signed by its agency raises, and is set aside on its own."""
        model = MODELS.get(topic)
        if model is None:
            raise Unusable([("(message)", f"decision reads nothing from {topic[:200]}")])
        event = model.validate_python(decoded)
        if isinstance(event, FindingReported):
            provenance.check_finding(body, headers, event.data.agency, self.keys)
        result: Incoming = event
        return result

    async def handle(self, tx: Transaction, event: Incoming, body: bytes,
                     headers: Mapping[str, str]) -> None:
        if isinstance(event, CaseOpened):
            await self.case_opened(tx, event)
        elif isinstance(event, FindingReported):
            await self.finding(tx, event)
        elif isinstance(event, ContactAdded):
            await self.contact_added(tx, event)
        elif isinstance(event, RecommendCommand | DecideCommand):
            await self.command(tx, event, body, headers)
        elif isinstance(event, OutcomeAcknowledged):
            await self.acknowledged(tx, event)
        else:
            await self.escalated(tx, event)

    async def _apply(self, tx: Transaction, step: domain.Step, before: metrics.Before | None,
                     attached: store.Attached | None = None) -> None:
        await store.save(tx, step.case, attached)
        for topic, event in step.emit:
            audit_event(tx, event)
            tx.emit(topic, event)
        if before is not None:
            tx.after_commit(lambda: self._committed(step, before))

    def _committed(self, step: domain.Step, before: metrics.Before) -> None:
        """Log and count what a committed transition did (never before the commit)."""
        metrics.count_step(before, step)
        for note in step.notes:
            self.log.info("%s", note)

    async def case_opened(self, tx: Transaction, event: CaseOpened) -> None:
        if not await tx.claim(event.id):
            return
        attached = await store.record_opened(tx, event)
        case = attached.case
        await self._apply(tx, domain.advance(case, self.clock(), self.policy, event.id),
                          metrics.Before.of(case), attached)

    async def finding(self, tx: Transaction, event: FindingReported) -> None:
        if not await tx.claim(event.id):
            return
        attached = await store.record_finding(tx, event)
        case = attached.case
        await self._apply(tx, domain.finding(case, event.data.agency, self.clock(), self.policy,
                                             event.id), metrics.Before.of(case), attached)
        agency = event.data.agency

        def counted() -> None:
            metrics.FINDINGS_RECEIVED.labels(agency=agency).inc()
            metrics.LAST_ANSWER.labels(agency=agency).set(time.time())

        tx.after_commit(counted)

    async def contact_added(self, tx: Transaction, event: ContactAdded) -> None:
        if not await tx.claim(event.id):
            return
        attached = await store.record_added(tx, event)
        if attached is None:
            return
        case = attached.case
        await self._apply(tx, domain.contact_added(case, event.data, self.clock(), self.policy,
                                                   event.id), metrics.Before.of(case), attached)

    async def command(self, tx: Transaction, command: DecisionCommand, body: bytes,
                      headers: Mapping[str, str]) -> None:
        try:
            provenance.check_command(body, headers, self.keys)
        except Unusable as unsigned:
            await self._refuse_unverified(tx, command, _said(unsigned))
            return
        if not await tx.claim(command.id):
            return
        case = await store.load(tx, command.data.case_id)
        if case is None or case.opened is None:
            refusal = domain.unknown_case_refusal(command, self.clock())
            audit_event(tx, refusal)
            tx.emit(topics.CASE_HISTORY, refusal)
            tx.after_commit(lambda: self.log.warning("command for unknown case %s refused",
                                                     command.data.case_id))
            return
        before = metrics.Before.of(case)
        await self._apply(tx, domain.command(case, command, self.clock(), self.policy), before)

    async def _refuse_unverified(self, tx: Transaction, command: DecisionCommand,
                                 why: str) -> None:
        """Refused where its sender waits for the verdict, and never applied.
        The claim is the refusal's id, not the command's: a forged copy must
        not use up the id of a command the desk did sign."""
        refusal = domain.unverified_command_refusal(command, why, self.clock())
        if not await tx.claim(refusal.id):
            return
        audit_event(tx, refusal)
        tx.emit(topics.CASE_HISTORY, refusal)
        tx.after_commit(lambda: self.log.warning(
            "command %s for case %s refused: not from the desk (it named %s)",
            command.id[:40], command.data.case_id, command.data.actor.actor_id[:100]))

    async def unreadable_command(self, tx: Transaction, delivery: Delivery,
                                 error: Exception) -> bool:
        """A command that cannot be read (a blank rationale, an override
        without its RAG) is refused on the case's history, where the CLI or
        the desk that sent it waits for the verdict. False when it names no
        command and case (the caller dead-letters it)."""
        named = domain.command_named(delivery.raw)
        if named is None:
            return False
        cmd_id, case_id, actor = named
        try:
            provenance.check_command(delivery.raw, delivery.headers, self.keys)
            said, why = "; ".join(f"{w}: {p}" for w, p in plain_errors(error)), "it cannot be read"
        except Unusable as unsigned:
            # Not from the desk: that is its answer, and the actor it names is
            # unchecked, so nothing is put to their name.
            said, why, actor = _said(unsigned), "not from the desk", domain.SYSTEM
        refusal = domain.unreadable_command_refusal(cmd_id, case_id, actor, said, self.clock())
        if not await tx.claim(refusal.id):
            return True
        audit_event(tx, refusal)
        tx.emit(topics.CASE_HISTORY, refusal)
        tx.after_commit(lambda: self.log.warning("command %s for case %s refused: %s",
                                                 cmd_id[:40], case_id, why))
        return True

    async def acknowledged(self, tx: Transaction, event: OutcomeAcknowledged) -> None:
        if not await tx.claim(event.id):
            return
        case = await store.load(tx, event.data.case_id)
        if case is None:
            tx.after_commit(lambda: self.log.warning("acknowledgement for unknown case %s",
                                                     event.data.case_id))
            return
        before = metrics.Before.of(case)
        await self._apply(tx, domain.acknowledged(case, event.data.team,
                                                  event.data.destination.value,
                                                  event.data.acknowledged_at, event.id), before)

    async def escalated(self, tx: Transaction, event: OutcomeEscalated) -> None:
        if not await tx.claim(event.id):
            return
        case = await store.load(tx, event.data.case_id)
        if case is None:
            return
        before = metrics.Before.of(case)
        await self._apply(tx, domain.escalated(case, event.data.text, event.data.escalated_at,
                                               event.id), before)

    async def sweep_case(self, tx: Transaction, case_id: str, now: datetime) -> None:
        """A research deadline or timescale due on one case."""
        case = await store.load(tx, case_id)
        if case is None:
            return
        before = metrics.Before.of(case)
        await self._apply(tx, domain.sla(case, now, self.policy), before)
