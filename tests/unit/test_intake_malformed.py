"""Thousands of malformed contacts at intake's parse and normalise: each one
ends accepted (a case can be opened) or rejected with at least one problem in
words, and never with any other exception, which would stall a partition."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.events import ContactRejected, ContactSubmitted
from contracts.formats import FORMATS, Submission
from plumbing.original import describe
from services.intake import domain, problems
from services.intake.formats import parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contacts"
EXAMPLES = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
WINDOWS = domain.ResearchWindows(red=timedelta(hours=2), amber=timedelta(hours=6),
                                 green=timedelta(hours=24))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
    st.text(max_size=30), st.sampled_from(["", " ", "2026-13-45", "2019-04-02", "RED",
                                           "2026-11-20T09:30:00Z", "2026-11-20T09:30:00",
                                           "99Z", "21", "16A", "unknown", "given", "not-sought",
                                           *FORMATS]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, to break one of them."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def mutate(body: Any, path: tuple[Any, ...], how: str, new: Any) -> Any:
    if not path:
        return new
    parent = body
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "extra" and isinstance(parent, dict):
        parent[f"{last}_x"] = new
    elif how == "empty":
        parent[last] = type(parent[last])() if isinstance(parent[last], list | dict | str) else None
    else:
        parent[last] = new
    return body


@st.composite
def malformed(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not a contact at all
    body = json.loads(json.dumps(draw(st.sampled_from(EXAMPLES))))
    for _ in range(draw(st.integers(1, 4))):
        places = paths(body)
        if not places:
            break
        path = draw(st.sampled_from(places))
        how = draw(st.sampled_from(["replace", "delete", "extra", "empty"]))
        if not path and how != "replace":
            continue
        body = mutate(body, path, how, draw(json_values))
    return body


def intake(body: Any) -> str:
    """What intake does with one decoded message: 'accepted' or 'rejected'."""
    raw = json.dumps(body).encode()
    try:
        submission = Submission.model_validate(body)  # FastStream's argument check
        event = parse(submission.model_dump())
    except ValidationError as error:
        found = problems.plain(error)
        assert found, "a rejection gives at least one problem"
        assert all(isinstance(f, str) and f and isinstance(p, str) and p for f, p in found)
        rejected = domain.reject(raw, found, topic="mash.contacts.submitted", partition=0,
                                 offset=1, fingerprint="t/0/1/0/x", sender="police",
                                 original=describe(raw, "k"), now=NOW)
        assert ContactRejected.model_validate_json(rejected.checked_bytes()) == rejected
        return "rejected"
    assert isinstance(event, ContactSubmitted)
    opened, enquiries = domain.open_case(event, ("police",), WINDOWS, NOW, sender="police")
    assert isinstance(opened.data.data_quality, list)
    # Whatever was accepted makes events that fit on the broker.
    receipt = domain.receipt(event, "police", "CASE-1", already=False, now=NOW)
    opened.checked_bytes()
    receipt.checked_bytes()
    for enquiry in enquiries:
        enquiry.checked_bytes()
    return "accepted"


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(malformed())
def test_every_malformed_contact_is_accepted_or_rejected_never_a_crash(body: Any) -> None:
    assert intake(body) in ("accepted", "rejected")


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(EXAMPLES), st.sampled_from(sorted(FORMATS)))
def test_a_body_sent_under_the_wrong_type_is_rejected_not_misread(body: Any, kind: str) -> None:
    wrong = {**body, "type": kind}
    outcome = intake(wrong)
    if kind != body["type"]:
        assert outcome == "rejected"


def test_the_examples_themselves_are_accepted() -> None:
    assert {intake(json.loads(json.dumps(b))) for b in EXAMPLES} == {"accepted"}
