import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.agencies import agencies
from contracts.contact import Rag
from contracts.events import ContactSubmitted
from plumbing.original import describe
from services.intake import domain
from tests.factories import contact, submitted

NOW = datetime(2026, 11, 20, 9, 31, tzinfo=UTC)
WINDOWS = domain.ResearchWindows(red=timedelta(hours=2), amber=timedelta(hours=6),
                                 green=timedelta(hours=24))


@pytest.mark.parametrize(
    ("overrides", "rag"),
    [
        ({"concerns": ["19C"], "referrer_rag": None}, Rag.RED),
        ({"concerns": ["20"], "urgency": "immediate", "referrer_rag": None}, Rag.RED),
        # A code names the category; the severity comes from what else is said.
        ({"concerns": ["16A"], "referrer_rag": None}, Rag.GREEN),
        ({"concerns": ["16A"], "referrer_rag": None, "analysis": "The toddler is often "
          "left alone in the flat and was found unfed and hungry."}, Rag.RED),
        ({"concerns": ["20"], "referrer_rag": None}, Rag.GREEN),
        # The referrer's rating is never lowered by triage...
        ({"concerns": ["20"], "referrer_rag": "RED"}, Rag.RED),
        # ...and never lowers what the concerns suggest.
        ({"concerns": ["18C"], "referrer_rag": "GREEN"}, Rag.AMBER),
        ({"concerns": ["18C"], "referrer_rag": "GREEN",
          "analysis": "Bruising to the child's back where her father hit her."}, Rag.RED),
    ],
)
def test_triage_takes_the_higher_of_referrer_and_concerns(overrides: dict[str, object],
                                                          rag: Rag) -> None:
    assert domain.triage(contact(**overrides)) is rag


def test_poor_contacts_get_data_quality_warnings() -> None:
    poor = contact(children=[{"given_name": "Ava", "family_name": "Smith"}],
                   consent={"state": "not_sought"}, analysis="worried")
    warnings = domain.data_quality(poor)
    assert "children.0: no date of birth or estimated age" in warnings
    assert "children.0: no postcode" in warnings
    assert "consent not sought and no reason given" in warnings
    assert "the referrer's analysis is very short" in warnings
    assert domain.data_quality(contact()) == []


def test_opening_a_case_asks_every_agency_once_keyed_by_case() -> None:
    event = submitted()
    opened, enquiries = domain.open_case(event, agencies(), WINDOWS, NOW)
    case_id = opened.data.case_id
    assert case_id.startswith("CASE-")
    assert opened.subject == case_id
    assert [e.data.agency for e in enquiries] == list(agencies())
    assert {e.subject for e in enquiries} == {case_id}
    assert {e.causation_id for e in enquiries} == {event.id}
    assert {e.correlation_id for e in enquiries} == {"C-0001"}
    # AMBER from the police rating: six hours to answer.
    assert opened.data.research_deadline == NOW + timedelta(hours=6)
    assert {e.data.answer_by for e in enquiries} == {NOW + timedelta(hours=6)}
    refs = [s.person_ref for s in enquiries[0].data.subjects]
    assert refs == ["child-0", "adult-0"]


def test_opening_the_same_contact_twice_gives_the_same_ids() -> None:
    first, first_enquiries = domain.open_case(submitted(), agencies(), WINDOWS, NOW)
    again, again_enquiries = domain.open_case(submitted(), agencies(), WINDOWS,
                                              NOW + timedelta(seconds=5))
    assert first.id == again.id
    assert first.data.case_id == again.data.case_id
    assert [e.id for e in first_enquiries] == [e.id for e in again_enquiries]


def test_lawful_basis_follows_consent() -> None:
    assert "Consent" in domain.lawful_basis(contact(consent={"state": "given"}))
    assert "para 18" in domain.lawful_basis(contact())


def test_rejection_describes_the_original_and_whatever_identifies_it() -> None:
    raw = json.dumps({"data": {"contact_id": "C-9", "referrer_reference": "EDU-9",
                               "referrer": {"agency": "education"}}}).encode()
    rejected = domain.reject(raw, [("children", "must not be empty")], topic="t", partition=1,
                             offset=7, fingerprint="t/1/7/0/x", sender="education",
                             original=describe(raw, "mash_intake.quarantine/r-1"), now=NOW)
    data = rejected.data
    assert (data.contact_id, data.referrer_reference, data.referrer_agency) == \
        ("C-9", "EDU-9", "education")
    assert data.problems[0].field == "children"
    assert data.sender == "education"
    assert data.original.sha256 == hashlib.sha256(raw).hexdigest()
    assert data.original.kept_as == "mash_intake.quarantine/r-1"
    assert "EDU-9" not in data.original.preview
    assert '"referrer_reference": "XXX-9"' in \
        data.original.preview
    assert rejected.subject == "C-9"
    assert rejected.id == domain.rejection_id("t/1/7/0/x")


def test_rejecting_unreadable_bytes_still_says_where_they_were() -> None:
    rejected = domain.reject(b"\xff", [("(message)", "is not JSON")], topic="t", partition=0,
                             offset=3, fingerprint="t/0/3/0/y", sender=None,
                             original=describe(b"\xff", "k"), now=NOW)
    assert rejected.data.contact_id is None
    assert rejected.data.sender is None
    assert rejected.subject == "t/0/3"
    assert rejected.data.original.size_bytes == 1


def test_a_rejection_is_bounded_however_many_problems_and_however_long() -> None:
    raw = json.dumps({"data": {"contact_id": "C" * 5000}}).encode()
    found = [(f"children.{i}." + "x" * 500, "y" * 5000) for i in range(300)]
    rejected = domain.reject(raw, found, topic="t", partition=0, offset=1, fingerprint="f",
                             sender=None, original=describe(raw, "k"), now=NOW)
    problems = rejected.data.problems
    assert len(problems) == domain.MAX_PROBLEMS
    assert problems[-1].problem == "and 251 more problems like these"
    assert max(len(p.field) for p in problems) == 300
    assert max(len(p.problem) for p in problems) == 2000
    assert len(rejected.data.contact_id or "") == 200
    assert len(rejected.checked_bytes()) < 200_000


def test_a_receipt_quotes_the_case_and_what_could_be_better() -> None:
    event = ContactSubmitted.new(contact(analysis="Short."), source="/agency/police",
                                 subject="C-1", correlation_id="C-1")
    given = domain.receipt(event, "police", "CASE-1", already=False, now=NOW)
    assert (given.data.case_id, given.data.status, given.data.sender) == \
        ("CASE-1", "accepted", "police")
    assert "the referrer's analysis is very short" in given.data.data_quality
    again = domain.receipt(event, "police", "CASE-1", already=True, now=NOW)
    assert again.data.status == "already-received"
    assert again.id == given.id
    assert "changed nothing" in again.data.message


# --- the same thing twice, and the same person again -----------------------

from services.intake.person_index import PersonRecord, Thresholds  # noqa: E402


def test_people_are_new_or_linked_and_the_contact_carries_their_ids() -> None:
    c = contact(children=[{"given_name": "Ava", "family_name": "Smith",
                           "date_of_birth": "2019-04-02", "postcode": "RG12 7AB"},
                          {"given_name": "Leo", "family_name": "Smith",
                           "date_of_birth": "2022-09-17", "postcode": "RG12 7AB"}])
    known_ava = PersonRecord("Avah", "Smith", date(2019, 4, 2), "RG12 7AB", "child")
    maybe_leo = PersonRecord("Leo", "Smith", None, "RG12 9ZZ", "child")
    who = domain.identify_people("evt-1", c, {"child-0": [("P-AVA", [known_ava])],
                                              "child-1": [("P-LEO", [maybe_leo])]},
                                 Thresholds())
    assert who.linked_children == ["P-AVA"]
    assert who.contact.children[0].person_id == "P-AVA"
    leo_id = who.contact.children[1].person_id
    assert leo_id is not None
    assert leo_id.startswith("P-")
    assert leo_id != "P-LEO"
    assert who.contact.household[0].person_id == who.new["adult-0"][0]
    bands = {m.person_ref: m.band for m in who.contact.person_matches}
    assert bands == {"child-0": "link", "child-1": "possible"}
    assert who.contact.person_matches[1].explanation
    assert who.children == ["P-AVA", leo_id]
    # Deterministic: a redelivery gives the same new ids.
    again = domain.identify_people("evt-1", c, {}, Thresholds())
    assert again.new["child-1"][0] == leo_id


def test_one_indexed_person_is_matched_once_per_contact() -> None:
    c = contact(children=[{"given_name": "Ava", "family_name": "Smith",
                           "date_of_birth": "2019-04-02", "postcode": "RG12 7AB"},
                          {"given_name": "Ava", "family_name": "Smith",
                           "date_of_birth": "2019-04-02", "postcode": "RG12 7AB"}])
    ava = PersonRecord("Ava", "Smith", date(2019, 4, 2), "RG12 7AB", "child")
    offered = [("P-AVA", [ava])]
    who = domain.identify_people("e", c, {"child-0": offered, "child-1": offered}, Thresholds())
    assert len(who.linked) == 1
    assert "child-1" in who.new


def test_which_case_a_contact_joins() -> None:
    assert domain.joins(incident="C1", household="C2", child="C3") == ("C1", "same-incident")
    assert domain.joins(incident=None, household="C2", child="C3") == ("C2", "same-incident")
    assert domain.joins(incident=None, household=None, child="C3") == ("C3", "re-contact")
    assert domain.joins(incident=None, household=None, child=None) is None


def test_incident_and_household_keys() -> None:
    c = contact(incident_reference="43260118230")
    assert domain.incident_key(c) == "police|43260118230"
    assert domain.incident_key(contact()) is None
    assert domain.household_key(c) == "RG127AB|smith"
    assert domain.household_key(contact(children=[{"given_name": "A", "family_name": "B"}])) is None


def test_a_contact_added_is_derived_from_the_contact_event() -> None:
    event = submitted()
    added = domain.contact_added(event, "CASE-1", "re-contact", NOW)
    assert added.subject == "CASE-1"
    assert added.id == domain.contact_added(event, "CASE-1", "re-contact", NOW).id
    assert (added.data.reason, added.causation_id) == ("re-contact", event.id)
