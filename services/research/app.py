"""One agency's research service; MASH_AGENCY says which.
``bootstrap(settings)`` builds it.

Enquiries are filed in the agency's own database as they arrive (the offset
is committed only once the batch that filed them commits) and answered by a
worker in order of risk: a RED enquiry behind thousands of GREEN ones is
answered next, not last. Kafka is FIFO per partition; the queue in the
database is not, holds any backlog without growing memory, and survives a
restart.

An agency researcher's note (``ResearchNoteCommand``, from the desk on the
agency's own command topic) becomes one of the agency's records and answers
the enquiry again at once, under the same policy and audit: the new finding
has an id of its own and names the note as its cause. A note on an enquiry
not yet answered answers it then (and the worker does not answer it again).
"""

import asyncio
import contextlib
from typing import Any

from faststream.asgi import AsgiFastStream

from contracts import topics
from contracts.agencies import is_agency
from contracts.casework import COMMAND_SIGNER, ResearchNoteCommand
from contracts.events import EnquiryRequested, FindingReported
from contracts.signing import load_public_keys
from plumbing.consumer import Received, Subscription
from plumbing.guard import retry_conflicts
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
from services.research import metrics, store
from services.research.handlers import Researcher
from services.research.policy import load_policy
from services.research.settings import ResearchSettings


def bootstrap(settings: ResearchSettings) -> Service:
    """The composition root: one agency's service, its consumers and worker."""
    if not is_agency(settings.agency):
        raise SystemExit(f"MASH_AGENCY={settings.agency!r} is not a configured agency")
    agency = settings.agency
    keys: dict[str, Any] = {}
    researcher = Researcher(agency, load_policy(agency, settings.policy_dir), keys)
    service = Service(
        researcher.name,
        settings,
        settings.database,
        description=f"Answers MASH enquiries from {agency}'s own records, highest risk "
                    "first, disclosing what its policy allows and auditing every disclosure.",
    )
    researcher.log = service.log
    work = asyncio.Event()

    async def prepare() -> None:
        if settings.signing_key_file is None:
            raise RuntimeError(
                "MASH_SIGNING_KEY_FILE is not set: decision takes only findings signed by "
                f"research-{agency} (`mash keys new-service research-{agency}`)")
        await store.ensure_indexes(service.db)
        seeded = await store.seed_if_empty(service.db, agency, settings.seed_population,
                                           settings.seed)
        if seeded:
            service.log.info("seeded %d synthetic %s records", seeded, agency)
        service.log.info("disclosure policy %s", researcher.policy.version)

    async def load_service_keys() -> None:
        """Without the desk's key the service still answers enquiries; it
        refuses every note, and says so now rather than at the first one."""
        if settings.service_keys_file is None:
            service.log.warning("MASH_SERVICE_KEYS_FILE is not set: every researcher's note "
                                "will be refused (no public key for the %s)", COMMAND_SIGNER)
            return
        keys.update(load_public_keys(settings.service_keys_file))
        if COMMAND_SIGNER not in keys:
            service.log.warning("no public key for the %s in %s: every researcher's note will "
                                "be refused (`mash keys new-service %s`)", COMMAND_SIGNER,
                                settings.service_keys_file, COMMAND_SIGNER)

    service.on_startup(prepare)
    service.on_startup(load_service_keys)
    broker = service.broker
    broker.publisher(topics.FINDINGS, schema=FindingReported, title=f"finding from {agency}")
    broker.publisher(topics.urgent(topics.FINDINGS), schema=FindingReported,
                     title=f"finding on a RED case from {agency}")

    async def on_enquiry(tx: Transaction, enquiry: EnquiryRequested | ResearchNoteCommand,
                         received: Received) -> None:
        if isinstance(enquiry, ResearchNoteCommand):
            await researcher.note(tx, enquiry, received.body, received.headers)
        elif await researcher.enquiry(tx, enquiry):
            tx.after_commit(work.set)

    def read(received: Received) -> EnquiryRequested | ResearchNoteCommand:
        if received.topic == notes:
            return ResearchNoteCommand.model_validate(received.decoded)
        return EnquiryRequested.model_validate(received.decoded)

    # Two consumers: every consumer polls the broker, and the embedded one
    # spends a core's tenth on a few dozen idle ones. Researchers' notes are
    # few and come with the enquiries; the RED lane keeps its own, so a RED
    # enquiry is filed whatever waits on the main topic.
    main, lane = topics.lanes(topics.enquiries(agency))
    notes = topics.research_commands(agency)
    service.consume(
        Subscription("enquiries", on_enquiry, read), [main, notes], group=None,
        title=f"enquiries to {agency} and its researchers' notes",
        description=f"Enquiries to {agency}, filed to answer in order of risk; and an agency "
                    "researcher's note, each signed by the desk, which authenticates the "
                    "researcher (Kafka headers mash-signer desk and mash-signature, Ed25519 "
                    "over the value), from a researcher of this agency about a person its "
                    "enquiry on the case names; any other is refused on the audit chain, "
                    "never applied.",
        schema=EnquiryRequested | ResearchNoteCommand)
    service.consume(Subscription("enquiries.urgent", on_enquiry, read), [lane],
                    group="urgent", title=f"RED enquiry to {agency}", schema=EnquiryRequested)

    async def answer_some() -> int:
        async with service.uow.transaction() as tx:
            return await researcher.answer_waiting(tx, settings.answer_batch)

    async def answer_waiting() -> None:
        """Wait for work (woken by a new enquiry, or polling), then drain the
        queue, most urgent first, a batch per transaction. A write conflict
        (another replica took the same enquiries first) is tried again after
        a short random wait."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(work.wait(), timeout=settings.queue_poll_seconds)
        work.clear()
        while await store.any_pending(service.db):
            if not await retry_conflicts(answer_some, service.guard.policy):
                break

    async def observe_queue() -> None:
        metrics.QUEUE_DEPTH.labels(agency=agency).set(await store.waiting(service.db))

    service.every(0.0, answer_waiting)
    service.every(settings.metrics_seconds, observe_queue)
    return service


def app() -> AsgiFastStream:
    """For `faststream docs gen --factory`: the app as configured by the environment."""
    return bootstrap(ResearchSettings()).app
