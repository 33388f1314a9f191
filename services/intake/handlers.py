"""Intake's orchestration: each handler works in the transaction it is
given (``plumbing.unit_of_work.Transaction``), so the unit tests drive it
with an in-memory one; ``app.py`` only wires these to topics."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import judgement
from contracts import topics
from contracts.agencies import agencies
from contracts.envelope import utc_now
from contracts.events import MAX_CONTACTS_PER_CASE, ContactSubmitted
from contracts.formats import Submission
from contracts.signing import SIGNER_HEADER
from plumbing import quarantine
from plumbing.guard import Delivery, Unusable
from plumbing.original import describe
from plumbing.unit_of_work import Transaction
from services.intake import admission, authenticity, domain, formats, metrics, problems, store
from services.intake.person_index import Thresholds


@dataclass
class Intake:
    """What intake does with each contact: check, read, identify the people,
    open a case or join one, and tell the sender; or reject it to its sender."""

    model: judgement.Model
    windows: domain.ResearchWindows
    thresholds: Thresholds
    public_keys: Mapping[str, Ed25519PublicKey]
    signature_window: timedelta
    limits: admission.Limits
    open_case_days: float = 30
    same_incident_hours: float = 24
    quarantine_for: timedelta = timedelta(days=30)
    agencies: tuple[str, ...] = field(default_factory=lambda: tuple(agencies()))
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("mash.intake"))

    def admit(self, body: bytes, headers: Mapping[str, str], header_count: int) -> Any:
        """Check what may be checked before anything reads the bytes, then decode."""
        return admission.admit(body, headers, header_count, self.public_keys, utc_now(),
                               self.signature_window, self.limits)

    def read(self, decoded: Any) -> ContactSubmitted:
        """Any format to the canonical contact; a ValidationError is a rejection."""
        submission = Submission.model_validate(decoded)
        return formats.parse(submission.model_dump())

    async def contact(self, tx: Transaction, event: ContactSubmitted, delivery: Delivery) -> None:
        contact = event.data
        agency, reference = contact.referrer.agency, contact.referrer_reference
        signer = delivery.headers[SIGNER_HEADER]
        fingerprint = delivery.fingerprint
        now = utc_now()
        opened_since = store.since(now, days=self.open_case_days)
        # A new record carrying an id already accepted is a replay; the same
        # record again (Kafka redelivery) is skipped as processed below.
        first = await store.first_received(tx, signer, event.id, fingerprint)
        if first is not None:
            raise authenticity.replay(signer, event.id, first)
        if not await tx.claim(event.id):
            return
        await store.record_nonce(tx, signer, event.id, fingerprint, now)
        existing = await store.case_for_reference(tx, agency, reference)
        if existing is not None:
            await store.record_resubmission(tx, event.id, existing, agency, reference,
                                            contact.contact_id, now)
            tx.audit(actor="intake", action="resubmission recorded",
                     case_id=existing, what={"contact_id": contact.contact_id,
                                             "event_id": event.id, "signer": signer})
            tx.emit(topics.feedback(signer),
                    domain.receipt(event, signer, existing, already=True, now=now))
            tx.after_commit(lambda: self.log.info(
                "resubmission of %s: case %s already holds it", contact.contact_id, existing))
            return
        offered = await store.candidates(tx, domain.people(contact))
        who = domain.identify_people(event.id, contact, offered, self.thresholds)
        event = event.model_copy(update={"data": who.contact})
        incident, household = domain.incident_key(contact), domain.household_key(contact)
        joins = domain.joins(
            incident=await store.case_for_incident(tx, incident, opened_since)
            if incident else None,
            household=await store.case_for_household(
                tx, household, agency, store.since(now, hours=self.same_incident_hours))
            if household and not incident else None,
            child=await store.case_for_children(tx, who.linked_children, opened_since),
        )
        if joins is not None and await store.contacts_in(tx, joins[0]) >= MAX_CONTACTS_PER_CASE:
            # A case holds a bounded number of contacts (every event about it
            # stays under the broker's limit): the next one opens a case of
            # its own, which the person index still links to the same child.
            self.log.warning("case %s holds %d contacts; contact %s opens a new case",
                             joins[0], MAX_CONTACTS_PER_CASE, contact.contact_id)
            joins = None
        label = metrics.source_label(agency)
        if joins is not None:
            case_id, reason = joins
            await store.join_case(tx, case_id, agency=agency, reference=reference,
                                  contact_id=contact.contact_id, reason=reason,
                                  children=who.children, incident=incident, at=now)
            await store.save_people(tx, who, case_id, now)
            tx.audit(actor="intake", action="contact added", case_id=case_id,
                     what={"contact_id": contact.contact_id, "event_id": event.id,
                           "signer": signer, "reason": reason})
            tx.emit(topics.CASES_CONTACT_ADDED,
                    domain.contact_added(event, case_id, reason, now, sender=signer))

            def joined() -> None:
                metrics.CONTACTS_LINKED.labels(source_agency=label).inc()
                self.log.info("contact %s joined case %s (%s)", contact.contact_id, case_id,
                              reason)

            tx.after_commit(joined)
        else:
            opened, enquiries = domain.open_case(event, self.agencies, self.windows, now,
                                                 sender=signer, model=self.model)
            case_id = opened.data.case_id
            await store.save_case(tx, opened, who.children, incident, household)
            await store.save_people(tx, who, case_id, now)
            tx.audit(actor="intake", action="case opened", case_id=case_id, what={
                "contact_id": contact.contact_id, "event_id": event.id, "signer": signer,
                "triage_rag": opened.data.triage_rag.value,
                "on": f"threshold model {self.model.version} on the contact, the referrer's "
                      "RAG a floor",
                "concerns": list(contact.concerns), "enquiries": list(self.agencies)})
            tx.emit(topics.lane(topics.CASES_OPENED, opened.data.triage_rag), opened)
            for enquiry in enquiries:
                tx.emit(topics.lane(topics.enquiries(enquiry.data.agency), enquiry.data.rag),
                        enquiry)
            rag = opened.data.triage_rag.value

            def counted() -> None:
                metrics.CASES_OPENED.labels(source_agency=label, rag=rag).inc()
                self.log.info("case %s opened at %s for contact %s", case_id, rag,
                              contact.contact_id)

            tx.after_commit(counted)
        tx.emit(topics.feedback(signer), domain.receipt(event, signer, case_id, already=False,
                                                        now=now))
        tx.after_commit(lambda: metrics.CONTACTS_RECEIVED.labels(
            source_agency=label, channel=contact.channel,
            source_code=contact.referrer.source_code).inc())

    async def reject(self, tx: Transaction, delivery: Delivery, error: Exception) -> None:
        """A contact that cannot be used: described to its verified sender alone
        (or, unsigned or forged, to the operator), and kept whole in quarantine."""
        found = problems.plain(error)
        now = utc_now()
        sender = authenticity.attribute(delivery.raw, delivery.headers, self.public_keys)
        held_id = domain.rejection_id(delivery.fingerprint)
        rejected = domain.reject(
            delivery.raw, found, topic=delivery.topic, partition=delivery.partition,
            offset=delivery.offset, fingerprint=delivery.fingerprint, sender=sender,
            original=describe(delivery.raw, quarantine.kept_as(tx.db, held_id)), now=now)
        reason = metrics.rejection_reason(error, found)
        if not await tx.claim(rejected.id):
            return
        await quarantine.hold(
            tx.db, delivery, held_id=held_id, kind="rejected",
            reason="; ".join(f"{p.field}: {p.problem}" for p in rejected.data.problems),
            at=now, sender=sender, expires_at=now + self.quarantine_for, session=tx.session)
        await store.save_rejection(tx, rejected)
        claimed = error.facts.get("signer") if isinstance(error, Unusable) else None
        tx.audit(actor="intake", action="contact rejected", what={
            "rejection_id": rejected.id, "contact_id": rejected.data.contact_id,
            "referrer_agency": rejected.data.referrer_agency, "signer": claimed,
            "sender": sender, "reason": reason, "size_bytes": len(delivery.raw),
            "sha256": rejected.data.original.sha256,
            "where": f"{delivery.topic}/{delivery.partition}/{delivery.offset}",
            "reasons": [f"{p.field}: {p.problem}" for p in rejected.data.problems]})
        tx.emit(topics.feedback(sender) if sender else topics.CONTACTS_REJECTED, rejected)

        def counted() -> None:
            metrics.CONTACTS_REJECTED.labels(reason=reason).inc()
            self.log.info("contact rejected at %s/%d/%d (%s, %d bytes): %d problem(s); told %s",
                          delivery.topic, delivery.partition, delivery.offset, reason,
                          len(delivery.raw), len(rejected.data.problems),
                          sender or "nobody: no valid signature (the operator's topic)")

        tx.after_commit(counted)
