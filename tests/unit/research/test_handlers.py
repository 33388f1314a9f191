"""One agency's research orchestration, driven through the in-memory unit of
work: an enquiry is filed once, the most urgent waiting one is answered
first on its own lane with its disclosure audited, and a researcher's note
is taken only from the desk. No broker, no database server."""

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts import topics
from contracts.casework import (
    COMMAND_SIGNER,
    Actor,
    ResearchNoteCommand,
    ResearchNoteData,
    Role,
)
from contracts.contact import ConsentState, Rag
from contracts.envelope import derived_id, utc_now
from contracts.events import EnquiryData, EnquiryRequested, FindingReported, Subject
from contracts.signing import new_key, sign
from services.research import domain, store
from services.research.handlers import Researcher
from services.research.policy import load_policy
from tests.fakes import FakeUnitOfWork

DESK = new_key()
KEYS = {COMMAND_SIGNER: DESK.public_key()}
ASKED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
AVA = Subject(person_ref="child-0", role="child", given_name="Ava", family_name="Smith",
              date_of_birth=date(2019, 4, 2), postcode="RG12 7AB")
RESEARCHER = Actor(actor_id="res-pat.lee", role=Role.RESEARCHER, agency="police")


@pytest.fixture
def researcher() -> Researcher:
    return Researcher("police", load_policy("police"), KEYS)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def enquiry(case_id: str, rag: Rag, *, answer_in: timedelta = timedelta(hours=6)
            ) -> EnquiryRequested:
    return EnquiryRequested.new(
        EnquiryData(enquiry_id=f"enq-{case_id}", case_id=case_id, agency="police",
                    subjects=[AVA], rag=rag, consent=ConsentState.NOT_SOUGHT,
                    purpose="MASH research", lawful_basis="DPA 2018 Sch.1 para 18",
                    concerns=["3B"], requested_at=ASKED, answer_by=ASKED + answer_in),
        id=f"evt-enq-{case_id}", source="/mash/intake", subject=case_id,
        correlation_id=f"C-{case_id}", time=ASKED)


def note(case_id: str = "CASE-RED", cmd_id: str = "note-1", **overrides: object
         ) -> ResearchNoteCommand:
    data = {"case_id": case_id, "agency": "police", "actor": RESEARCHER,
            "person_ref": "child-0", "category": "welfare-concern",
            "summary": "Seen alone at the park at 23:00.", "occurred_on": date(2026, 11, 19),
            "risk": "high", **overrides}
    return ResearchNoteCommand.new(ResearchNoteData.model_validate(data), id=cmd_id,
                                   source="/mash/desk", subject=case_id, correlation_id=case_id)


def by_desk(command: ResearchNoteCommand) -> dict[str, str]:
    return sign(DESK, COMMAND_SIGNER, command.to_bytes())


async def file(uow: FakeUnitOfWork, researcher: Researcher, *enquiries: EnquiryRequested
               ) -> list[bool]:
    filed = []
    for e in enquiries:
        async with uow.transaction() as tx:
            filed.append(await researcher.enquiry(tx, e))
    return filed


async def answer(uow: FakeUnitOfWork, researcher: Researcher, limit: int) -> int:
    async with uow.transaction() as tx:
        return await researcher.answer_waiting(tx, limit)


async def take(uow: FakeUnitOfWork, researcher: Researcher, command: ResearchNoteCommand,
               headers: Mapping[str, str]) -> None:
    async with uow.transaction() as tx:
        await researcher.note(tx, command, command.to_bytes(), headers)


def findings(uow: FakeUnitOfWork) -> list[FindingReported]:
    return [e for e in uow.events() if isinstance(e, FindingReported)]


async def state(uow: FakeUnitOfWork, e: EnquiryRequested) -> str:
    doc = await uow.db.enquiries.find_one({"_id": e.id})
    return str(doc["state"])


# --- filing ------------------------------------------------------------------------

async def test_an_enquiry_is_filed_once(uow: FakeUnitOfWork, researcher: Researcher) -> None:
    e = enquiry("CASE-1", Rag.AMBER)
    assert await file(uow, researcher, e, e) == [True, False]
    assert await uow.db.enquiries.count_documents({}) == 1
    assert await state(uow, e) == "pending"
    assert uow.outbox == [], "filed, not yet answered"
    assert uow.actions() == []


# --- answering, most urgent first ---------------------------------------------------------

async def test_a_red_enquiry_is_answered_before_the_green_ones_waiting_ahead_of_it(
        uow: FakeUnitOfWork, researcher: Researcher) -> None:
    greens = [enquiry(f"CASE-G{i}", Rag.GREEN, answer_in=timedelta(hours=1 + i))
              for i in range(3)]
    red = enquiry("CASE-RED", Rag.RED, answer_in=timedelta(hours=8))  # the latest deadline
    await file(uow, researcher, *greens, red)

    assert await answer(uow, researcher, limit=1) == 1

    [finding] = findings(uow)
    assert finding.data.case_id == "CASE-RED"
    assert finding.causation_id == red.id
    assert finding.id == derived_id("finding", red.id)
    assert uow.topics() == [topics.urgent(topics.FINDINGS)]
    assert uow.outbox[0].key == "CASE-RED"
    assert uow.actions() == ["disclosed"]
    [audited] = [n for notes in uow.audit.values() for n in notes]
    assert (audited.actor, audited.case_id) == ("research-police", "CASE-RED")
    assert audited.what["finding_id"] == finding.id
    assert audited.what["rag"] == "RED"
    assert audited.what["level"] == finding.data.disclosure_level
    assert await state(uow, red) == "answered"
    assert [await state(uow, g) for g in greens] == ["pending"] * 3
    assert await uow.db.disclosures.count_documents({"case_id": "CASE-RED"}) == 1

    assert await answer(uow, researcher, limit=10) == 3
    rest = findings(uow)[1:]
    assert [f.data.case_id for f in rest] == ["CASE-G0", "CASE-G1", "CASE-G2"], \
        "then the earliest deadline"
    assert uow.topics()[1:] == [topics.FINDINGS] * 3
    assert uow.actions() == ["disclosed"] * 4
    assert await answer(uow, researcher, limit=10) == 0
    assert len(uow.outbox) == 4


async def test_the_agencys_own_records_are_disclosed_under_its_policy(
        uow: FakeUnitOfWork, researcher: Researcher) -> None:
    record = domain.Record(record_id="police-00001", record_type="domestic-abuse-incident",
                           given_name="AVA", family_name="smith", date_of_birth=date(2019, 4, 2),
                           postcode="RG127AB", summary="Attended domestic incident.",
                           occurred_on=date(2026, 1, 5), risk="medium")
    async with uow.transaction() as tx:
        await store.add_note_record(tx, record, agency="police", case_id="CASE-0",
                                    added_by="seed", command_id="seed", now=utc_now())
    await file(uow, researcher, enquiry("CASE-RED", Rag.RED))

    await answer(uow, researcher, limit=1)

    [finding] = findings(uow)
    assert finding.data.result == "trace"
    assert [i.summary for i in finding.data.items] == ["Attended domestic incident."]
    [audited] = [n for notes in uow.audit.values() for n in notes]
    assert audited.what["records_drawn_on"] == ["police-00001"]


# --- a researcher's note ---------------------------------------------------------------

@pytest.mark.parametrize("how", ["unsigned", "other-signer", "forged"])
async def test_a_note_not_signed_by_the_desk_is_refused_on_the_audit_chain(
        uow: FakeUnitOfWork, researcher: Researcher, how: str) -> None:
    red = enquiry("CASE-RED", Rag.RED)
    await file(uow, researcher, red)
    cmd = note()
    other = new_key()
    headers = {"unsigned": {},
               "other-signer": sign(other, "research-police", cmd.to_bytes()),
               "forged": sign(other, COMMAND_SIGNER, cmd.to_bytes())}[how]

    await take(uow, researcher, cmd, headers)

    assert uow.outbox == [], "not answered"
    assert uow.actions() == ["note refused"]
    [refused] = [n for notes in uow.audit.values() for n in notes]
    assert refused.actor == "unknown", "the actor an unsigned note names is unchecked"
    assert refused.what["command_id"] == cmd.id
    assert uow.claimed == {derived_id("note refused", cmd.id)}
    assert await uow.db.records.count_documents({}) == 0
    assert await state(uow, red) == "pending"

    # The desk's own note with the same id is still taken.
    await take(uow, researcher, cmd, by_desk(cmd))
    assert len(findings(uow)) == 1


async def test_a_signed_note_is_recorded_and_answers_the_enquiry_once(
        uow: FakeUnitOfWork, researcher: Researcher) -> None:
    red = enquiry("CASE-RED", Rag.RED)
    await file(uow, researcher, red)
    cmd = note()

    await take(uow, researcher, cmd, by_desk(cmd))
    await take(uow, researcher, cmd, by_desk(cmd))  # redelivered

    [finding] = findings(uow)
    assert finding.causation_id == cmd.id
    assert finding.id == derived_id("finding", red.id, cmd.id)
    assert finding.data.result == "trace"
    assert [i.summary for i in finding.data.items] == ["Seen alone at the park at 23:00."]
    assert uow.topics() == [topics.urgent(topics.FINDINGS)]
    assert uow.actions() == ["record added", "disclosed"]
    notes = [n for chain in uow.audit.values() for n in chain]
    assert notes[0].actor == RESEARCHER.actor_id
    assert notes[1].what["caused_by"] == cmd.id
    assert uow.claimed == {cmd.id}
    assert await state(uow, red) == "answered"
    assert await answer(uow, researcher, limit=10) == 0, "the worker leaves it"


async def test_a_note_about_a_case_with_no_enquiry_is_refused(
        uow: FakeUnitOfWork, researcher: Researcher) -> None:
    cmd = note(case_id="CASE-NONE")
    await take(uow, researcher, cmd, by_desk(cmd))

    assert uow.outbox == []
    assert uow.actions() == ["note refused"]
    [refused] = [n for notes in uow.audit.values() for n in notes]
    assert refused.what["code"] == "no-enquiry"
    assert refused.actor == RESEARCHER.actor_id
    assert uow.claimed == {cmd.id}
