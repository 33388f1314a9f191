import json

import pytest
from pydantic import ValidationError

from contracts import topics
from contracts.agencies import agencies
from contracts.contact import Rag
from contracts.envelope import derived_id
from contracts.events import ALL_EVENTS, ContactSubmitted
from contracts.export import SCHEMAS, render
from tests.factories import contact, contact_dict, submitted


def test_envelope_round_trips_with_cloudevents_attributes() -> None:
    event = submitted()
    body = json.loads(event.to_bytes())
    for attribute in ("id", "source", "type", "specversion", "time", "subject",
                      "datacontenttype", "schema_version", "correlation_id", "causation_id"):
        assert attribute in body
    assert body["specversion"] == "1.0"
    assert body["type"] == "mash.contact.submitted"
    assert ContactSubmitted.model_validate_json(event.to_bytes()) == event


def test_derived_ids_are_stable_and_distinct() -> None:
    assert derived_id("a", "b") == derived_id("a", "b")
    assert derived_id("a", "b") != derived_id("a", "c")
    assert derived_id("ab", "c") != derived_id("a", "bc")


def test_agencies_are_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert agencies() == ("police", "health", "education", "childrens-social-care",
                          "probation", "housing")
    agencies.cache_clear()
    monkeypatch.setenv("MASH_AGENCIES", "police,youth-offending")
    try:
        assert agencies() == ("police", "youth-offending")
        assert "mash.enquiries.youth-offending" in topics.all_topics()
        assert "mash.feedback.youth-offending" in topics.all_topics()
    finally:
        agencies.cache_clear()


def test_agency_names_must_be_topic_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    agencies.cache_clear()
    monkeypatch.setenv("MASH_AGENCIES", "police,Youth Offending")
    try:
        with pytest.raises(ValueError, match="lower-case"):
            agencies()
    finally:
        agencies.cache_clear()


def test_topic_names_are_the_public_interface() -> None:
    assert topics.enquiries("police") == "mash.enquiries.police"
    assert topics.feedback("health") == "mash.feedback.health"
    assert set(topics.OUTCOME_TOPICS) == {"mash.outcomes.social-care", "mash.outcomes.early-help",
                                          "mash.outcomes.nfa"}
    assert len(set(topics.all_topics())) == len(topics.all_topics())


def test_red_work_has_a_lane_of_its_own_where_work_queues() -> None:
    assert topics.lane(topics.FINDINGS, Rag.RED) == "mash.findings.urgent"
    for rag in (Rag.AMBER, Rag.GREEN):
        assert topics.lane(topics.FINDINGS, rag) == "mash.findings"
    assert topics.lanes(topics.enquiries("police")) == ("mash.enquiries.police",
                                                        "mash.enquiries.police.urgent")
    every = set(topics.all_topics())
    for topic in topics.laned():
        assert {topic, topics.urgent(topic)} <= every
    # Outcomes, decisions and the rest have no lane: nothing queues there for long.
    assert topics.urgent(topics.DECISIONS) not in every


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"concerns": ["99Z"]}, "concerns", "not in the Children in Need factor list"),
        ({"concerns": ["21", "16A"]}, "concerns", "only be used on its own"),
        ({"children": []}, "children", "at least 1"),
        ({"referrer": {"agency": "police", "source_code": "66"}}, "referrer.source_code",
         "not a Children in Need referral source code"),
        ({"children": [{"given_name": "A", "family_name": "B", "date_of_birth": "2027-01-01"}]},
         "", "in the future"),
        ({"received_at": "2026-11-20T09:30:00"}, "received_at", "timezone"),
    ],
)
def test_contact_rejects_what_cannot_be_used(overrides: dict[str, object], field: str,
                                             words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        contact(**overrides)
    text = str(caught.value)
    assert words in text
    assert field in text


def test_a_child_without_date_of_birth_is_usable() -> None:
    c = contact(children=[{"given_name": "Ava", "family_name": "Smith"}])
    assert c.children[0].date_of_birth is None


def test_unknown_fields_are_refused_not_silently_dropped() -> None:
    with pytest.raises(ValidationError, match="extra"):
        contact(**{**contact_dict(), "childs": []})


def test_committed_json_schemas_match_the_models() -> None:
    expected = render()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    assert set(committed) == set(expected), "run `make contracts` to regenerate"
    for name, text in expected.items():
        assert committed[name] == text, f"{name} drifted from the model: run `make contracts`"
    assert len(expected) == len(ALL_EVENTS)
