"""A researcher's note to their agency's research service: who may add one,
about whom, the record it makes, and the finding that answers again with it.
Pure: no broker, no database."""

from datetime import UTC, date, datetime

import pytest

from contracts.casework import COMMAND_SIGNER, Actor, ResearchNoteCommand, ResearchNoteData, Role
from contracts.contact import ConsentState, Rag
from contracts.envelope import derived_id
from contracts.events import EnquiryData, EnquiryRequested, Subject
from contracts.signing import new_key, sign
from services.research import domain
from services.research.policy import load_policy

POLICE = load_policy("police")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
AVA = Subject(person_ref="child-0", role="child", given_name="Ava", family_name="Smith",
              date_of_birth=date(2019, 4, 2), postcode="RG12 7AB")
KERRY = Subject(person_ref="adult-0", role="adult", given_name="Kerry", family_name="Smith",
                postcode="RG12 7AB")
NOBODY_TO_FIND = Subject(person_ref="adult-1", role="adult", given_name="Dean",
                         family_name="Marsh")
RESEARCHER = Actor(actor_id="res-pat.lee", role=Role.RESEARCHER, agency="police")
DESK = new_key()
KEYS = {COMMAND_SIGNER: DESK.public_key()}


def enquiry(rag: Rag = Rag.RED) -> EnquiryRequested:
    return EnquiryRequested.new(
        EnquiryData(enquiry_id="enq-1", case_id="CASE-1", agency="police",
                    subjects=[AVA, KERRY, NOBODY_TO_FIND], rag=rag,
                    consent=ConsentState.NOT_SOUGHT, purpose="research",
                    lawful_basis="DPA 2018 Sch.1 para 18", concerns=["3B"], requested_at=NOW,
                    answer_by=NOW),
        id="evt-enq-1", source="/mash/intake", subject="CASE-1", correlation_id="C-1")


def note(actor: Actor = RESEARCHER, *, agency: str = "police", person_ref: str = "child-0",
         occurred_on: date | None = date(2026, 11, 19)) -> ResearchNoteData:
    return ResearchNoteData(case_id="CASE-1", agency=agency, actor=actor, person_ref=person_ref,
                            category="welfare-concern", summary="Seen alone at the park at 23:00.",
                            occurred_on=occurred_on, risk="high")


def command(data: ResearchNoteData | None = None) -> ResearchNoteCommand:
    return ResearchNoteCommand.new(data or note(), id="cmd-1", source="/mash/desk",
                                   subject="CASE-1", correlation_id="CASE-1")


# --- the desk's signature ----------------------------------------------------

def test_a_note_the_desk_signed_is_verified() -> None:
    value = command().to_bytes()
    assert domain.signature_problem(value, sign(DESK, COMMAND_SIGNER, value), KEYS) is None


def test_an_unsigned_note_is_refused() -> None:
    refusal = domain.signature_problem(command().to_bytes(), {}, KEYS)
    assert refusal is not None
    assert refusal.code == "not-signed"


def test_a_note_signed_by_another_service_is_refused() -> None:
    value = command().to_bytes()
    other = new_key()
    refusal = domain.signature_problem(value, sign(other, "research-police", value),
                                       {**KEYS, "research-police": other.public_key()})
    assert refusal is not None
    assert refusal.code == "wrong-signer"


def test_a_note_changed_after_signing_is_refused() -> None:
    value = command().to_bytes()
    changed = command(note(person_ref="adult-0")).to_bytes()
    refusal = domain.signature_problem(changed, sign(DESK, COMMAND_SIGNER, value), KEYS)
    assert refusal is not None
    assert refusal.code == "bad-signature"


def test_a_note_signed_with_another_key_as_the_desk_is_refused() -> None:
    value = command().to_bytes()
    refusal = domain.signature_problem(value, sign(new_key(), COMMAND_SIGNER, value), KEYS)
    assert refusal is not None
    assert refusal.code == "bad-signature"


def test_without_the_desks_key_every_note_is_refused() -> None:
    value = command().to_bytes()
    refusal = domain.signature_problem(value, sign(DESK, COMMAND_SIGNER, value), {})
    assert refusal is not None
    assert refusal.code == "no-desk-key"


# --- who may add a note -------------------------------------------------------

def test_a_researcher_adds_to_their_own_agencys_answer() -> None:
    assert domain.actor_problem(note(), "police") is None


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.MANAGER, Role.OPERATOR, Role.RULES])
def test_only_an_agency_researcher_adds_a_note(role: Role) -> None:
    refusal = domain.actor_problem(note(Actor(actor_id="x", role=role, agency="police")),
                                   "police")
    assert refusal is not None
    assert refusal.code == "not-a-researcher"


@pytest.mark.parametrize("agency", ["health", None])
def test_a_researcher_of_another_agency_or_none_is_refused(agency: str | None) -> None:
    actor = Actor(actor_id="res-sam.roe", role=Role.RESEARCHER, agency=agency)
    refusal = domain.actor_problem(note(actor), "police")
    assert refusal is not None
    assert refusal.code == "other-agency-researcher"


def test_a_note_for_another_agencys_answer_is_refused_here() -> None:
    health = Actor(actor_id="res-sam.roe", role=Role.RESEARCHER, agency="health")
    refusal = domain.actor_problem(note(health, agency="health"), "police")
    assert refusal is not None
    assert refusal.code == "other-agency"


# --- about whom ---------------------------------------------------------------

def test_the_note_is_about_a_person_the_enquiry_names() -> None:
    assert domain.note_subject(note(), enquiry(), filed=True) == AVA


def test_no_enquiry_on_the_case_is_refused() -> None:
    refusal = domain.note_subject(note(), None, filed=False)
    assert isinstance(refusal, domain.Refusal)
    assert refusal.code == "no-enquiry"


def test_an_enquiry_answered_before_it_was_kept_whole_is_refused() -> None:
    refusal = domain.note_subject(note(), None, filed=True)
    assert isinstance(refusal, domain.Refusal)
    assert refusal.code == "enquiry-not-held"


def test_a_person_the_enquiry_does_not_name_is_refused() -> None:
    refusal = domain.note_subject(note(person_ref="child-7"), enquiry(), filed=True)
    assert isinstance(refusal, domain.Refusal)
    assert refusal.code == "no-such-person"


def test_a_person_no_record_could_be_matched_to_is_refused() -> None:
    refusal = domain.note_subject(note(person_ref="adult-1"), enquiry(), filed=True)
    assert isinstance(refusal, domain.Refusal)
    assert refusal.code == "person-not-identifiable"


def test_refusals_name_no_person() -> None:
    refusals = [domain.note_subject(note(person_ref=ref), enquiry(), filed=True)
                for ref in ("child-7", "adult-1")]
    texts = " ".join(r.text for r in refusals if isinstance(r, domain.Refusal))
    assert not any(name in texts for name in ("Ava", "Kerry", "Dean", "Smith", "Marsh"))


# --- the record it makes --------------------------------------------------------

def test_the_record_is_the_person_as_the_enquiry_names_them() -> None:
    record = domain.note_record(AVA, note(), "police-note-1", date(2026, 11, 20))
    assert (record.record_id, record.record_type, record.given_name, record.family_name,
            record.date_of_birth, record.postcode, record.summary, record.occurred_on,
            record.risk) == ("police-note-1", "welfare-concern", "Ava", "Smith",
                             date(2019, 4, 2), "RG12 7AB", "Seen alone at the park at 23:00.",
                             date(2026, 11, 19), "high")


@pytest.mark.parametrize("subject", [AVA, KERRY])
def test_answering_finds_the_record_again(subject: Subject) -> None:
    record = domain.note_record(subject, note(person_ref=subject.person_ref), "r", NOW.date())
    assert domain.matches(subject, record)


def test_a_note_without_a_date_happened_today() -> None:
    record = domain.note_record(AVA, note(occurred_on=None), "r", date(2026, 11, 20))
    assert record.occurred_on == date(2026, 11, 20)


def test_today_is_the_day_in_london() -> None:
    assert domain.local_day(datetime(2026, 7, 1, 23, 30, tzinfo=UTC)) == date(2026, 7, 2)
    assert domain.local_day(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)) == date(2026, 12, 1)


def test_a_note_record_id_is_the_agencys_and_stable() -> None:
    assert domain.note_record_id("police", "cmd-1") == domain.note_record_id("police", "cmd-1")
    assert domain.note_record_id("police", "cmd-1").startswith("police-note-")
    assert domain.note_record_id("police", "cmd-1") != domain.note_record_id("police", "cmd-2")


# --- answering again -------------------------------------------------------------

def test_answering_again_is_a_new_finding_caused_by_the_note() -> None:
    record = domain.note_record(AVA, note(), "police-note-1", NOW.date())
    first, _ = domain.answer(enquiry(), [], POLICE, NOW)
    again, used = domain.answer(enquiry(), [record], POLICE, NOW, cause="cmd-1")
    assert again.id == derived_id("finding", "evt-enq-1", "cmd-1") != first.id
    assert again.causation_id == "cmd-1"
    assert first.causation_id == "evt-enq-1"
    assert [item.category for item in again.data.items] == ["welfare-concern"]
    assert used == ["police-note-1"]


def test_the_note_is_disclosed_under_the_agencys_policy() -> None:
    record = domain.note_record(AVA, note(), "police-note-1", NOW.date())
    again, _ = domain.answer(enquiry(Rag.GREEN), [record], POLICE, NOW, cause="cmd-1")
    [item] = again.data.items
    assert (item.category, item.summary, item.occurred_on) == ("welfare-concern", None, None)
