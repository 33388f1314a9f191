"""Intake's FastStream app: thin wiring around the domain."""

from datetime import timedelta

from contracts import topics
from contracts.agencies import agencies
from contracts.envelope import utc_now
from contracts.events import CaseOpened, ContactAdded, ContactRejected, EnquiryRequested
from contracts.formats import Submission
from plumbing.guard import Delivery
from plumbing.service import Service
from plumbing.wire import preserve
from services.intake import domain, formats, problems, store
from services.intake.person_index import Thresholds
from services.intake.settings import IntakeSettings

settings = IntakeSettings()
windows = domain.ResearchWindows(
    red=timedelta(seconds=settings.research_window_red_seconds),
    amber=timedelta(seconds=settings.research_window_amber_seconds),
    green=timedelta(seconds=settings.research_window_green_seconds),
)
thresholds = Thresholds(link=settings.person_link_threshold,
                        possible=settings.person_possible_threshold)


async def reject(delivery: Delivery, error: Exception) -> None:
    original, encoding = preserve(delivery.raw)
    rejected = domain.reject(
        delivery.raw, problems.plain(error), topic=delivery.topic, partition=delivery.partition,
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
broker.publisher(topics.CASES_CONTACT_ADDED, schema=ContactAdded, title="contact added",
                 description="A contact that joins a case already open: a re-contact about "
                             "one of its children, or another notification of the same incident.")
for _agency in agencies():
    broker.publisher(topics.enquiries(_agency), schema=EnquiryRequested,
                     title=f"enquiry to {_agency}")


@broker.subscriber(topics.CONTACTS_SUBMITTED, **service.subscription(), title="contact submitted",
                   description="Agencies publish contacts here as CloudEvents (structured mode): "
                               "mash.contact.submitted (canonical) or an agency format named by "
                               "its type; see contracts/schemas/formats/.")
async def on_contact(submission: Submission) -> None:
    # Any format to the canonical contact; a ValidationError is a rejection.
    event = formats.parse(submission.model_dump())
    contact = event.data
    agency, reference = contact.referrer.agency, contact.referrer_reference
    now = utc_now()
    opened_since = store.since(now, days=settings.open_case_days)
    async with service.uow.transaction() as tx:
        if await tx.already_processed(event.id):
            return
        tx.mark_processed(event.id)
        existing = await store.case_for_reference(tx, agency, reference)
        if existing is not None:
            await store.record_resubmission(tx, event.id, existing, agency, reference,
                                            contact.contact_id, now)
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
        if joins is not None:
            case_id, reason = joins
            await store.join_case(tx, case_id, agency=agency, reference=reference,
                                  contact_id=contact.contact_id, reason=reason,
                                  children=who.children, incident=incident, at=now)
            await store.save_people(tx, who, case_id, now)
            tx.emit(topics.CASES_CONTACT_ADDED, domain.contact_added(event, case_id, reason, now))
        else:
            opened, enquiries = domain.open_case(event, agencies(), windows, now)
            case_id = opened.data.case_id
            await store.save_case(tx, opened, who.children, incident, household)
            await store.save_people(tx, who, case_id, now)
            tx.emit(topics.CASES_OPENED, opened)
            for enquiry in enquiries:
                tx.emit(topics.enquiries(enquiry.data.agency), enquiry)
    if joins is not None:
        service.log.info("contact %s joined case %s (%s)", contact.contact_id, case_id, joins[1])
    else:
        service.log.info("case %s opened at %s for contact %s", case_id,
                         opened.data.triage_rag.value, contact.contact_id)
