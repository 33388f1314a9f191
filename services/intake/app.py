"""Intake's FastStream app: thin wiring around the domain."""

from datetime import timedelta

from contracts import topics
from contracts.agencies import agencies
from contracts.envelope import utc_now
from contracts.events import CaseOpened, ContactRejected, ContactSubmitted, EnquiryRequested
from plumbing.guard import Delivery
from plumbing.service import Service
from plumbing.wire import plain_errors, preserve
from services.intake import domain, store
from services.intake.settings import IntakeSettings

settings = IntakeSettings()
windows = domain.ResearchWindows(
    red=timedelta(seconds=settings.research_window_red_seconds),
    amber=timedelta(seconds=settings.research_window_amber_seconds),
    green=timedelta(seconds=settings.research_window_green_seconds),
)


async def reject(delivery: Delivery, error: Exception) -> None:
    original, encoding = preserve(delivery.raw)
    rejected = domain.reject(
        delivery.raw, plain_errors(error), topic=delivery.topic, partition=delivery.partition,
        offset=delivery.offset, fingerprint=delivery.fingerprint, original=original,
        encoding=encoding, now=utc_now(),
    )
    async with service.uow.transaction() as tx:
        if await tx.already_processed(rejected.id):
            return
        tx.mark_processed(rejected.id)
        await store.save_rejection(tx, rejected)
        tx.emit(topics.CONTACTS_REJECTED, rejected)
    service.log.info("contact rejected at %s/%d/%d: %d problem(s)", delivery.topic,
                     delivery.partition, delivery.offset, len(rejected.data.problems))


service = Service(
    "intake",
    settings,
    settings.database,
    description="Normalises contacts, rejects unusable ones with reasons, opens cases and "
                "sends one enquiry to every agency.",
    on_invalid={topics.CONTACTS_SUBMITTED: reject},
)
service.on_startup(lambda: store.ensure_indexes(service.db))
broker = service.broker
app = service.app

# Declared for the AsyncAPI document: the outbox relay does the publishing.
broker.publisher(topics.CONTACTS_REJECTED, schema=ContactRejected, title="contact rejected",
                 description="A contact that could not be used, with every problem in plain "
                             "words and the original message.")
broker.publisher(topics.CASES_OPENED, schema=CaseOpened, title="case opened")
for _agency in agencies():
    broker.publisher(topics.enquiries(_agency), schema=EnquiryRequested,
                     title=f"enquiry to {_agency}")


@broker.subscriber(topics.CONTACTS_SUBMITTED, **service.subscription(), title="contact submitted",
                   description="Agencies publish contacts here as CloudEvents (structured mode).")
async def on_contact(event: ContactSubmitted) -> None:
    contact = event.data
    async with service.uow.transaction() as tx:
        if await tx.already_processed(event.id):
            return
        tx.mark_processed(event.id)
        existing = await store.case_for_reference(
            tx, contact.referrer.agency, contact.referrer_reference
        )
        if existing is not None:
            service.log.info("resubmission of %s joins %s", contact.contact_id, existing)
            return
        opened, enquiries = domain.open_case(event, agencies(), windows, utc_now())
        await store.save_case(tx, opened)
        tx.emit(topics.CASES_OPENED, opened)
        for enquiry in enquiries:
            tx.emit(topics.enquiries(enquiry.data.agency), enquiry)
    service.log.info("case %s opened at %s for contact %s", opened.data.case_id,
                     opened.data.triage_rag.value, contact.contact_id)
