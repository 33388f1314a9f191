"""Decision's orchestration, driven through the in-memory unit of work: a
case gathers every agency's signed finding and is proposed (or decided),
each event takes effect once, and what is not from whom it must be is
refused. No broker, no database server."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import topics
from contracts.agencies import agencies
from contracts.casework import (
    COMMAND_SIGNER,
    AcknowledgementData,
    Actor,
    CaseChanged,
    DecideCommand,
    EscalationData,
    HistoryKind,
    OutcomeAcknowledged,
    OutcomeEscalated,
    RecommendationData,
    RecommendCommand,
    Role,
)
from contracts.contact import Rag
from contracts.envelope import Event, derived_id
from contracts.events import (
    CaseOpened,
    CaseOpenedData,
    ContactAdded,
    ContactAddedData,
    DecisionMade,
    Destination,
    FindingData,
    FindingReported,
    Outcome,
)
from contracts.signing import new_key, sign
from plumbing.guard import Delivery, Unusable
from services.decision import domain
from services.decision.domain import Policy
from services.decision.handlers import Decider
from tests.factories import contact
from tests.fakes import FakeUnitOfWork

AGENCIES = agencies()
RESEARCH = {agency: new_key() for agency in AGENCIES}
DESK = new_key()
KEYS = {**{f"research-{a}": key.public_key() for a, key in RESEARCH.items()},
        COMMAND_SIGNER: DESK.public_key()}
RECEIVED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
NOW = RECEIVED + timedelta(minutes=20)
CASE = "CASE-0001"
SW = Actor(actor_id="sw-ann", role=Role.SOCIAL_WORKER)


def decider(policy: Policy | None = None) -> Decider:
    return Decider(policy or Policy(auto_authorise=False), KEYS, clock=lambda: NOW)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def opened(case_id: str = CASE) -> CaseOpened:
    c = contact(received_at=RECEIVED.isoformat())
    return CaseOpened.new(
        CaseOpenedData(case_id=case_id, contact=c, sender="police",
                       expected_agencies=list(AGENCIES), triage_rag=Rag.AMBER,
                       opened_at=RECEIVED, research_deadline=RECEIVED + timedelta(hours=6)),
        id=f"opened-{case_id}", source="/mash/intake", subject=case_id,
        correlation_id=c.contact_id, time=RECEIVED)


def finding(agency: str, case_id: str = CASE) -> FindingReported:
    return FindingReported.new(
        FindingData(enquiry_id=f"enq-{agency}", case_id=case_id, agency=agency,
                    result="no-trace", disclosure_level="full", lawful_basis="DPA 2018",
                    answered_at=NOW),
        id=f"finding-{agency}-{case_id}", source=f"/mash/research/{agency}", subject=case_id,
        correlation_id="C-0001", time=NOW)


def recommend(case_id: str = CASE, cmd_id: str = "cmd-1") -> RecommendCommand:
    return RecommendCommand.new(
        RecommendationData(case_id=case_id, actor=SW, rag=Rag.AMBER, outcome=Outcome.EARLY_HELP,
                           rationale="Second incident this month; mother asks for help."),
        id=cmd_id, source="/mash/desk", subject=case_id, correlation_id="C-0001")


def by_research(event: FindingReported, signer: str | None = None) -> dict[str, str]:
    """Signed as the research service of the agency it names (or of ``signer``)."""
    agency = signer or event.data.agency
    return sign(RESEARCH[agency], f"research-{agency}", event.to_bytes())


def by_desk(event: RecommendCommand) -> dict[str, str]:
    return sign(DESK, COMMAND_SIGNER, event.to_bytes())


async def deliver(uow: FakeUnitOfWork, d: Decider, topic: str, event: Event[Any],
                  headers: Mapping[str, str] | None = None) -> None:
    """As the consumer does: the bytes read back, then handled in one transaction."""
    body = event.to_bytes()
    read = d.read(topic, json.loads(body), body, headers or {})
    async with uow.transaction() as tx:
        await d.handle(tx, read, body, headers or {})


async def send(uow: FakeUnitOfWork, d: Decider, topic: str, event: Event[Any],
               headers: Mapping[str, str] | None = None) -> None:
    """A command, acknowledgement or escalation, read as the consumer reads it
    and handed to its own handler: ``Decider.handle`` cannot dispatch these
    (see test_handle_dispatches_commands_acks_and_escalations)."""
    body = event.to_bytes()
    read = d.read(topic, json.loads(body), body, headers or {})
    async with uow.transaction() as tx:
        if isinstance(read, RecommendCommand | DecideCommand):
            await d.command(tx, read, body, headers or {})
        elif isinstance(read, OutcomeAcknowledged):
            await d.acknowledged(tx, read)
        else:
            assert isinstance(read, OutcomeEscalated)
            await d.escalated(tx, read)


async def gathered(uow: FakeUnitOfWork, d: Decider, *, twice: bool = False) -> None:
    """The case opened, then every agency's finding (each delivered twice if asked)."""
    for _ in range(2 if twice else 1):
        await deliver(uow, d, topics.CASES_OPENED, opened())
    for agency in AGENCIES:
        event = finding(agency)
        for _ in range(2 if twice else 1):
            await deliver(uow, d, topics.FINDINGS, event, by_research(event))


def of(uow: FakeUnitOfWork, kind: type[Any]) -> list[Any]:
    return [e.event for e in uow.outbox if isinstance(e.event, kind)]


# --- gathering to a proposal or a decision --------------------------------------------

async def test_a_case_waits_for_every_agency_then_the_rules_propose(uow: FakeUnitOfWork) -> None:
    d = decider()
    await deliver(uow, d, topics.CASES_OPENED, opened())
    for agency in AGENCIES[:-1]:
        event = finding(agency)
        await deliver(uow, d, topics.FINDINGS, event, by_research(event))
    assert uow.outbox == [], "still gathering: nothing to say yet"

    last = finding(AGENCIES[-1])
    await deliver(uow, d, topics.FINDINGS, last, by_research(last))

    assert uow.topics() == [topics.CASE_HISTORY]
    [proposed] = of(uow, CaseChanged)
    assert proposed.data.kind is HistoryKind.PROPOSED
    assert proposed.data.case_id == CASE
    assert proposed.causation_id == last.id
    assert not of(uow, DecisionMade), "without auto-authorise nothing goes to notify"
    assert uow.actions() == ["proposed"]
    [note] = [n for notes in uow.audit.values() for n in notes]
    assert (note.actor, note.case_id) == ("rules", CASE)
    assert note.what["event_id"] == proposed.id
    assert uow.claimed == {opened().id, *(finding(a).id for a in AGENCIES)}
    doc = await uow.db.cases.find_one({"_id": CASE})
    assert doc["state"] == "proposed"


async def test_auto_authorise_publishes_the_decision_and_audits_it(uow: FakeUnitOfWork) -> None:
    await gathered(uow, decider(Policy(auto_authorise=True)))

    [made] = of(uow, DecisionMade)
    assert [e.topic for e in uow.outbox if e.event is made] == [topics.DECISIONS]
    assert made.data.case_id == CASE
    assert made.data.decided_by == "rules"
    assert set(made.data.agencies_answered) == set(AGENCIES)
    assert made.data.agencies_missing == []
    assert [c.data.kind for c in of(uow, CaseChanged)] == \
        [HistoryKind.PROPOSED, HistoryKind.AUTHORISED]
    assert uow.actions() == ["proposed", "authorised", "decision published"]
    [published] = [n for notes in uow.audit.values() for n in notes
                   if n.action == "decision published"]
    assert published.what["decision_id"] == made.id
    assert published.what["decided_by"] == "rules"


async def test_every_event_delivered_twice_takes_effect_once(uow: FakeUnitOfWork) -> None:
    once = FakeUnitOfWork()
    await gathered(once, decider(Policy(auto_authorise=True)))
    await gathered(uow, decider(Policy(auto_authorise=True)), twice=True)

    assert [e.event.id for e in uow.outbox] == [e.event.id for e in once.outbox]
    assert len(of(uow, DecisionMade)) == 1
    assert uow.actions() == once.actions()
    assert uow.commits == 2 * once.commits


async def test_the_research_deadline_sweep_proposes_on_what_has_arrived(
        uow: FakeUnitOfWork) -> None:
    d = decider()
    await deliver(uow, d, topics.CASES_OPENED, opened())
    police = finding("police")
    await deliver(uow, d, topics.FINDINGS, police, by_research(police))

    async with uow.transaction() as tx:
        await d.sweep_case(tx, CASE, RECEIVED + timedelta(hours=6))

    assert uow.topics()[0] == topics.CASE_HISTORY
    [proposed] = of(uow, CaseChanged)
    assert proposed.data.kind is HistoryKind.PROPOSED
    assert "research deadline passed without" in proposed.data.text
    doc = await uow.db.cases.find_one({"_id": CASE})
    assert doc["proposal"]["agencies_missing"] == list(AGENCIES[1:])
    assert uow.actions() == ["proposed"]
    swept = len(uow.outbox)

    async with uow.transaction() as tx:
        await d.sweep_case(tx, "CASE-NONE", RECEIVED + timedelta(hours=6))
    assert len(uow.outbox) == swept


def added(event_id: str = "added-1") -> ContactAdded:
    c = contact(contact_id="C-2", referrer_reference="GP-2", received_at=NOW.isoformat(),
                referrer={"agency": "health", "source_code": "3A"})
    return ContactAdded.new(
        ContactAddedData(case_id=CASE, contact=c, sender="health", reason="re-contact",
                         added_at=NOW),
        id=event_id, source="/mash/intake", subject=CASE, correlation_id="C-2", time=NOW)


async def test_a_contact_added_to_a_decided_case_re_decides_it_once(uow: FakeUnitOfWork) -> None:
    d = decider(Policy(auto_authorise=True))
    await gathered(uow, d)
    before = len(uow.outbox)

    await deliver(uow, d, topics.CASES_CONTACT_ADDED, added())
    await deliver(uow, d, topics.CASES_CONTACT_ADDED, added())  # redelivered
    await deliver(uow, d, topics.CASES_CONTACT_ADDED, added("added-2"))  # the same contact again

    new = [e.event for e in uow.outbox[before:]]
    assert [e.data.kind for e in new if isinstance(e, CaseChanged)] == [
        HistoryKind.CONTACT_ADDED, HistoryKind.REOPENED, HistoryKind.PROPOSED,
        HistoryKind.AUTHORISED]
    [again] = [e for e in new if isinstance(e, DecisionMade)]
    assert again.data.decision_version == 2
    assert again.data.contact_ids == ["C-0001", "C-2"]
    assert again.causation_id == "added-1"
    doc = await uow.db.cases.find_one({"_id": CASE})
    assert [a["contact"]["contact_id"] for a in doc["added"]] == ["C-2"]


# --- where a finding comes from ---------------------------------------------------------

def test_a_finding_signed_with_another_agencys_key_is_unusable() -> None:
    d = decider()
    event = finding("police")
    body = event.to_bytes()
    other = AGENCIES[1]
    for headers in (by_research(event, signer=other),  # health, as itself, naming police
                    sign(RESEARCH[other], "research-police", body),  # health's key as police's
                    {}):
        with pytest.raises(Unusable):
            d.read(topics.FINDINGS, json.loads(body), body, headers)
    assert d.read(topics.FINDINGS, json.loads(body), body, by_research(event)) == event


def test_a_topic_decision_does_not_read_is_unusable() -> None:
    body = opened().to_bytes()
    with pytest.raises(Unusable):
        decider().read(topics.DECISIONS, json.loads(body), body, {})


# --- commands ------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["unsigned", "other-signer", "forged"])
async def test_a_command_not_from_the_desk_is_refused_under_the_refusals_own_claim(
        uow: FakeUnitOfWork, how: str) -> None:
    d = decider()
    await gathered(uow, d)
    before, claimed = len(uow.outbox), set(uow.claimed)
    cmd = recommend()
    headers = {"unsigned": {},
               "other-signer": sign(RESEARCH["police"], "research-police", cmd.to_bytes()),
               "forged": sign(new_key(), COMMAND_SIGNER, cmd.to_bytes())}[how]

    await send(uow, d, topics.DECISION_COMMANDS, cmd, headers)

    [refused] = uow.outbox[before:]
    assert refused.topic == topics.CASE_HISTORY
    assert isinstance(refused.event, CaseChanged)
    assert refused.event.data.kind is HistoryKind.COMMAND_REFUSED
    assert refused.event.data.actor == domain.SYSTEM, "the actor it names was never checked"
    assert refused.event.causation_id == cmd.id
    assert uow.claimed - claimed == {refused.event.id}
    assert cmd.id not in uow.claimed
    assert uow.actions()[-1] == HistoryKind.COMMAND_REFUSED.value
    doc = await uow.db.cases.find_one({"_id": CASE})
    assert doc.get("recommendation") is None

    # The desk's own command with the same id still counts.
    await send(uow, d, topics.DECISION_COMMANDS, cmd, by_desk(cmd))
    assert of(uow, CaseChanged)[-1].data.kind is HistoryKind.RECOMMENDED
    assert cmd.id in uow.claimed


async def test_a_forged_command_delivered_again_is_refused_once(uow: FakeUnitOfWork) -> None:
    d = decider()
    cmd = recommend()
    await send(uow, d, topics.DECISION_COMMANDS, cmd, {})
    await send(uow, d, topics.DECISION_COMMANDS, cmd, {})
    assert len(uow.outbox) == 1


async def test_a_command_for_an_unknown_case_is_refused(uow: FakeUnitOfWork) -> None:
    d = decider()
    cmd = recommend(case_id="CASE-NONE")
    await send(uow, d, topics.DECISION_COMMANDS, cmd, by_desk(cmd))

    assert uow.topics() == [topics.CASE_HISTORY]
    [refused] = of(uow, CaseChanged)
    assert refused.data.kind is HistoryKind.COMMAND_REFUSED
    assert refused.data.text == "Command refused: no such case"
    assert refused.data.actor == SW
    assert refused.id == derived_id("case-changed", "CASE-NONE", "refused", cmd.id)
    assert uow.claimed == {cmd.id}
    assert await uow.db.cases.count_documents({}) == 0

    await send(uow, d, topics.DECISION_COMMANDS, cmd, by_desk(cmd))
    assert len(uow.outbox) == 1


async def test_a_signed_recommendation_is_applied_once(uow: FakeUnitOfWork) -> None:
    d = decider()
    await gathered(uow, d)
    before = len(uow.outbox)
    cmd = recommend()
    await send(uow, d, topics.DECISION_COMMANDS, cmd, by_desk(cmd))
    await send(uow, d, topics.DECISION_COMMANDS, cmd, by_desk(cmd))

    [recommended] = uow.outbox[before:]
    assert recommended.topic == topics.CASE_HISTORY
    assert recommended.event.data.kind is HistoryKind.RECOMMENDED
    assert recommended.event.data.actor == SW
    assert uow.actions()[-1] == "recommended"


def unreadable(rationale: str = "   ") -> bytes:
    body = recommend().model_dump(mode="json")
    body["data"]["rationale"] = rationale
    return json.dumps(body).encode()


@pytest.mark.parametrize(("signed", "actor"), [(True, SW), (False, domain.SYSTEM)])
async def test_a_command_that_cannot_be_read_is_refused_on_the_cases_history(
        uow: FakeUnitOfWork, signed: bool, actor: Actor) -> None:
    d = decider()
    raw = unreadable()
    headers = sign(DESK, COMMAND_SIGNER, raw) if signed else {}
    with pytest.raises(ValidationError) as invalid:
        d.read(topics.DECISION_COMMANDS, json.loads(raw), raw, headers)
    delivery = Delivery(raw, topics.DECISION_COMMANDS, 0, 9, CASE, 0, headers)

    for _ in range(2):  # and again, redelivered
        async with uow.transaction() as tx:
            assert await d.unreadable_command(tx, delivery, invalid.value)

    assert uow.topics() == [topics.CASE_HISTORY]
    [refused] = of(uow, CaseChanged)
    assert refused.data.kind is HistoryKind.COMMAND_REFUSED
    assert refused.data.actor == actor, "an unsigned command's actor is put to no one's name"
    assert refused.causation_id == "cmd-1"
    assert "cmd-1" not in uow.claimed
    assert uow.actions() == [HistoryKind.COMMAND_REFUSED.value]


async def test_a_message_that_names_no_command_is_left_to_the_dead_letters(
        uow: FakeUnitOfWork) -> None:
    delivery = Delivery(b"[]", topics.DECISION_COMMANDS, 0, 9, None, 0, {})
    async with uow.transaction() as tx:
        assert not await decider().unreadable_command(tx, delivery, ValueError("not a command"))
    assert uow.outbox == []


# --- acknowledgements and escalations ---------------------------------------------------

def ack(case_id: str) -> OutcomeAcknowledged:
    return OutcomeAcknowledged.new(
        AcknowledgementData(outcome_id="out-1", case_id=case_id,
                            destination=Destination.EARLY_HELP, team="eh-north",
                            acknowledged_at=NOW),
        id=f"ack-{case_id}", source="/mash/teams", subject=case_id, correlation_id="C-0001")


def escalation(case_id: str) -> OutcomeEscalated:
    return OutcomeEscalated.new(
        EscalationData(outcome_id="out-1", case_id=case_id, destination=Destination.EARLY_HELP,
                       outcome=Outcome.EARLY_HELP, rag=Rag.AMBER, ack_due=NOW,
                       escalated_at=NOW, text="Not acknowledged in time."),
        id=f"esc-{case_id}", source="/mash/notify", subject=case_id, correlation_id="C-0001")


async def test_an_ack_or_escalation_for_an_unknown_case_emits_nothing(
        uow: FakeUnitOfWork) -> None:
    d = decider()
    await send(uow, d, topics.OUTCOME_ACKS, ack("CASE-NONE"))
    await send(uow, d, topics.OUTCOME_ESCALATIONS, escalation("CASE-NONE"))

    assert uow.outbox == []
    assert uow.actions() == []
    assert uow.claimed == {"ack-CASE-NONE", "esc-CASE-NONE"}
    assert await uow.db.cases.count_documents({}) == 0


async def test_an_ack_for_a_decided_case_is_kept_on_its_record(uow: FakeUnitOfWork) -> None:
    d = decider(Policy(auto_authorise=True))
    await gathered(uow, d)
    before = len(uow.outbox)
    await send(uow, d, topics.OUTCOME_ACKS, ack(CASE))
    await send(uow, d, topics.OUTCOME_ACKS, ack(CASE))

    assert len(uow.outbox) == before, "an acknowledgement is the case's own history"
    doc = await uow.db.cases.find_one({"_id": CASE})
    assert doc["acknowledged_by"] == ["eh-north"]


# --- the dispatch the consumer uses ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["command", "ack", "escalation"])
async def test_handle_dispatches_commands_acks_and_escalations(uow: FakeUnitOfWork,
                                                               kind: str) -> None:
    d = decider()
    cmd = recommend(case_id="CASE-NONE")
    topic, event, headers = {
        "command": (topics.DECISION_COMMANDS, cmd, by_desk(cmd)),
        "ack": (topics.OUTCOME_ACKS, ack("CASE-NONE"), {}),
        "escalation": (topics.OUTCOME_ESCALATIONS, escalation("CASE-NONE"), {}),
    }[kind]

    await deliver(uow, d, topic, event, headers)

    assert uow.claimed == {event.id}
    assert uow.topics() == ([topics.CASE_HISTORY] if kind == "command" else [])
