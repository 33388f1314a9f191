"""Intake's wiring: contacts in (each lane a consumer of its own), cases,
enquiries, receipts and rejections out. ``bootstrap(settings)`` builds it."""

from datetime import timedelta
from typing import Any

from faststream.asgi import AsgiFastStream

import judgement
from contracts import topics
from contracts.agencies import agencies
from contracts.events import (
    CaseOpened,
    ContactAdded,
    ContactReceived,
    ContactRejected,
    ContactSubmitted,
    EnquiryRequested,
)
from contracts.formats import Submission
from contracts.signing import load_public_keys
from plumbing.consumer import Received, Subscription
from plumbing.guard import Delivery
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
from services.intake import admission, domain, store
from services.intake.handlers import Intake
from services.intake.person_index import Thresholds
from services.intake.settings import IntakeSettings


def bootstrap(settings: IntakeSettings) -> Service:
    """The composition root: intake's service and its two consumers."""
    intake = Intake(
        model=judgement.load(settings.rule_set),
        windows=domain.ResearchWindows(
            red=timedelta(seconds=settings.research_window_red_seconds),
            amber=timedelta(seconds=settings.research_window_amber_seconds),
            green=timedelta(seconds=settings.research_window_green_seconds)),
        thresholds=Thresholds(link=settings.person_link_threshold,
                              possible=settings.person_possible_threshold),
        public_keys=load_public_keys(settings.public_keys_file)
        if settings.public_keys_file else {},
        signature_window=timedelta(seconds=settings.signature_window_seconds),
        limits=admission.Limits(max_bytes=settings.max_contact_bytes,
                                max_headers=settings.max_contact_headers),
        open_case_days=settings.open_case_days,
        same_incident_hours=settings.same_incident_hours,
        quarantine_for=timedelta(days=settings.quarantine_days))

    async def reject(delivery: Delivery, error: Exception) -> None:
        async with service.uow.transaction() as tx:
            await intake.reject(tx, delivery, error)

    service = Service(
        "intake",
        settings,
        settings.database,
        description="Normalises contacts, rejects unusable ones with reasons, opens cases and "
                    "sends one enquiry to every agency.",
        on_invalid=dict.fromkeys(topics.lanes(topics.CONTACTS_SUBMITTED), reject),
    )
    intake.log = service.log
    service.on_startup(lambda: store.ensure_indexes(service.db))

    async def keys_loaded() -> None:
        if not intake.public_keys:
            service.log.warning("no signers' public keys (MASH_PUBLIC_KEYS_FILE): every "
                                "contact will be rejected as not authentic")
        else:
            service.log.info("public keys of %d signer(s) loaded", len(intake.public_keys))

    service.on_startup(keys_loaded)
    _declare(service)

    def decode(received: Received) -> Any:
        return intake.admit(received.body, received.headers, received.header_count)

    def read(received: Received) -> ContactSubmitted:
        return intake.read(received.decoded)

    async def handle(tx: Transaction, event: ContactSubmitted, received: Received) -> None:
        await intake.contact(tx, event, received.delivery)

    description = ("Agencies publish contacts here as CloudEvents (structured mode): "
                   "mash.contact.submitted (canonical) or an agency format named by its type; "
                   "see contracts/schemas/formats/. Each is signed by its sender: Kafka headers "
                   "mash-signer and mash-signature (base64 Ed25519 over the value). A contact "
                   "the referrer judges RED goes on the RED lane.")
    main, lane = topics.lanes(topics.CONTACTS_SUBMITTED)
    service.consume(Subscription("contacts", handle, read, decode), [main], group=None,
                    title="contact submitted", description=description, schema=Submission)
    service.consume(Subscription("contacts.urgent", handle, read, decode), [lane],
                    group="urgent", title="contact submitted (RED lane)",
                    description=description, schema=Submission)
    return service


def _declare(service: Service) -> None:
    """Declared for the AsyncAPI document: the outbox relay does the publishing."""
    broker = service.broker
    broker.publisher(topics.CONTACTS_REJECTED, schema=ContactRejected,
                     title="contact rejected, unattributed",
                     description="A message no valid signature attributes to a sender "
                                 "(unsigned, forged, an unknown signer): every problem in plain "
                                 "words and the original described, never carried. For the "
                                 "operator alone.")
    for sender in topics.senders():
        broker.publisher(topics.feedback(sender), schema=ContactReceived | ContactRejected,
                         title=f"receipts and rejections for {sender}",
                         description="What intake tells this sender, and nobody else, about "
                                     "its own contacts: a receipt with the case reference for "
                                     "each accepted, a rejection with every problem for each "
                                     "refused (the original described and held in quarantine). "
                                     "The outcome follows on the same topic from notify.")
    broker.publisher(topics.CASES_OPENED, schema=CaseOpened, title="case opened")
    broker.publisher(topics.urgent(topics.CASES_OPENED), schema=CaseOpened,
                     title="case opened at RED",
                     description="The RED lane of mash.cases.opened.")
    broker.publisher(topics.CASES_CONTACT_ADDED, schema=ContactAdded, title="contact added",
                     description="A contact that joins a case already open: a re-contact about "
                                 "one of its children, or another notification of the same "
                                 "incident.")
    for agency in agencies():
        broker.publisher(topics.enquiries(agency), schema=EnquiryRequested,
                         title=f"enquiry to {agency}")
        broker.publisher(topics.urgent(topics.enquiries(agency)), schema=EnquiryRequested,
                         title=f"RED enquiry to {agency}")


def app() -> AsgiFastStream:
    """For `faststream docs gen --factory`: the app as configured by the environment."""
    return bootstrap(IntakeSettings()).app

