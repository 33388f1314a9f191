from datetime import UTC, date, datetime

import pytest

from contracts.contact import ConsentState, Rag
from contracts.events import EnquiryData, EnquiryRequested, Subject
from services.research import domain
from services.research.policy import load_policy

POLICE = load_policy("police")

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
AVA = Subject(person_ref="child-0", role="child", given_name="Ava", family_name="Smith",
              date_of_birth=date(2019, 4, 2), postcode="RG12 7AB")
RECORD = domain.Record(record_id="police-00001", record_type="domestic-abuse-incident",
                       given_name="AVA", family_name="smith", date_of_birth=date(2019, 4, 2),
                       postcode="RG127AB", summary="Attended domestic incident.",
                       occurred_on=date(2026, 1, 5), risk="medium")


def enquiry(rag: Rag = Rag.RED, consent: ConsentState = ConsentState.NOT_SOUGHT,
            subjects: list[Subject] | None = None) -> EnquiryRequested:
    return EnquiryRequested.new(
        EnquiryData(enquiry_id="enq-1", case_id="CASE-1", agency="police",
                    subjects=subjects or [AVA], rag=rag, consent=consent, purpose="research",
                    lawful_basis="DPA 2018 Sch.1 para 18", concerns=["3B"], requested_at=NOW,
                    answer_by=NOW),
        id="evt-enq-1", source="/mash/intake", subject="CASE-1", correlation_id="C-1")


@pytest.mark.parametrize(
    ("rag", "consent", "level"),
    [
        (Rag.RED, ConsentState.NOT_SOUGHT, "full"),
        (Rag.RED, ConsentState.REFUSED, "full"),
        (Rag.AMBER, ConsentState.GIVEN, "full"),
        (Rag.AMBER, ConsentState.REFUSED, "summary"),
        (Rag.GREEN, ConsentState.GIVEN, "summary"),
        (Rag.GREEN, ConsentState.NOT_SOUGHT, "known-only"),
        (Rag.GREEN, ConsentState.REFUSED, "known-only"),
    ],
)
def test_disclosure_is_proportionate(rag: Rag, consent: ConsentState, level: str) -> None:
    assert POLICE.level(rag, consent) == level


def test_red_enquiry_gets_dates_and_detail() -> None:
    finding, used = domain.answer(enquiry(Rag.RED), [RECORD], POLICE, NOW)
    [item] = finding.data.items
    assert finding.data.result == "trace"
    assert item.summary == "Attended domestic incident."
    assert item.occurred_on == date(2026, 1, 5)
    assert used == ["police-00001"]


def test_green_without_consent_gets_known_and_category_only() -> None:
    finding, _ = domain.answer(enquiry(Rag.GREEN, ConsentState.REFUSED), [RECORD], POLICE, NOW)
    [item] = finding.data.items
    assert (item.category, item.summary, item.occurred_on) == \
        ("domestic-abuse-incident", None, None)


def test_findings_never_carry_the_raw_record() -> None:
    finding, _ = domain.answer(enquiry(), [RECORD], POLICE, NOW)
    text = finding.model_dump_json()
    assert "police-00001" not in text
    assert "RG127AB" not in text


def test_no_trace_is_an_explicit_answer() -> None:
    stranger = AVA.model_copy(update={"date_of_birth": date(2018, 1, 1)})
    finding, used = domain.answer(enquiry(subjects=[stranger]), [RECORD], POLICE, NOW)
    assert finding.data.result == "no-trace"
    assert finding.data.items == []
    assert used == []


def test_without_a_date_of_birth_the_postcode_must_match() -> None:
    no_dob = AVA.model_copy(update={"date_of_birth": None})
    assert domain.matches(no_dob, RECORD)
    assert not domain.matches(no_dob.model_copy(update={"postcode": "SL1 1AA"}), RECORD)
    assert not domain.matches(no_dob.model_copy(update={"postcode": None}), RECORD)


def test_the_finding_answers_the_enquiry_that_asked() -> None:
    asked = enquiry()
    finding, _ = domain.answer(asked, [], POLICE, NOW)
    again, _ = domain.answer(asked, [], POLICE, NOW)
    assert finding.causation_id == asked.id
    assert finding.subject == "CASE-1"
    assert finding.id == again.id


def test_the_most_urgent_is_researched_first() -> None:
    assert domain.priority(Rag.RED) < domain.priority(Rag.AMBER) < domain.priority(Rag.GREEN)


def test_a_sensitive_record_type_is_capped_by_the_agencys_policy() -> None:
    marac = domain.Record(**{**RECORD.__dict__, "record_id": "police-2",
                             "record_type": "marac-flag", "risk": "high"})
    finding, _ = domain.answer(enquiry(Rag.AMBER, ConsentState.GIVEN), [RECORD, marac], POLICE,
                               NOW)
    # Most serious first: the high-risk flag, then the ordinary record.
    flagged, ordinary = finding.data.items
    assert ordinary.summary == "Attended domestic incident."  # AMBER with consent: full
    assert (flagged.category, flagged.summary, flagged.occurred_on, flagged.risk) == \
        ("marac-flag", None, None, "high")  # capped to known-only below RED
    red, _ = domain.answer(enquiry(Rag.RED), [marac], POLICE, NOW)
    assert red.data.items[0].summary is not None


def test_a_finding_carries_the_most_serious_and_most_recent_items_up_to_its_bound() -> None:
    from datetime import timedelta

    from contracts.events import MAX_FINDING_ITEMS

    many = [domain.Record(**{**RECORD.__dict__, "record_id": f"police-{n}",
                             "occurred_on": RECORD.occurred_on - timedelta(days=n),
                             "risk": "high" if n in (70, 90) else "low",
                             "summary": "x" * 3000}) for n in range(100)]
    finding, used = domain.answer(enquiry(Rag.RED), many, POLICE, NOW)
    assert len(finding.data.items) == MAX_FINDING_ITEMS == len(used)
    assert used[:3] == ["police-70", "police-90", "police-0"]
    assert {len(i.summary or "") for i in finding.data.items} == {1000}
