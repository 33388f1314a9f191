"""Decision's wiring: the events about cases in, the sweeper for deadlines
and timescales, the live gauges. ``bootstrap(settings)`` builds it.

Every event about a case (its opening, further contacts, findings, people's
commands, acknowledgements, escalations) is read by ONE consumer, in
batches: they once came through eight consumers that met on the same case
document and retried each other's write conflicts. The RED lanes keep a
consumer of their own, so RED work is never queued behind a GREEN backlog."""

import time
from datetime import datetime
from functools import partial
from typing import Any

from faststream.asgi import AsgiFastStream
from pymongo.errors import OperationFailure

from contracts import topics
from contracts.agencies import agencies
from contracts.casework import COMMAND_SIGNER, CaseChanged, SlaBreached, SlaWarning
from contracts.events import DecisionMade
from contracts.signing import load_public_keys
from plumbing import logs, tracing
from plumbing.consumer import Received, Subscription
from plumbing.guard import Delivery, is_conflict, retry_conflicts
from plumbing.service import Service
from plumbing.unit_of_work import Transaction
from services.decision import metrics, provenance, store
from services.decision.handlers import MODELS, Decider, Incoming
from services.decision.settings import DecisionSettings

MAIN = (topics.CASES_OPENED, topics.CASES_CONTACT_ADDED, topics.FINDINGS,
        topics.DECISION_COMMANDS, topics.OUTCOME_ACKS, topics.OUTCOME_ESCALATIONS)
RED = (topics.urgent(topics.CASES_OPENED), topics.urgent(topics.FINDINGS))


def bootstrap(settings: DecisionSettings) -> Service:
    """The composition root: decision's service, its two consumers and jobs."""
    keys: dict[str, Any] = {}
    decider = Decider(settings.policy(), keys)

    async def refuse_unreadable_command(delivery: Delivery, error: Exception) -> None:
        async with service.uow.transaction() as tx:
            if await decider.unreadable_command(tx, delivery, error):
                return
        await service.guard.dead_letter(delivery, error, 1)

    service = Service(
        "decision",
        settings,
        settings.database,
        on_invalid={topics.DECISION_COMMANDS: refuse_unreadable_command},
        description="Merges every agency's findings into one case record, waiting for all of "
                    "them or the research deadline; proposes RAG and outcome by versioned "
                    "threshold rules; records practitioners' recommendations and managers' "
                    "decisions; tracks every timescale and raises warnings and breaches.",
    )
    decider.log = service.log
    service.on_startup(lambda: store.ensure_indexes(service.db))

    async def load_service_keys() -> None:
        if settings.service_keys_file is None:
            raise RuntimeError("MASH_SERVICE_KEYS_FILE is not set: without the research "
                               "services' public keys no finding can be trusted (`mash keys "
                               "new-service research-<agency>`)")
        keys.update(load_public_keys(settings.service_keys_file))
        missing = [a for a in agencies() if provenance.research_service(a) not in keys]
        if missing:
            service.log.warning("no public key for the research service of %s: their "
                                "findings will be refused", ", ".join(missing))
        if COMMAND_SIGNER not in keys:
            service.log.warning("no public key for the %s: every command will be refused "
                                "(`mash keys new-service %s`)", COMMAND_SIGNER, COMMAND_SIGNER)

    service.on_startup(load_service_keys)
    _declare(service)

    def read(received: Received) -> Incoming:
        return decider.read(received.topic, received.decoded, received.body, received.headers)

    async def handle(tx: Transaction, event: Incoming, received: Received) -> None:
        await decider.handle(tx, event, received.body, received.headers)

    schema = Incoming
    service.consume(Subscription("cases", handle, read), MAIN, group="cases",
                    title="events about a case",
                    description="A case's opening, further contacts, findings (each signed by "
                                "the research service of the agency it names: Kafka headers "
                                "mash-signer research-<agency> and mash-signature, Ed25519 over "
                                "the value; any other is dead-lettered, never merged), people's "
                                "commands (each signed by the desk, which authenticates who "
                                "sends it; any other is refused on the case's history, never "
                                "applied), acknowledgements and escalations of outcomes.",
                    schema=schema)
    service.consume(Subscription("cases.urgent", handle, read), RED, group="cases.urgent",
                    title="events about a RED case",
                    description="The RED lanes of mash.cases.opened and mash.findings.",
                    schema=schema)

    async def sweep_case(case_id: str, now: datetime) -> None:
        async with service.uow.transaction() as tx:
            await decider.sweep_case(tx, case_id, now)

    async def sweep() -> None:
        """Research deadlines and timescales, read from the database, not a
        timer: a restart loses none. A case that keeps meeting write conflicts
        is left for the next sweep; the others are swept now."""
        now = decider.clock()
        for case_id, trace in (await store.due_for_sweep(service.db, now)).items():
            with logs.about(case_id), tracing.continued(trace, "decision sweep"):
                try:
                    await retry_conflicts(partial(sweep_case, case_id, now),
                                          service.guard.policy)
                except OperationFailure as error:
                    if not is_conflict(error):
                        raise
                    service.log.warning("case %s: write conflicts on every try; "
                                        "left for the next sweep", case_id)

    async def observe() -> None:
        """The live picture: open cases, outstanding timescales, agencies awaited."""
        cases = await store.open_cases(service.db, decider.clock(), agencies())
        metrics.publish(metrics.snapshot(cases, decider.clock(), agencies()))

    service.every(settings.sweep_seconds, sweep)
    metrics.start(agencies(), time.time())
    service.every(settings.metrics_seconds, observe)
    return service


def _declare(service: Service) -> None:
    """Declared for the AsyncAPI document: the outbox relay does the publishing."""
    broker = service.broker
    broker.publisher(topics.DECISIONS, schema=DecisionMade, title="decision made",
                     description="Only authorised decisions: by a manager, or by the rules when "
                                 "auto-authorise is on (decided_by = 'rules').")
    broker.publisher(topics.CASE_HISTORY, schema=CaseChanged, title="case changed",
                     description="Every change to a case's decision, with who and why.")
    broker.publisher(topics.SLA_WARNINGS, schema=SlaWarning, title="timescale due soon")
    broker.publisher(topics.SLA_BREACHED, schema=SlaBreached, title="timescale breached")


assert set(MAIN) == set(MODELS), "decision's consumer reads every topic it has a model for"


def app() -> AsgiFastStream:
    """For `faststream docs gen --factory`: the app as configured by the environment."""
    return bootstrap(DecisionSettings()).app
