"""What the desk does, over a transaction: fold an event into its case's
view; publish a person's command; put a person's view of a case on the
audit chain."""

from collections.abc import Callable
from datetime import datetime

from contracts import topics
from contracts.caseview import CaseView
from contracts.casework import Actor, DecideCommand, RecommendCommand, ResearchNoteCommand
from plumbing.unit_of_work import Transaction
from services.desk import domain, store

Fold = Callable[[CaseView], CaseView]


async def project(tx: Transaction, case_id: str, fold: Fold, now: datetime) -> CaseView:
    """One event into its case's view. Every fold is idempotent (a line of
    history is added once, a finding or decision replaces its like), so a
    redelivery changes nothing without a processed-message record: one
    write fewer for every event on the hub."""
    view = fold(await store.load(tx, case_id) or domain.new(case_id))
    await store.save(tx, view, now)
    return view


def send_command(tx: Transaction, command: RecommendCommand | DecideCommand) -> None:
    """A person's command, signed by the desk when the outbox publishes it
    (the transaction signs with the desk's key), and on the desk's chain."""
    data = command.data
    tx.emit(topics.DECISION_COMMANDS, command, key=data.case_id)
    what: dict[str, object] = {"command_id": command.id, "type": command.type,
                               "role": data.actor.role.value, "rag": data.rag,
                               "outcome": data.outcome}
    if isinstance(command, DecideCommand):
        what["action"] = command.data.action
    tx.audit(actor=data.actor.actor_id, action="command sent", case_id=data.case_id, what=what)


def send_note(tx: Transaction, command: ResearchNoteCommand) -> None:
    """A researcher's note, to their own agency's research service alone."""
    data = command.data
    tx.emit(topics.research_commands(data.agency), command, key=data.case_id)
    tx.audit(actor=data.actor.actor_id, action="note sent", case_id=data.case_id,
             what={"command_id": command.id, "agency": data.agency,
                   "person_ref": data.person_ref, "category": data.category,
                   "risk": data.risk})


def viewed(tx: Transaction, actor: Actor, case_id: str, page: str) -> None:
    """Who opened which case, when: every view, beside every action."""
    tx.audit(actor=actor.actor_id, action="case viewed", case_id=case_id,
             what={"role": actor.role.value, "agency": actor.agency, "page": page})
