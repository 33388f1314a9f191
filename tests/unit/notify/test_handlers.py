"""Notify's orchestration, driven through the in-memory unit of work: a
decision goes to its outcome's team and back to each contact's own sender
alone, once; an acknowledgement counts only for an outcome sent here; an
outcome not acknowledged in time is escalated once. No broker, no database
server."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import topics
from contracts.casework import AcknowledgementData, OutcomeAcknowledged, OutcomeEscalated
from contracts.contact import Rag
from contracts.events import (
    DecisionData,
    DecisionMade,
    Destination,
    Outcome,
    OutcomeRouted,
    Reason,
    Referral,
    ReferrerFeedback,
)
from services.notify import store
from services.notify.handlers import Notifier
from tests.fakes import FakeUnitOfWork

RECEIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DECIDED = RECEIVED + timedelta(hours=1)


@pytest.fixture
def notifier() -> Notifier:
    return Notifier(ack_window=timedelta(minutes=30))


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def decision(outcome: Outcome = Outcome.EARLY_HELP, agency: str = "police",
             referrals: list[Referral] | None = None) -> DecisionMade:
    return DecisionMade.new(
        DecisionData(case_id="CASE-1", contact_ids=["C-1"], rag=Rag.AMBER, outcome=outcome,
                     level_of_need=2, reasons=[Reason(rule_id="L2", text="why")],
                     rule_set_version="v", referrer_rag=None, agencies_answered=["police"],
                     agencies_missing=[], decided_by="mgr-bob", referrer_agency=agency,
                     referrer_reference="REF-1", children=["child-0 (A.S.)"],
                     contact_received_at=RECEIVED, decided_at=DECIDED,
                     referrals=referrals or []),
        id="dec-1", source="/mash/decision", subject="CASE-1", correlation_id="C-1")


def ack(outcome_id: str, ack_id: str = "ack-1") -> OutcomeAcknowledged:
    return OutcomeAcknowledged.new(
        AcknowledgementData(outcome_id=outcome_id, case_id="CASE-1",
                            destination=Destination.EARLY_HELP, team="eh-north",
                            acknowledged_at=DECIDED + timedelta(minutes=5)),
        id=ack_id, source="/mash/teams", subject="CASE-1", correlation_id="C-1")


async def decided(uow: FakeUnitOfWork, notifier: Notifier, event: DecisionMade) -> None:
    async with uow.transaction() as tx:
        await notifier.decision(tx, event)


async def acknowledged(uow: FakeUnitOfWork, notifier: Notifier,
                       event: OutcomeAcknowledged) -> None:
    async with uow.transaction() as tx:
        await notifier.acknowledged(tx, event)


def routed(uow: FakeUnitOfWork) -> OutcomeRouted:
    [outcome] = [e for e in uow.events() if isinstance(e, OutcomeRouted)]
    return outcome


# --- routing -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("outcome", "topic"),
    [
        (Outcome.STRATEGY_DISCUSSION, topics.OUTCOMES_SOCIAL_CARE),
        (Outcome.EARLY_HELP, topics.OUTCOMES_EARLY_HELP),
        (Outcome.NFA, topics.OUTCOMES_NFA),
    ],
)
async def test_a_decision_goes_to_its_outcomes_team_and_back_to_the_referrer_alone(
        uow: FakeUnitOfWork, notifier: Notifier, outcome: Outcome, topic: str) -> None:
    await decided(uow, notifier, decision(outcome))

    assert uow.topics() == [topic, topics.feedback("police")]
    outcome_event = routed(uow)
    assert (outcome_event.data.outcome, outcome_event.causation_id) == (outcome, "dec-1")
    assert outcome_event.data.ack_by == DECIDED + timedelta(minutes=30)
    [told] = [e for e in uow.events() if isinstance(e, ReferrerFeedback)]
    assert (told.data.sender, told.data.referrer_reference) == ("police", "REF-1")
    assert {e.key for e in uow.outbox} == {"CASE-1"}
    assert uow.actions() == ["outcome delivered"]
    [note] = [n for notes in uow.audit.values() for n in notes]
    assert (note.actor, note.case_id) == ("notify", "CASE-1")
    assert note.what["outcome_id"] == outcome_event.id
    assert note.what["topic"] == topic
    assert uow.claimed == {"dec-1"}
    assert await uow.db.deliveries.count_documents({}) == 2


async def test_each_contacts_own_sender_hears_back_and_nobody_else(
        uow: FakeUnitOfWork, notifier: Notifier) -> None:
    referrals = [Referral(contact_id="C-1", referrer_reference="REF-1", agency="police",
                          sender="police"),
                 Referral(contact_id="C-2", referrer_reference="EH-2", agency="early-help",
                          sender="early-help", kind="early-help-request"),
                 Referral(contact_id="C-3", referrer_reference="PUB-3", agency="public",
                          sender=None)]
    await decided(uow, notifier, decision(referrals=referrals))

    assert uow.topics() == [topics.OUTCOMES_EARLY_HELP, topics.feedback("police"),
                            topics.feedback("early-help")]
    told = [e for e in uow.events() if isinstance(e, ReferrerFeedback)]
    assert [(e.data.sender, e.data.contact_id) for e in told] == \
        [("police", "C-1"), ("early-help", "C-2")]


async def test_a_public_referrer_has_no_topic_to_hear_back_on(
        uow: FakeUnitOfWork, notifier: Notifier) -> None:
    await decided(uow, notifier, decision(agency="public"))
    assert uow.topics() == [topics.OUTCOMES_EARLY_HELP]


async def test_a_decision_delivered_again_sends_nothing(uow: FakeUnitOfWork,
                                                        notifier: Notifier) -> None:
    await decided(uow, notifier, decision())
    outbox, audit = list(uow.outbox), uow.actions()

    await decided(uow, notifier, decision())

    assert uow.outbox == outbox
    assert uow.actions() == audit
    assert await uow.db.deliveries.count_documents({}) == 2
    assert (uow.commits, uow.aborts) == (2, 0)


# --- acknowledgement and escalation -----------------------------------------------------

async def test_an_ack_for_an_outcome_not_sent_here_is_not_audited(
        uow: FakeUnitOfWork, notifier: Notifier) -> None:
    await acknowledged(uow, notifier, ack("out-unknown"))

    assert uow.actions() == []
    assert uow.outbox == []
    assert uow.claimed == {"ack-1"}


async def test_an_ack_for_feedback_rather_than_an_outcome_is_not_audited(
        uow: FakeUnitOfWork, notifier: Notifier) -> None:
    await decided(uow, notifier, decision())
    [told] = [e for e in uow.events() if isinstance(e, ReferrerFeedback)]

    await acknowledged(uow, notifier, ack(told.id))

    assert uow.actions() == ["outcome delivered"]


async def test_the_first_ack_of_an_outcome_is_audited_once(uow: FakeUnitOfWork,
                                                           notifier: Notifier) -> None:
    await decided(uow, notifier, decision())
    outcome_id = routed(uow).id

    await acknowledged(uow, notifier, ack(outcome_id))
    await acknowledged(uow, notifier, ack(outcome_id))  # redelivered
    await acknowledged(uow, notifier, ack(outcome_id, ack_id="ack-2"))  # another team member

    assert uow.actions() == ["outcome delivered", "outcome acknowledged"]
    [note] = [n for notes in uow.audit.values() for n in notes
              if n.action == "outcome acknowledged"]
    assert (note.actor, note.what) == ("eh-north", {"outcome_id": outcome_id, "ack_id": "ack-1"})
    doc = await uow.db.deliveries.find_one({"_id": outcome_id})
    assert doc["acked_by"] == "eh-north"


async def escalate_due(uow: FakeUnitOfWork, notifier: Notifier, now: datetime) -> list[bool]:
    """What the escalation job does: each overdue outcome in a transaction of its own."""
    done = []
    for doc in await store.unacknowledged(uow.db, now):
        async with uow.transaction() as tx:
            done.append(await notifier.escalate(tx, doc, now))
    return done


async def test_an_outcome_not_acknowledged_in_time_is_escalated_once(
        uow: FakeUnitOfWork, notifier: Notifier) -> None:
    await decided(uow, notifier, decision())
    outcome = routed(uow)
    late = outcome.data.ack_by + timedelta(seconds=1)
    before = len(uow.outbox)

    assert await escalate_due(uow, notifier, outcome.data.ack_by - timedelta(seconds=1)) == []
    assert await escalate_due(uow, notifier, late) == [True]
    assert await escalate_due(uow, notifier, late + timedelta(hours=1)) == []

    [sent] = uow.outbox[before:]
    assert sent.topic == topics.OUTCOME_ESCALATIONS
    assert isinstance(sent.event, OutcomeEscalated)
    assert (sent.event.data.outcome_id, sent.event.causation_id) == (outcome.id, outcome.id)
    assert uow.actions() == ["outcome delivered", "outcome escalated"]


async def test_an_acknowledged_outcome_is_never_escalated(uow: FakeUnitOfWork,
                                                          notifier: Notifier) -> None:
    await decided(uow, notifier, decision())
    outcome = routed(uow)
    await acknowledged(uow, notifier, ack(outcome.id))
    doc: dict[str, Any] | None = await uow.db.deliveries.find_one({"_id": outcome.id})
    assert doc is not None

    async with uow.transaction() as tx:
        assert not await notifier.escalate(tx, doc, outcome.data.ack_by + timedelta(hours=1))
    assert OutcomeEscalated.event_type not in [e.type for e in uow.events()]
