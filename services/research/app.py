"""One agency's research service. MASH_AGENCY says which."""

from contracts import topics
from contracts.agencies import is_agency
from contracts.envelope import utc_now
from contracts.events import EnquiryRequested, FindingReported
from plumbing.service import Service
from services.research import domain, store
from services.research.settings import ResearchSettings

settings = ResearchSettings()
if not is_agency(settings.agency):
    raise SystemExit(f"MASH_AGENCY={settings.agency!r} is not a configured agency")

service = Service(
    f"research-{settings.agency}",
    settings,
    settings.database,
    description=f"Answers MASH enquiries from {settings.agency}'s own records, disclosing "
                "what its policy allows and auditing every disclosure.",
)
broker = service.broker
app = service.app


async def _prepare() -> None:
    await store.ensure_indexes(service.db)
    seeded = await store.seed_if_empty(service.db, settings.agency, settings.seed_population,
                                       settings.seed)
    if seeded:
        service.log.info("seeded %d synthetic %s records", seeded, settings.agency)


service.on_startup(_prepare)
broker.publisher(topics.FINDINGS, schema=FindingReported, title=f"finding from {settings.agency}")


@broker.subscriber(topics.enquiries(settings.agency), **service.subscription(),
                   title=f"enquiry to {settings.agency}")
async def on_enquiry(enquiry: EnquiryRequested) -> None:
    async with service.uow.transaction() as tx:
        if await tx.already_processed(enquiry.id):
            return
        tx.mark_processed(enquiry.id)
        records = await store.records_for(tx, enquiry)
        finding, used = domain.answer(enquiry, records, utc_now())
        await store.audit_disclosure(tx, enquiry, finding, used)
        tx.emit(topics.FINDINGS, finding)
    service.log.info("case %s: %s (%d item(s))", finding.data.case_id, finding.data.result,
                     len(finding.data.items))
