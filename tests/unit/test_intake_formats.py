"""Every agency format normalises to the canonical Contact; what cannot be
used is refused field by field, in words a referrer can act on."""

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.contact import ConsentState, Rag, Urgency
from contracts.events import ContactSubmitted
from contracts.export import FORMAT_SCHEMAS, render_formats
from contracts.formats import AGENCY_FORMATS, FORMATS
from services.intake import domain, problems
from services.intake.formats import identify, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contacts"
WINDOWS = domain.ResearchWindows(red=timedelta(hours=2), amber=timedelta(hours=6),
                                 green=timedelta(hours=24))


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return body


def rejected(body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse(body)
    return dict(problems.plain(caught.value))


def test_there_is_a_realistic_example_of_every_format() -> None:
    types = {fixture(p.name)["type"] for p in FIXTURES.glob("*.json")}
    assert types == {f.event_type for f in AGENCY_FORMATS}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_example_becomes_a_usable_contact(name: str) -> None:
    body = fixture(name)
    event = parse(body)
    assert isinstance(event, ContactSubmitted)
    assert event.id == body["id"]
    assert event.data.contact_id == body["subject"]
    assert event.data.source_format == body["type"]
    assert event.data.received_at.isoformat().startswith(body["time"][:16])
    # Each is a case the hub can open, with a triage and its data quality said out loud.
    opened, enquiries = domain.open_case(event, ("police", "health"), WINDOWS, event.time)
    assert opened.data.contact == event.data
    assert enquiries


def test_police_notification() -> None:
    c = parse(fixture("police-domestic-abuse.json")).data
    assert (c.referrer.agency, c.referrer.source_code, c.channel) == ("police", "6", "notification")
    assert c.referrer_reference == "PPN-TV-2026-118230"
    assert c.incident_reference == "43260118230"
    assert c.referrer_rag is Rag.AMBER
    assert c.urgency is Urgency.TODAY
    assert c.concerns == ["3B"]
    assert [ch.given_name for ch in c.children] == ["Ava", "Leo"]
    assert c.children[0].postcode == "RG12 7AB"
    assert c.children[0].ethnicity == "White British"
    assert c.household[1].relationship == "mother's partner (suspect)"
    assert c.household[1].postcode == "RG12 1QQ"
    assert "Officer's view" in c.analysis
    # Police notify without consent; outside child protection that is flagged, not refused.
    assert c.consent.state is ConsentState.NOT_SOUGHT
    assert "consent not sought and no reason given" in domain.data_quality(c)


def test_police_exploitation_shares_without_consent_and_says_why() -> None:
    c = parse(fixture("police-missing-person.json")).data
    assert c.concerns == ["10A", "24A"]
    assert c.consent.overridden
    assert "could place the child at risk" in (c.consent.reason or "")
    assert domain.triage(c) is Rag.RED


@pytest.mark.parametrize(("name", "code"), [("health-visitor.json", "3B"), ("health-gp.json", "3A"),
                                            ("health-emergency-department.json", "3E"),
                                            ("health-midwife-unborn.json", "3D")])
def test_health_referrers_have_their_census_source(name: str, code: str) -> None:
    assert parse(fixture(name)).data.referrer.source_code == code


def test_an_unborn_baby_has_an_expected_date_of_delivery() -> None:
    c = parse(fixture("health-midwife-unborn.json")).data
    baby = c.children[0]
    assert baby.given_name == "Unborn"
    assert baby.date_of_birth is None
    assert str(baby.expected_date_of_delivery) == "2027-02-14"
    assert c.consent.state is ConsentState.REFUSED
    assert c.consent.overridden


def test_an_unborn_baby_with_a_date_of_birth_is_refused_where_it_is_wrong() -> None:
    body = fixture("health-midwife-unborn.json")
    body["data"]["patients"][0]["date_of_birth"] = "2026-10-01"
    found = rejected(body)
    assert "expected_date_of_delivery" in found["data.patients.0.date_of_birth"]


def test_education_disclosure_injury_and_attendance() -> None:
    disclosure = parse(fixture("education-disclosure.json")).data
    assert disclosure.referrer.source_code == "2A"
    assert disclosure.concerns == ["18C"]
    assert "Daddy hit me" in disclosure.analysis
    assert [c.given_name for c in disclosure.children] == ["Ruby", "Harry"]
    assert disclosure.children[1].postcode == "RG42 1AA"  # a sibling lives with the pupil
    assert disclosure.urgency is Urgency.IMMEDIATE
    injury = parse(fixture("education-injury.json")).data
    assert injury.concerns == ["18C"]
    assert "upper left arm" in injury.analysis
    attendance = parse(fixture("education-attendance.json")).data
    assert "72%" in attendance.analysis
    assert domain.triage(attendance) is Rag.GREEN


def test_a_disclosure_without_what_was_said_is_refused_with_what_to_add() -> None:
    body = fixture("education-disclosure.json")
    del body["data"]["disclosure"]
    found = rejected(body)
    assert "what the child said" in found["data.disclosure"]


def test_probation_housing_public_early_help_and_enquiry() -> None:
    probation = parse(fixture("probation.json")).data
    assert (probation.referrer.source_code, probation.concerns) == ("7", ["3B", "1B"])
    assert probation.children[0].postcode == "RM1 2DB"  # he lives with them
    assert probation.household[0].relationship.startswith("mother's partner (on probation")
    assert probation.urgency is Urgency.TODAY
    housing = parse(fixture("housing.json")).data
    assert [c.given_name for c in housing.children] == ["Ellie", "Max"]
    assert housing.children[1].estimated_age == 6
    assert housing.household[0].relationship == "lead tenant"
    assert housing.concerns == ["16A"]
    call = parse(fixture("public-anonymous-call.json")).data
    assert call.referrer.anonymous
    assert call.referrer.source_code == "9"
    assert call.referrer.name is None
    assert call.channel == "phone"
    assert call.children[1].given_name == "Unknown"
    assert "children.1: given name not known to the referrer" in domain.data_quality(call)
    relative = parse(fixture("public-named-relative.json")).data
    assert (relative.referrer.source_code, relative.referrer.name) == ("1A", "Margaret Clarke")
    early = parse(fixture("early-help-request.json")).data
    assert (early.kind, early.referrer.source_code) == ("early-help-request", "5D")
    assert early.consent.state is ConsentState.GIVEN
    enquiry = parse(fixture("la-confidential-enquiry.json")).data
    assert enquiry.kind == "confidential-enquiry"
    assert enquiry.referrer.source_code == "5C"
    assert enquiry.answer_due is not None
    assert enquiry.answer_due.isoformat() == "2026-11-21T09:00:00+00:00"
    assert enquiry.concerns == ["3B", "4B"]


def test_a_canonical_contact_comes_back_exactly_as_sent() -> None:
    from tests.factories import submitted

    event = submitted()
    assert parse(json.loads(event.to_bytes())) == event


def test_an_unknown_format_is_refused_naming_the_formats_we_accept() -> None:
    body = fixture("housing.json")
    body["type"] = "uk.housing.referral.v9"
    found = rejected(body)
    assert "'uk.housing.referral.v9' is not a contact format we accept" in found["type"]
    assert "uk.police.notification.v1" in found["type"]


def test_every_problem_is_given_against_the_senders_own_fields() -> None:
    body = fixture("police-domestic-abuse.json")
    body["data"]["children_present"][0]["date_of_birth"] = "02/04/2019"
    body["data"]["initial_rag"] = "PURPLE"
    body["data"]["officer"].pop("collar_number")
    body["data"]["additional_factors"] = ["99Z"]
    body["data"]["childrens_names"] = "Ava"
    found = rejected(body)
    assert found["data.children_present.0.date_of_birth"] == "must be a date written YYYY-MM-DD"
    assert found["data.initial_rag"] == "must be one of 'RED', 'AMBER' or 'GREEN'"
    assert found["data.officer.collar_number"] == "is required but was not given"
    assert found["data.childrens_names"].startswith("is not a field we know")
    assert len(found) == 4  # the schema's problems first; 99Z is checked once the rest is read
    body = fixture("police-domestic-abuse.json")
    body["data"]["additional_factors"] = ["99Z"]
    body["data"]["children_present"][1]["date_of_birth"] = "2031-01-01"
    found = rejected(body)
    assert "not in the Children in Need factor list" in found["data.additional_factors.0"]
    assert "in the future" in found["data.children_present.1.date_of_birth"]


def test_housing_with_no_children_says_how_to_show_them() -> None:
    body = fixture("housing.json")
    body["data"]["occupants"] = [body["data"]["occupants"][0]]
    assert "no one under 18" in rejected(body)["data.occupants"]


def test_a_rejection_names_the_contact_in_whatever_format_it_came() -> None:
    body = copy.deepcopy(fixture("education-injury.json"))
    assert identify(body) == ("EDU-136001-2026-201", "MYCONCERN-201", "education")
    assert identify(fixture("early-help-request.json"))[2] == "early-help"
    assert identify(["not", "an", "object"]) == (None, None, None)


def test_usable_but_poor_contacts_are_kept_with_warnings() -> None:
    body = fixture("health-gp.json")
    del body["data"]["patients"][0]["date_of_birth"]
    body["data"]["categories"] = ["other"]
    body["data"]["clinical_summary"] = "Worried about her."
    warnings = domain.data_quality(parse(body).data)
    assert "children.0: no date of birth or estimated age" in warnings
    assert "consent not sought and no reason given" in warnings
    assert "the concern is vague: no specific factor and little analysis" in warnings


def test_committed_format_schemas_match_the_models() -> None:
    expected = render_formats()
    committed = {p.name: p.read_text(encoding="utf-8") for p in FORMAT_SCHEMAS.glob("*.json")}
    assert committed == expected, "run `make contracts` to regenerate"
    assert set(FORMATS) - {"mash.contact.submitted"} == {n.removesuffix(".json") for n in expected}
