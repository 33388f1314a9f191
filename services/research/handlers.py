"""One agency's research orchestration: each handler works in the
transaction it is given (``plumbing.unit_of_work.Transaction``), so the unit
tests drive it with an in-memory one; ``app.py`` only wires these."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts import topics
from contracts.casework import ResearchNoteCommand
from contracts.envelope import derived_id, utc_now
from contracts.events import EnquiryRequested, FindingReported
from plumbing import logs, tracing
from plumbing.unit_of_work import Transaction
from services.research import domain, metrics, store
from services.research.policy import DisclosurePolicy


@dataclass
class Researcher:
    """What one agency's research service does: file each enquiry, answer
    the most urgent waiting ones from its own records under its disclosure
    policy, and take a researcher's note."""

    agency: str
    policy: DisclosurePolicy
    keys: Mapping[str, Ed25519PublicKey]
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("mash.research"))

    @property
    def name(self) -> str:
        return f"research-{self.agency}"

    async def enquiry(self, tx: Transaction, enquiry: EnquiryRequested) -> bool:
        """File it to answer in order of risk; False when filed before."""
        filed = await store.enqueue(tx, enquiry, domain.priority(enquiry.data.rag), utc_now())
        if filed:
            tx.after_commit(lambda: metrics.ENQUIRIES_RECEIVED.labels(
                agency=self.agency, rag=enquiry.data.rag.value).inc())
        return filed

    async def disclose(self, tx: Transaction, enquiry: EnquiryRequested,
                       cause: ResearchNoteCommand | None = None,
                       records: list[domain.Record] | None = None) -> FindingReported:
        """Answer the enquiry from the agency's records as they stand in this
        transaction (``records``, when read already): the finding, its
        disclosure record and audit entry, and the finding queued to publish.
        ``cause``: the note that made the agency answer again, which the
        finding names as its cause."""
        if records is None:
            records = await store.records_for(tx, enquiry)
        finding, used = domain.answer(enquiry, records, self.policy, utc_now(),
                                      cause=None if cause is None else cause.id)
        await store.audit_disclosure(tx, enquiry, finding, used, self.policy.version)
        what: dict[str, Any] = {
            "enquiry_id": enquiry.data.enquiry_id,
            "finding_id": finding.id, "asked_by": enquiry.source,
            "purpose": enquiry.data.purpose,
            "lawful_basis": finding.data.lawful_basis,
            "rag": enquiry.data.rag.value,
            "consent": enquiry.data.consent.value,
            "level": finding.data.disclosure_level,
            "policy_version": self.policy.version,
            "result": finding.data.result,
            "items": len(finding.data.items),
            "records_drawn_on": used}
        if cause is not None:
            what["caused_by"] = cause.id
        tx.audit(actor=self.name, action="disclosed", case_id=finding.data.case_id,
                 at=finding.data.answered_at, what=what)
        tx.emit(topics.lane(topics.FINDINGS, enquiry.data.rag), finding)
        tx.after_commit(lambda: self._disclosed(finding, enquiry if cause is None else None))
        return finding

    def _disclosed(self, finding: FindingReported, answered: EnquiryRequested | None) -> None:
        metrics.FINDINGS_DISCLOSED.labels(agency=self.agency, result=finding.data.result,
                                          disclosure=finding.data.disclosure_level).inc()
        if answered is None:
            return
        metrics.RESPONSE_SECONDS.labels(agency=self.agency).observe(
            max(0.0, (finding.data.answered_at - answered.time).total_seconds()))
        self.log.info("case %s: %s (%d item(s), %s)", finding.data.case_id, finding.data.result,
                      len(finding.data.items), answered.data.rag.value)

    async def answer_waiting(self, tx: Transaction, limit: int) -> int:
        """The most urgent waiting enquiries, up to ``limit``, answered in
        this transaction; how many."""
        pending = await store.next_pending(tx, limit)
        records = await store.records_for_each(tx, [enquiry for enquiry, _ in pending])
        for enquiry, trace in pending:
            with (logs.about(enquiry.data.case_id),
                  tracing.continued(trace, f"{enquiry.data.agency} research")):
                finding = await self.disclose(tx, enquiry, records=records[enquiry.id])
                await store.mark_answered(tx, enquiry.id, finding.id, utc_now())
        return len(pending)

    async def note(self, tx: Transaction, command: ResearchNoteCommand, body: bytes,
                   headers: Mapping[str, str]) -> None:
        """A researcher's note: refused on the audit chain, or recorded and
        the enquiry answered again with it."""
        unsigned = domain.signature_problem(body, headers, self.keys)
        if unsigned is not None:
            await self._refuse_unverified(tx, command, unsigned)
            return
        if not await tx.claim(command.id):
            return
        refusal, finding = await self._take_note(tx, command)
        if refusal is not None:
            tx.after_commit(lambda: self.log.warning("note %s refused: %s", command.id[:40],
                                                     refusal.code))
        elif finding is not None:
            tx.after_commit(lambda: self.log.info(
                "note %s recorded; case %s answered again: %s (%d item(s))", command.id[:40],
                command.data.case_id, finding.data.result, len(finding.data.items)))

    async def _take_note(self, tx: Transaction, command: ResearchNoteCommand
                         ) -> tuple[domain.Refusal | None, FindingReported | None]:
        """The note checked, and either refused on the audit chain, or
        recorded and the enquiry answered with it."""
        data, actor = command.data, command.data.actor
        filed = await store.enquiry_for(tx, data.case_id)
        state, enquiry = filed if filed is not None else ("", None)
        checked = domain.actor_problem(data, self.agency) or \
            domain.note_subject(data, enquiry, filed=filed is not None)
        if isinstance(checked, domain.Refusal):
            self._audit_refusal(tx, command, checked, actor.actor_id)
            return checked, None
        assert enquiry is not None  # a person is named only by an enquiry held
        now = utc_now()
        record = domain.note_record(checked, data,
                                    domain.note_record_id(self.agency, command.id),
                                    domain.local_day(now))
        await store.add_note_record(tx, record, agency=self.agency, case_id=data.case_id,
                                    added_by=actor.actor_id, command_id=command.id, now=now)
        tx.audit(actor=actor.actor_id, action="record added", case_id=data.case_id, at=now,
                 what={"command_id": command.id, "record_id": record.record_id,
                       "role": actor.role.value, "enquiry_id": enquiry.data.enquiry_id,
                       "person_ref": data.person_ref, "record_type": record.record_type,
                       "risk": record.risk})
        finding = await self.disclose(tx, enquiry, cause=command)
        # Still waiting: answered now, with the note, and the worker leaves it.
        await store.note_answered(tx, enquiry.id, command_id=command.id,
                                  record_id=record.record_id, finding_id=finding.id, now=now,
                                  first=state == "pending")
        return None, finding

    @staticmethod
    def _audit_refusal(tx: Transaction, command: ResearchNoteCommand, refusal: domain.Refusal,
                       actor_id: str) -> None:
        data = command.data
        tx.audit(actor=actor_id, action="note refused", case_id=data.case_id, what={
            "command_id": command.id, "reason": refusal.text, "code": refusal.code,
            "agency": data.agency, "person_ref": data.person_ref})

    async def _refuse_unverified(self, tx: Transaction, command: ResearchNoteCommand,
                                 refusal: domain.Refusal) -> None:
        """On the audit chain, never applied, put to no one's name: the actor a
        note the desk did not sign names is unchecked. The claim is the
        refusal's id, not the command's: a forged copy must not use up the id
        of a note the desk did sign."""
        if not await tx.claim(derived_id("note refused", command.id)):
            return
        self._audit_refusal(tx, command, refusal, "unknown")
        tx.after_commit(lambda: self.log.warning("note %s refused: %s", command.id[:40],
                                                 refusal.code))
