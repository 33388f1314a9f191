"""On the real stack: a police researcher's note, signed by the desk, becomes
one of police's records and police answers the enquiry again with it; the
same note signed by nobody, or from a health researcher, changes nothing and
is refused on police's audit chain. A note on an enquiry still waiting
answers it, and the worker does not answer it again."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

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
from contracts.events import EnquiryData, EnquiryRequested, FindingReported, Subject
from contracts.signing import load_private, sign
from mash.keys import service_key_file, services_file
from mash.stack import Stack
from tests.embedded import Wire, about
from tests.stacks import own_stack, wire_to

pytestmark = pytest.mark.integration

POLICE_CONTACT = Path(__file__).resolve().parents[1] / "fixtures" / "contacts" / \
    "police-domestic-abuse.json"
SERVICES = ["intake", "research-police"]
POLICE_RESEARCHER = Actor(actor_id="res-pat.lee", role=Role.RESEARCHER, agency="police")
HEALTH_RESEARCHER = Actor(actor_id="res-sam.roe", role=Role.RESEARCHER, agency="health")


@pytest.fixture(scope="module")
async def notes_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("notes")
    # The stack makes the desk's key pair before any service starts; the
    # research service reads the desk's public key from the services' file.
    # The worker polls its queue rarely: an enquiry filed without waking it
    # stays waiting for as long as a test needs.
    env = {"MASH_AGENCIES": "police,health",
           "MASH_SERVICE_KEYS_FILE": str(services_file(home).resolve()),
           "MASH_QUEUE_POLL_SECONDS": "600"}
    async with own_stack(home, SERVICES, env) as running:
        yield running


@pytest.fixture(scope="module")
async def notes_wire(notes_stack: Stack) -> AsyncIterator[Wire]:
    async with wire_to(notes_stack) as client:
        yield client


def police_contact() -> dict[str, Any]:
    """The police fixture, made this module's own: its ids, and a family
    name no seeded record has."""
    body: dict[str, Any] = json.loads(POLICE_CONTACT.read_text(encoding="utf-8"))
    run = uuid.uuid4().hex[:10]
    surname = "Notes" + run
    for person in [*body["data"]["children_present"], *body["data"]["adults"]]:
        person["family_name"] = surname
    body["id"] = f"evt-{run}"
    body["time"] = datetime.now(UTC).isoformat()  # signed contacts are sent as they are made
    body["subject"] = body["correlation_id"] = f"notes-{run}"
    body["data"]["notification_reference"] = f"PPN-{run}"
    return body


@pytest.fixture(scope="module")
async def answered(notes_wire: Wire) -> FindingReported:
    """A case whose enquiry police has answered once."""
    body = police_contact()
    await notes_wire.send(topics.CONTACTS_SUBMITTED, json.dumps(body).encode(),
                          key=body["subject"])
    hits = await notes_wire.wait_for(topics.lanes(topics.FINDINGS), about(body["subject"]),
                                     timeout=30)
    assert len(hits) == 1, "police never answered the enquiry"
    return FindingReported.model_validate_json(hits[0][1])


def note(finding: FindingReported | EnquiryRequested, actor: Actor,
         category: str) -> ResearchNoteCommand:
    case_id = finding.data.case_id
    return ResearchNoteCommand.new(
        ResearchNoteData(case_id=case_id, agency="police", actor=actor, person_ref="child-0",
                         category=category, summary="Seen alone near the canal after dark.",
                         risk="high"),
        source="/mash/desk", subject=case_id, correlation_id=case_id)


async def publish(wire: Wire, command: ResearchNoteCommand, *, signed: bool) -> None:
    raw = command.to_bytes()
    desk = load_private(service_key_file(wire.settings.home, COMMAND_SIGNER))
    await wire.send(topics.research_commands("police"), raw, key=command.data.case_id,
                    signer=None, headers=sign(desk, COMMAND_SIGNER, raw) if signed else None)


def caused_by(*command_ids: str) -> Callable[[str, bytes], bool]:
    return lambda _topic, value: json.loads(value).get("causation_id") in command_ids


async def refusals(wire: Wire, case_id: str, count: int) -> list[dict[str, Any]]:
    """The "note refused" entries on police's audit chain for this case, once
    there are ``count`` of them (or after 20 s)."""
    audit = wire.mongo["mash_research_police"].audit
    found: list[dict[str, Any]] = []
    for _ in range(100):
        found = await audit.find({"action": "note refused", "case_id": case_id}).to_list()
        if len(found) >= count:
            break
        await asyncio.sleep(0.2)
    return found


async def test_a_police_researchers_note_is_answered_again(notes_wire: Wire,
                                                             answered: FindingReported) -> None:
    command = note(answered, POLICE_RESEARCHER, "welfare-concern")
    await publish(notes_wire, command, signed=True)
    hits = await notes_wire.wait_for(topics.lanes(topics.FINDINGS), caused_by(command.id),
                                     timeout=20)
    assert len(hits) == 1, "police did not answer again"
    again = FindingReported.model_validate_json(hits[0][1])
    assert again.id != answered.id
    assert again.data.enquiry_id == answered.data.enquiry_id
    assert ("child-0", "welfare-concern") in {(i.person_ref, i.category)
                                              for i in again.data.items}


async def test_a_note_not_from_the_desk_or_from_health_changes_nothing(
        notes_wire: Wire, answered: FindingReported) -> None:
    case_id = answered.data.case_id
    unsigned = note(answered, POLICE_RESEARCHER, "forged-concern")
    from_health = note(answered, HEALTH_RESEARCHER, "health-concern")
    await publish(notes_wire, unsigned, signed=False)
    await publish(notes_wire, from_health, signed=True)

    refused = {entry["what"]["command_id"]: entry
               for entry in await refusals(notes_wire, case_id, 2)}
    assert {cid: (refused[cid]["actor"], refused[cid]["what"]["code"])
            for cid in refused} == {unsigned.id: ("unknown", "not-signed"),
                                    from_health.id: ("res-sam.roe", "other-agency-researcher")}
    records = notes_wire.mongo["mash_research_police"].records
    assert await records.count_documents(
        {"command_id": {"$in": [unsigned.id, from_health.id]}}) == 0
    # Refused in the transaction that would have emitted the finding: none follows.
    assert await notes_wire.wait_for(topics.lanes(topics.FINDINGS),
                                     caused_by(unsigned.id, from_health.id), timeout=3) == []


def police_enquiry() -> EnquiryRequested:
    run = uuid.uuid4().hex[:10]
    now, case_id = datetime.now(UTC), f"CASE-NOTES-{run}"
    return EnquiryRequested.new(
        EnquiryData(enquiry_id=f"enq-{run}", case_id=case_id, agency="police",
                    subjects=[Subject(person_ref="child-0", role="child", given_name="Ava",
                                      family_name=f"Waiting{run}",
                                      date_of_birth=date(2019, 4, 2))],
                    rag=Rag.AMBER, consent=ConsentState.GIVEN, purpose="test",
                    lawful_basis="DPA 2018 Sch.1 para 18", concerns=["16A"], requested_at=now,
                    answer_by=now + timedelta(hours=2)),
        source="/mash/intake", subject=case_id, correlation_id=case_id)


async def test_a_note_on_a_waiting_enquiry_answers_it_once(notes_wire: Wire) -> None:
    # Filed as the research service files one, without waking its worker.
    waiting = police_enquiry()
    queue = notes_wire.mongo["mash_research_police"].enquiries
    await queue.insert_one({"_id": waiting.id, "state": "pending", "priority": 1,
                            "answer_by": waiting.data.answer_by, "queued_at": datetime.now(UTC),
                            "case_id": waiting.data.case_id,
                            "event": waiting.model_dump(mode="json"), "trace": {}})
    command = note(waiting, POLICE_RESEARCHER, "welfare-concern")
    await publish(notes_wire, command, signed=True)
    [(_, raw)] = await notes_wire.wait_for(topics.lanes(topics.FINDINGS), caused_by(command.id),
                                          timeout=20)
    finding = FindingReported.model_validate_json(raw)
    filed = await queue.find_one({"_id": waiting.id})
    assert filed is not None
    assert (filed["state"], filed["finding_id"]) == ("answered", finding.id)

    # The worker, woken by the next enquiry, answers that one and not this again.
    after = police_enquiry()
    await notes_wire.send(topics.enquiries("police"), after, key=after.data.case_id)
    assert await notes_wire.wait_for(topics.lanes(topics.FINDINGS), caused_by(after.id),
                                     timeout=20)
    assert await notes_wire.wait_for(topics.lanes(topics.FINDINGS), caused_by(waiting.id),
                                     timeout=0) == []
