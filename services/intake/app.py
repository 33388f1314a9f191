"""Intake's FastStream app: thin wiring around the domain."""

from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

import judgement
from contracts import topics
from contracts.agencies import agencies
from contracts.envelope import utc_now
from contracts.events import (
    MAX_CONTACTS_PER_CASE,
    CaseOpened,
    ContactAdded,
    ContactReceived,
    ContactRejected,
    EnquiryRequested,
)
from contracts.formats import Submission
from contracts.signing import SIGNER_HEADER, load_public_keys
from plumbing import quarantine
from plumbing.guard import Delivery, Unusable
from plumbing.original import describe
from plumbing.service import Service
from services.intake import admission, authenticity, domain, formats, metrics, problems, store
from services.intake.person_index import Thresholds
from services.intake.settings import IntakeSettings

settings = IntakeSettings()
windows = domain.ResearchWindows(
    red=timedelta(seconds=settings.research_window_red_seconds),
    amber=timedelta(seconds=settings.research_window_amber_seconds),
    green=timedelta(seconds=settings.research_window_green_seconds),
)
model = judgement.load(settings.rule_set)
thresholds = Thresholds(link=settings.person_link_threshold,
                        possible=settings.person_possible_threshold)
public_keys: dict[str, Ed25519PublicKey] = (
    load_public_keys(settings.public_keys_file) if settings.public_keys_file else {})
signature_window = timedelta(seconds=settings.signature_window_seconds)
limits = admission.Limits(max_bytes=settings.max_contact_bytes,
                          max_headers=settings.max_contact_headers)
quarantine_for = timedelta(days=settings.quarantine_days)


async def reject(delivery: Delivery, error: Exception) -> None:
    """A contact that cannot be used: described to its verified sender alone
    (or, unsigned or forged, to the operator), and kept whole in quarantine."""
    found = problems.plain(error)
    now = utc_now()
    sender = authenticity.attribute(delivery.raw, delivery.headers, public_keys)
    held_id = domain.rejection_id(delivery.fingerprint)
    rejected = domain.reject(
        delivery.raw, found, topic=delivery.topic, partition=delivery.partition,
        offset=delivery.offset, fingerprint=delivery.fingerprint, sender=sender,
        original=describe(delivery.raw, quarantine.kept_as(service.db, held_id)), now=now)
    reason = metrics.rejection_reason(error, found)
    async with service.uow.transaction() as tx:
        if not await tx.claim(rejected.id):
            return
        await quarantine.hold(
            tx.db, delivery, held_id=held_id, kind="rejected",
            reason="; ".join(f"{p.field}: {p.problem}" for p in rejected.data.problems),
            at=now, sender=sender, expires_at=now + quarantine_for, session=tx.session)
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
    metrics.CONTACTS_REJECTED.labels(reason=reason).inc()
    service.log.info("contact rejected at %s/%d/%d (%s, %d bytes): %d problem(s); told %s",
                     delivery.topic, delivery.partition, delivery.offset, reason,
                     len(delivery.raw), len(rejected.data.problems),
                     sender or "nobody: no valid signature (the operator's topic)")


async def verified_json(msg: StreamMessage[Any]) -> Any:
    """Check what may be checked before anything reads the bytes, then decode."""
    record: Any = msg.raw_message
    return admission.admit(msg.body, msg.headers, len(record.headers or ()), public_keys,
                           utc_now(), signature_window, limits)


service = Service(
    "intake",
    settings,
    settings.database,
    description="Normalises contacts, rejects unusable ones with reasons, opens cases and "
                "sends one enquiry to every agency.",
    on_invalid=dict.fromkeys(topics.lanes(topics.CONTACTS_SUBMITTED), reject),
)
service.on_startup(lambda: store.ensure_indexes(service.db))


async def _keys_loaded() -> None:
    if not public_keys:
        service.log.warning("no signers' public keys (MASH_PUBLIC_KEYS_FILE): every contact "
                            "will be rejected as not authentic")
    else:
        service.log.info("public keys of %d signer(s) loaded", len(public_keys))


service.on_startup(_keys_loaded)
broker = service.broker
app = service.app

# Declared for the AsyncAPI document: the outbox relay does the publishing.
broker.publisher(topics.CONTACTS_REJECTED, schema=ContactRejected,
                 title="contact rejected, unattributed",
                 description="A message no valid signature attributes to a sender (unsigned, "
                             "forged, an unknown signer): every problem in plain words and the "
                             "original described, never carried. For the operator alone.")
for _sender in topics.senders():
    broker.publisher(topics.feedback(_sender), schema=ContactReceived | ContactRejected,
                     title=f"receipts and rejections for {_sender}",
                     description="What intake tells this sender, and nobody else, about its "
                                 "own contacts: a receipt with the case reference for each "
                                 "accepted, a rejection with every problem for each refused "
                                 "(the original described and held in quarantine). The "
                                 "outcome follows on the same topic from notify.")
broker.publisher(topics.CASES_OPENED, schema=CaseOpened, title="case opened")
broker.publisher(topics.urgent(topics.CASES_OPENED), schema=CaseOpened,
                 title="case opened at RED", description="The RED lane of mash.cases.opened.")
broker.publisher(topics.CASES_CONTACT_ADDED, schema=ContactAdded, title="contact added",
                 description="A contact that joins a case already open: a re-contact about "
                             "one of its children, or another notification of the same incident.")
for _agency in agencies():
    broker.publisher(topics.enquiries(_agency), schema=EnquiryRequested,
                     title=f"enquiry to {_agency}")
    broker.publisher(topics.urgent(topics.enquiries(_agency)), schema=EnquiryRequested,
                     title=f"RED enquiry to {_agency}")


@service.lanes(topics.CONTACTS_SUBMITTED, title="contact submitted",
               description="Agencies publish contacts here as CloudEvents (structured mode): "
                           "mash.contact.submitted (canonical) or an agency format named by "
                           "its type; see contracts/schemas/formats/. Each is signed "
                           "by its sender: Kafka headers mash-signer and mash-signature "
                           "(base64 Ed25519 over the value). A contact the referrer judges "
                           "RED goes on the RED lane.",
               decoder=verified_json)
async def on_contact(submission: Submission, message: KafkaMessage) -> None:
    # Any format to the canonical contact; a ValidationError is a rejection.
    event = formats.parse(submission.model_dump())
    contact = event.data
    agency, reference = contact.referrer.agency, contact.referrer_reference
    signer = message.headers[SIGNER_HEADER]
    record: Any = message.raw_message  # aiokafka's ConsumerRecord
    fingerprint = Delivery(message.body, record.topic, record.partition, record.offset, None,
                           record.timestamp).fingerprint
    now = utc_now()
    opened_since = store.since(now, days=settings.open_case_days)
    joins: tuple[str, str] | None = None
    async with service.uow.transaction() as tx:
        # A new record carrying an id already accepted is a replay; the same
        # record again (Kafka redelivery) is skipped as processed below.
        first = await store.first_received(tx, signer, event.id, fingerprint)
        if first is not None:
            raise authenticity.replay(signer, event.id, first)
        await store.record_nonce(tx, signer, event.id, fingerprint, now)
        if not await tx.claim(event.id):
            return
        existing = await store.case_for_reference(tx, agency, reference)
        if existing is not None:
            await store.record_resubmission(tx, event.id, existing, agency, reference,
                                            contact.contact_id, now)
            tx.audit(actor="intake", action="resubmission recorded",
                     case_id=existing, what={"contact_id": contact.contact_id,
                                             "event_id": event.id, "signer": signer})
            tx.emit(topics.feedback(signer),
                    domain.receipt(event, signer, existing, already=True, now=now))
            service.log.info("resubmission of %s: case %s already holds it", contact.contact_id,
                             existing)
            return
        offered = await store.candidates(tx, domain.people(contact))
        who = domain.identify_people(event.id, contact, offered, thresholds)
        event = event.model_copy(update={"data": who.contact})
        incident, household = domain.incident_key(contact), domain.household_key(contact)
        joins = domain.joins(
            incident=await store.case_for_incident(tx, incident, opened_since)
            if incident else None,
            household=await store.case_for_household(
                tx, household, agency, store.since(now, hours=settings.same_incident_hours))
            if household and not incident else None,
            child=await store.case_for_children(tx, who.linked_children, opened_since),
        )
        if joins is not None and await store.contacts_in(tx, joins[0]) >= MAX_CONTACTS_PER_CASE:
            # A case holds a bounded number of contacts (every event about it
            # stays under the broker's limit): the next one opens a case of
            # its own, which the person index still links to the same child.
            service.log.warning("case %s holds %d contacts; contact %s opens a new case",
                                joins[0], MAX_CONTACTS_PER_CASE, contact.contact_id)
            joins = None
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
        else:
            opened, enquiries = domain.open_case(event, agencies(), windows, now, sender=signer,
                                                model=model)
            case_id = opened.data.case_id
            await store.save_case(tx, opened, who.children, incident, household)
            await store.save_people(tx, who, case_id, now)
            tx.audit(actor="intake", action="case opened", case_id=case_id, what={
                "contact_id": contact.contact_id, "event_id": event.id, "signer": signer,
                "triage_rag": opened.data.triage_rag.value,
                "on": f"threshold model {model.version} on the contact, the referrer's RAG a floor",
                "concerns": list(contact.concerns), "enquiries": list(agencies())})
            tx.emit(topics.lane(topics.CASES_OPENED, opened.data.triage_rag), opened)
            for enquiry in enquiries:
                tx.emit(topics.lane(topics.enquiries(enquiry.data.agency), enquiry.data.rag),
                        enquiry)
        tx.emit(topics.feedback(signer), domain.receipt(event, signer, case_id, already=False,
                                                        now=now))
    label = metrics.source_label(agency)
    metrics.CONTACTS_RECEIVED.labels(source_agency=label, channel=contact.channel,
                                     source_code=contact.referrer.source_code).inc()
    if joins is not None:
        metrics.CONTACTS_LINKED.labels(source_agency=label).inc()
        service.log.info("contact %s joined case %s (%s)", contact.contact_id, case_id, joins[1])
    else:
        metrics.CASES_OPENED.labels(source_agency=label, rag=opened.data.triage_rag.value).inc()
        service.log.info("case %s opened at %s for contact %s", case_id,
                         opened.data.triage_rag.value, contact.contact_id)
