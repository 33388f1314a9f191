"""The desk's wiring: the events that feed its case views, its pages, and
one port for pages, /metrics and /health."""

from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts import topics
from contracts.agencies import agencies
from contracts.casework import CaseChanged, ResearchNoteCommand, SlaBreached, SlaWarning
from contracts.envelope import utc_now
from contracts.events import CaseOpened, ContactAdded, DecisionMade, FindingReported
from contracts.signing import SIGNATURE_HEADER, SIGNER_HEADER, load_public_keys, signature_valid
from plumbing.consumer import Received, Subscription
from plumbing.guard import Unusable
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
from services.desk import domain, handlers, metrics, store
from services.desk.pages import Desk
from services.desk.settings import DeskSettings

CaseEvent = (CaseOpened | ContactAdded | FindingReported | CaseChanged | DecisionMade
             | SlaWarning | SlaBreached)
READS: dict[str, type[CaseEvent]] = {cls.event_type: cls for cls in (
    CaseOpened, ContactAdded, FindingReported, CaseChanged, DecisionMade, SlaWarning,
    SlaBreached)}


def bootstrap(settings: DeskSettings) -> tuple[Service, Desk]:
    """The composition root: the service that reads events and the pages
    that read its views and publish commands."""
    windows = settings.windows()
    service = Service(
        "desk", settings, settings.database,
        description="The MASH desk: social workers, managers and agency researchers work "
                    "cases in a browser. Keeps its own view of every case from public events "
                    "and acts only by publishing signed commands, each carrying the person "
                    "it authenticated.")
    service.on_startup(lambda: store.ensure_indexes(service.db))
    research_keys: dict[str, Ed25519PublicKey] = {}

    async def load_keys() -> None:
        if settings.service_keys_file is not None:
            research_keys.update(load_public_keys(settings.service_keys_file))
        if settings.users_file is None and settings.oidc_issuer is None:
            service.log.warning("no accounts (MASH_USERS_FILE) and no OpenID Connect "
                                "(MASH_OIDC_ISSUER): nobody can sign in")

    service.on_startup(load_keys)
    broker = service.broker
    for agency in agencies():
        broker.publisher(topics.research_commands(agency), schema=ResearchNoteCommand,
                         title=f"a {agency} researcher's note",
                         description=f"Signed by the desk; read by research-{agency} alone, "
                                     "which records it and answers the enquiry again.")
    broker.publisher(topics.DECISION_COMMANDS, title="recommend or decide",
                     description="Each signed by the desk (mash-signer: desk) and carrying "
                                 "the person the desk authenticated, in their role.")

    def fold_of(event: CaseEvent) -> handlers.Fold:
        match event:
            case CaseOpened():
                return partial(domain.opened, data=event.data, windows=windows)
            case ContactAdded():
                return partial(domain.contact_added, data=event.data, windows=windows)
            case FindingReported():
                return partial(domain.finding, data=event.data, windows=windows,
                               caused_by=event.causation_id)
            case CaseChanged():
                return partial(domain.changed, event_id=event.id, data=event.data,
                               caused_by=event.causation_id, windows=windows)
            case DecisionMade():
                return partial(domain.decided, data=event.data, windows=windows)
            case SlaWarning() | SlaBreached():
                return partial(domain.timescale, data=event.data,
                               breached=isinstance(event, SlaBreached), windows=windows)

    def read(received: Received) -> CaseEvent | None:
        """The event, or None for a finding its agency did not sign (not shown)."""
        body = received.decoded
        kind = body.get("type") if isinstance(body, dict) else None
        known = READS.get(kind) if isinstance(kind, str) else None
        if known is None:
            raise Unusable([("type", f"not an event the desk reads: {str(kind)[:60]!r}")])
        event = known.model_validate(body)
        if isinstance(event, FindingReported):
            signer = f"research-{event.data.agency}"
            headers = received.headers
            if headers.get(SIGNER_HEADER) != signer or not signature_valid(
                    research_keys, signer, headers.get(SIGNATURE_HEADER, ""), received.body):
                service.log.warning("finding %s for case %s not signed by %s: not shown",
                                    event.id[:40], event.data.case_id, signer)
                return None
        return event

    async def fold(tx: Transaction, event: CaseEvent | None, _: Received) -> None:
        if event is not None:
            await handlers.project(tx, event.data.case_id, fold_of(event), utc_now())

    # Two consumers, not one a topic: every consumer polls the broker, and
    # the desk's nine cost the embedded broker more than the desk did. The
    # RED lanes keep a consumer of their own, so RED work reaches the tray
    # whatever waits behind it. Each handles what a poll returns in one
    # transaction (plumbing.consumer).
    main = (topics.CASES_OPENED, topics.CASES_CONTACT_ADDED, topics.FINDINGS,
            topics.CASE_HISTORY, topics.DECISIONS, topics.SLA_WARNINGS, topics.SLA_BREACHED)
    urgent = (topics.urgent(topics.CASES_OPENED), topics.urgent(topics.FINDINGS))
    described = ("Cases opened, contacts added, findings (shown only when signed by the "
                 "research service of the agency they name), the case's history, decisions "
                 "and timescales: each folded into its case's view.")
    service.consume(Subscription("events", fold, read), main, group="events",
                    title="a case's events", description=described, schema=CaseEvent)
    service.consume(Subscription("events.urgent", fold, read), urgent, group="events.urgent",
                    title="a case's events (RED lanes)", description=described,
                    schema=CaseEvent)

    async def purge() -> None:
        await store.purge_sessions(service.db, utc_now() - settings.idle)

    service.every(300, purge)

    async def observe() -> None:
        metrics.CASE_VIEWS.set(await store.open_cases(service.db))

    service.every(settings.metrics_seconds, observe)
    desk = Desk(settings, service.uow, service.db)
    # The tray's index is kept warm: a page finds it loaded and nearly current.
    service.every(2.0, lambda: desk.tray_index.keep_current(service.db))
    return service, desk


settings = DeskSettings()
service, desk = bootstrap(settings)
web = desk.app()
# FastStream's app: the subscribers' lifespan, /metrics, /health, and the
# AsyncAPI document (scripts/export_asyncapi.py).
streams = service.app


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """One port: the service's lifespan, /metrics and /health to FastStream's
    app; every page to the desk."""
    if scope["type"] == "lifespan" or scope.get("path") in ("/metrics", "/health"):
        await streams(scope, receive, send)
    else:
        await web(scope, receive, send)
