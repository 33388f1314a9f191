"""Intake's orchestration, driven through the in-memory unit of work: a
signed contact opens a case or joins one, a redelivery changes nothing, a
replay is refused, and a rejection goes to its verified sender alone. No
broker, no database server."""

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

import judgement
from contracts import topics
from contracts.agencies import agencies
from contracts.contact import Rag
from contracts.envelope import utc_now
from contracts.events import (
    CaseOpened,
    ContactAdded,
    ContactReceived,
    ContactRejected,
    ContactSubmitted,
    EnquiryRequested,
)
from contracts.signing import new_key, sign
from plumbing.guard import Delivery, Unusable
from services.intake import admission, domain
from services.intake.handlers import Intake
from services.intake.person_index import Thresholds
from tests.factories import contact
from tests.fakes import FakeUnitOfWork

SIGNERS = {"police": new_key(), "health": new_key()}
PUBLIC_KEYS = {name: key.public_key() for name, key in SIGNERS.items()}
WINDOWS = domain.ResearchWindows(red=timedelta(hours=2), amber=timedelta(hours=6),
                                 green=timedelta(hours=24))
HEALTH_REFERRER = {"agency": "health", "source_code": "3A", "role": "GP"}


@pytest.fixture
def intake() -> Intake:
    return Intake(model=judgement.load(), windows=WINDOWS, thresholds=Thresholds(),
                  public_keys=PUBLIC_KEYS, signature_window=timedelta(minutes=10),
                  limits=admission.Limits(), agencies=agencies())


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def canonical(event_id: str, *, signer: str = "police", **overrides: Any) -> ContactSubmitted:
    """A canonical contact as its sender makes it: now, from its own source."""
    now = utc_now()
    overrides.setdefault("contact_id", f"C-{event_id}")
    overrides.setdefault("referrer_reference", f"REF-{event_id}")
    c = contact(received_at=now.isoformat(), **overrides)
    return ContactSubmitted.new(c, id=event_id, source=f"/agency/{signer}", subject=c.contact_id,
                                correlation_id=c.contact_id, time=now)


def record(raw: bytes, headers: Mapping[str, str], offset: int,
           topic: str = topics.CONTACTS_SUBMITTED) -> Delivery:
    """The Kafka record as the consumer hands it over."""
    return Delivery(raw, topic, 0, offset, None, 1_790_000_000_000 + offset, dict(headers))


def signed(event: ContactSubmitted, offset: int, signer: str = "police") -> Delivery:
    raw = event.to_bytes()
    return record(raw, sign(SIGNERS[signer], signer, raw), offset)


async def deliver(uow: FakeUnitOfWork, intake: Intake, delivery: Delivery) -> None:
    """What the consumer does with one record: admit, read, handle in a transaction."""
    decoded = intake.admit(delivery.raw, delivery.headers, len(delivery.headers))
    event = intake.read(decoded)
    async with uow.transaction() as tx:
        await intake.contact(tx, event, delivery)


async def reject(uow: FakeUnitOfWork, intake: Intake, delivery: Delivery,
                 error: Exception) -> None:
    async with uow.transaction() as tx:
        await intake.reject(tx, delivery, error)


def one(uow: FakeUnitOfWork, kind: type[Any]) -> Any:
    [found] = [e.event for e in uow.outbox if isinstance(e.event, kind)]
    return found


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- a case opened ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "rag"),
    [
        ({}, Rag.AMBER),  # the police's AMBER, domestic abuse
        ({"concerns": ["19C"], "referrer_rag": None}, Rag.RED),
        ({"concerns": ["20"], "referrer_rag": None}, Rag.GREEN),
    ],
)
async def test_a_signed_contact_opens_a_case_on_the_lane_of_its_triage(
        intake: Intake, uow: FakeUnitOfWork, overrides: dict[str, Any], rag: Rag) -> None:
    event = canonical("evt-1", **overrides)
    await deliver(uow, intake, signed(event, offset=1))

    opened = one(uow, CaseOpened)
    assert opened.data.triage_rag is rag
    case_id = opened.data.case_id
    assert case_id == domain.case_id_for("evt-1")
    assert opened.data.sender == "police"
    assert opened.causation_id == "evt-1"

    expected = [topics.lane(topics.CASES_OPENED, rag)]
    expected += [topics.lane(topics.enquiries(a), rag) for a in agencies()]
    expected += [topics.feedback("police")]
    assert uow.topics() == expected
    enquiries = [e.event for e in uow.outbox if isinstance(e.event, EnquiryRequested)]
    assert [e.data.agency for e in enquiries] == list(agencies())
    assert {(e.data.case_id, e.data.rag, e.causation_id) for e in enquiries} == \
        {(case_id, rag, "evt-1")}
    assert {e.key for e in uow.outbox} == {case_id}, "one case, one partition"

    receipt = one(uow, ContactReceived)
    assert (receipt.data.status, receipt.data.case_id, receipt.data.sender) == \
        ("accepted", case_id, "police")

    assert uow.actions() == ["case opened"]
    [note] = [n for notes in uow.audit.values() for n in notes]
    assert (note.actor, note.case_id) == ("intake", case_id)
    assert note.what["triage_rag"] == rag.value
    assert note.what["signer"] == "police"
    assert note.what["enquiries"] == list(agencies())
    assert uow.claimed == {"evt-1"}
    assert (uow.commits, uow.aborts) == (1, 0)


async def test_the_same_record_delivered_again_changes_nothing(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    delivery = signed(canonical("evt-1"), offset=7)
    await deliver(uow, intake, delivery)
    outbox, audit = list(uow.outbox), uow.actions()

    await deliver(uow, intake, delivery)  # Kafka redelivers: same record, same fingerprint

    assert uow.outbox == outbox
    assert uow.actions() == audit
    assert (uow.commits, uow.aborts) == (2, 0)
    assert await uow.db.cases.count_documents({}) == 1


@pytest.mark.parametrize("changed", [False, True], ids=["same-bytes", "new-bytes"])
async def test_the_same_event_id_in_a_new_record_is_a_replay(
        intake: Intake, uow: FakeUnitOfWork, changed: bool) -> None:
    first = canonical("evt-1")
    await deliver(uow, intake, signed(first, offset=1))
    outbox = list(uow.outbox)

    again = canonical("evt-1", analysis="Something else entirely, said again later.") \
        if changed else first
    with pytest.raises(Unusable) as refused:
        await deliver(uow, intake, signed(again, offset=2))

    assert refused.value.facts == {"signer": "police", "reason": "replayed"}
    assert refused.value.problems[0][0] == "id"
    assert "already received" in refused.value.problems[0][1]
    assert uow.outbox == outbox
    assert (uow.commits, uow.aborts) == (1, 1)


async def test_a_replay_is_rejected_to_its_signer(intake: Intake, uow: FakeUnitOfWork) -> None:
    event = canonical("evt-1")
    await deliver(uow, intake, signed(event, offset=1))
    replayed = signed(event, offset=2)
    with pytest.raises(Unusable) as refused:
        await deliver(uow, intake, replayed)
    before = len(uow.outbox)

    await reject(uow, intake, replayed, refused.value)

    [told] = uow.outbox[before:]
    assert told.topic == topics.feedback("police")
    assert isinstance(told.event, ContactRejected)
    assert told.event.data.sender == "police"


# --- a case joined -----------------------------------------------------------------

async def test_another_contact_about_the_same_household_joins_the_case(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    await deliver(uow, intake, signed(canonical("evt-1"), offset=1))
    case_id = one(uow, CaseOpened).data.case_id
    before = len(uow.outbox)

    await deliver(uow, intake, signed(canonical("evt-2"), offset=2))

    new = uow.outbox[before:]
    assert [e.topic for e in new] == [topics.CASES_CONTACT_ADDED, topics.feedback("police")]
    added, receipt = new[0].event, new[1].event
    assert isinstance(added, ContactAdded)
    assert (added.data.case_id, added.data.reason, added.data.sender) == \
        (case_id, "same-incident", "police")
    assert added.data.contact.contact_id == "C-evt-2"
    assert isinstance(receipt, ContactReceived)
    assert (receipt.data.case_id, receipt.data.status) == (case_id, "accepted")
    assert len([e for e in uow.outbox if isinstance(e.event, CaseOpened)]) == 1
    assert uow.actions() == ["case opened", "contact added"]


async def test_another_agencys_contact_about_the_same_child_is_a_re_contact(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    await deliver(uow, intake, signed(canonical("evt-1"), offset=1))
    case_id = one(uow, CaseOpened).data.case_id
    first_child = one(uow, CaseOpened).data.contact.children[0].person_id
    before = len(uow.outbox)

    from_health = canonical("evt-2", signer="health", referrer=HEALTH_REFERRER, household=[])
    await deliver(uow, intake, signed(from_health, offset=2, signer="health"))

    new = uow.outbox[before:]
    assert [e.topic for e in new] == [topics.CASES_CONTACT_ADDED, topics.feedback("health")]
    added = new[0].event
    assert isinstance(added, ContactAdded)
    assert (added.data.case_id, added.data.reason, added.data.sender) == \
        (case_id, "re-contact", "health")
    # The person index found the same child: the same person id, explained.
    assert added.data.contact.children[0].person_id == first_child
    assert [m.band for m in added.data.contact.person_matches] == ["link"]
    assert not [e for e in new if isinstance(e.event, CaseOpened | EnquiryRequested)]


async def test_the_same_referrer_reference_again_is_a_resubmission(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    await deliver(uow, intake, signed(canonical("evt-1", referrer_reference="POL-9"), offset=1))
    case_id = one(uow, CaseOpened).data.case_id
    before = len(uow.outbox)

    again = canonical("evt-2", referrer_reference="POL-9")  # a new event, the same reference
    await deliver(uow, intake, signed(again, offset=2))

    [told] = uow.outbox[before:]
    assert told.topic == topics.feedback("police")
    assert isinstance(told.event, ContactReceived)
    assert (told.event.data.status, told.event.data.case_id) == ("already-received", case_id)
    assert told.event.data.message.startswith("Already received")
    assert uow.actions() == ["case opened", "resubmission recorded"]
    assert uow.claimed == {"evt-1", "evt-2"}
    assert await uow.db.resubmissions.count_documents({"case_id": case_id}) == 1


# --- rejections ---------------------------------------------------------------------

async def test_an_unsigned_contact_is_rejected_to_the_operator_alone(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    unsigned = record(canonical("evt-1").to_bytes(), {}, offset=3)
    with pytest.raises(Unusable) as refused:
        intake.admit(unsigned.raw, unsigned.headers, 0)

    await reject(uow, intake, unsigned, refused.value)

    assert uow.topics() == [topics.CONTACTS_REJECTED]
    rejected = one(uow, ContactRejected)
    assert rejected.data.sender is None
    assert rejected.data.contact_id == "C-evt-1"
    assert rejected.id == domain.rejection_id(unsigned.fingerprint)
    assert uow.actions() == ["contact rejected"]
    assert await uow.db.quarantine.count_documents({"kind": "rejected"}) == 1
    assert await uow.db.cases.count_documents({}) == 0


async def test_a_forged_signature_is_rejected_to_the_operator_not_the_claimed_sender(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    raw = canonical("evt-1").to_bytes()
    forged = record(raw, sign(new_key(), "police", raw), offset=3)
    with pytest.raises(Unusable) as refused:
        intake.admit(forged.raw, forged.headers, len(forged.headers))

    await reject(uow, intake, forged, refused.value)

    assert uow.topics() == [topics.CONTACTS_REJECTED]


async def test_a_signed_contact_that_cannot_be_read_is_rejected_to_its_sender_alone(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    body = canonical("evt-1", signer="health", referrer=HEALTH_REFERRER).model_dump(mode="json")
    body["data"]["concerns"] = ["ZZ"]
    raw = json.dumps(body).encode()
    delivery = record(raw, sign(SIGNERS["health"], "health", raw), offset=4)
    decoded = intake.admit(delivery.raw, delivery.headers, len(delivery.headers))
    with pytest.raises(ValidationError) as invalid:
        intake.read(decoded)

    await reject(uow, intake, delivery, invalid.value)

    assert uow.topics() == [topics.feedback("health")]
    rejected = one(uow, ContactRejected)
    assert rejected.data.sender == "health"
    assert any(p.field.endswith("concerns") for p in rejected.data.problems)
    assert uow.actions() == ["contact rejected"]


async def test_a_signer_speaking_for_another_source_is_told_on_its_own_topic_alone(
        intake: Intake, uow: FakeUnitOfWork) -> None:
    raw = canonical("evt-1").to_bytes()  # police's source, signed by health
    delivery = record(raw, sign(SIGNERS["health"], "health", raw), offset=4)
    with pytest.raises(Unusable) as refused:
        intake.admit(delivery.raw, delivery.headers, len(delivery.headers))

    await reject(uow, intake, delivery, refused.value)

    assert uow.topics() == [topics.feedback("health")], "never police's topic"


async def test_a_rejection_redelivered_is_made_once(intake: Intake, uow: FakeUnitOfWork) -> None:
    unsigned = record(b'{"not": "a contact"}', {}, offset=5)
    error = Unusable([("(signature)", "not signed")], reason="not-authentic")
    await reject(uow, intake, unsigned, error)
    await reject(uow, intake, unsigned, error)

    assert uow.topics() == [topics.CONTACTS_REJECTED]
    assert uow.actions() == ["contact rejected"]


# --- work after the commit ------------------------------------------------------------

async def handled_then_failed(uow: FakeUnitOfWork, intake: Intake, event: ContactSubmitted,
                              delivery: Delivery) -> None:
    """Handled, then the transaction fails before it commits."""
    async with uow.transaction() as tx:
        await intake.contact(tx, event, delivery)
        raise RuntimeError("the commit failed")


async def test_metrics_are_counted_only_when_the_transaction_commits(intake: Intake) -> None:
    labels = {"source_agency": "police", "channel": "notification", "source_code": "6"}
    received = counted("mash_contacts_received_total", **labels)
    opened = counted("mash_cases_opened_total", source_agency="police", rag="AMBER")

    aborted = FakeUnitOfWork()
    delivery = signed(canonical("evt-1"), offset=1)
    event = intake.read(intake.admit(delivery.raw, delivery.headers, len(delivery.headers)))
    with pytest.raises(RuntimeError, match="the commit failed"):
        await handled_then_failed(aborted, intake, event, delivery)

    assert (aborted.commits, aborted.aborts) == (0, 1)
    assert aborted.outbox == []
    assert aborted.actions() == []
    assert counted("mash_contacts_received_total", **labels) == received
    assert counted("mash_cases_opened_total", source_agency="police", rag="AMBER") == opened

    committed = FakeUnitOfWork()
    await deliver(committed, intake, delivery)

    assert counted("mash_contacts_received_total", **labels) == received + 1
    assert counted("mash_cases_opened_total", source_agency="police", rag="AMBER") == opened + 1
