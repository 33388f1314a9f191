"""A contact through every service on the real broker and database."""

import hashlib
import json
import uuid
from collections.abc import Iterator

import pytest

from contracts import topics
from contracts.agencies import agencies
from contracts.contact import Contact
from contracts.events import (
    CaseOpened,
    ContactReceived,
    ContactRejected,
    ContactSubmitted,
    DeadLettered,
    OutcomeRouted,
    ReferrerFeedback,
)
from synthetic import Family, agency_records, population
from tests.embedded import Wire, about
from tests.factories import contact_dict

pytestmark = pytest.mark.integration


def _police_known_families() -> Iterator[Family]:
    families = population()
    police_know = {(r.given_name, r.date_of_birth) for r in agency_records("police", families)}
    return iter([f for f in families
                 if any((c.given_name, c.date_of_birth) in police_know for c in f.children)
                 or any((a.given_name, a.date_of_birth) in police_know for a in f.adults)])


_KNOWN = _police_known_families()


def known_child_contact(contact_id: str, **overrides: object) -> ContactSubmitted:
    """A contact about a child of the synthetic borough, so agencies hold records.

    Each call is about a different family: a second contact about the same
    child while its case is open would join that case as a re-contact."""
    family = next(_KNOWN)
    child = family.children[0]
    data = contact_dict(
        contact_id=contact_id,
        referrer_reference=f"REF-{contact_id}",
        children=[{"given_name": child.given_name, "family_name": child.family_name,
                   "date_of_birth": child.date_of_birth.isoformat(),
                   "postcode": child.postcode}],
        household=[{"given_name": a.given_name, "family_name": a.family_name,
                    "date_of_birth": a.date_of_birth.isoformat(),
                    "relationship": a.relationship} for a in family.adults],
        **overrides,
    )
    contact = Contact.model_validate(data)
    return ContactSubmitted.new(contact, source="/agency/police", subject=contact_id,
                                correlation_id=contact_id)



async def test_a_contact_reaches_one_outcome_and_the_referrer_hears_back(wire: Wire) -> None:
    cid = f"it-{uuid.uuid4().hex[:8]}"
    await wire.send(topics.CONTACTS_SUBMITTED, known_child_contact(cid), key=cid)

    [(topic, raw)] = await wire.wait_for(topics.OUTCOME_TOPICS, about(cid))
    outcome = OutcomeRouted.model_validate_json(raw)
    assert outcome.data.contact_ids == [cid]
    assert outcome.data.reasons
    assert topic == {"social-care": topics.OUTCOMES_SOCIAL_CARE,
                     "early-help": topics.OUTCOMES_EARLY_HELP,
                     "nfa": topics.OUTCOMES_NFA}[outcome.data.destination.value]

    # The sender hears, on its own topic: a receipt with the case, then the outcome.
    told = await wire.wait_for((topics.feedback("police"),), about(cid), count=2)
    kinds = {json.loads(v)["type"]: v for _, v in told}
    receipt = ContactReceived.model_validate_json(kinds[ContactReceived.event_type])
    assert (receipt.data.case_id, receipt.data.status) == (outcome.data.case_id, "accepted")
    feedback = ReferrerFeedback.model_validate_json(kinds[ReferrerFeedback.event_type])
    assert feedback.data.referrer_reference == f"REF-{cid}"
    assert feedback.data.outcome == outcome.data.outcome
    assert (feedback.data.sender, feedback.data.contact_id) == ("police", cid)

    # Every agency answered, each from its own database, and audited it there.
    case_id = outcome.data.case_id
    decision = await wire.mongo["mash_decision"].cases.find_one({"_id": case_id})
    assert decision is not None
    assert sorted(decision["findings"]) == sorted(agencies())
    assert decision["decision"]["agencies_missing"] == []
    for agency in agencies():
        db = wire.mongo["mash_research_" + agency.replace("-", "_")]
        audit = await db.disclosures.find_one({"case_id": case_id})
        assert audit is not None, f"{agency} did not audit its disclosure"
        assert audit["lawful_basis"]
        assert audit["result"] in ("trace", "no-trace")
    traced = [f for f in decision["findings"].values() if f["result"] == "trace"]
    assert traced, "the synthetic family is known to at least one agency"


def case_of(value: bytes) -> str | None:
    try:
        return str(json.loads(value)["data"]["case_id"])
    except (ValueError, KeyError, TypeError):
        return None  # other tests leave poison, not even JSON, on mash.findings


async def test_a_red_contact_on_the_urgent_lane_stays_on_it_to_its_outcome(wire: Wire) -> None:
    """The referrer's RED lane is read by intake, and the case's events keep
    to RED lanes (cases opened, every agency's enquiry and finding), each read
    by a consumer of its own, so no GREEN backlog is ahead of them."""
    cid = f"red-{uuid.uuid4().hex[:8]}"
    contact = known_child_contact(cid, urgency="immediate", referrer_rag="RED",
                                  concerns=["18C"])
    await wire.send(topics.urgent(topics.CONTACTS_SUBMITTED), contact, key=cid)

    [(_, raw)] = await wire.wait_for(topics.OUTCOME_TOPICS, about(cid))
    outcome = OutcomeRouted.model_validate_json(raw)
    assert outcome.data.rag.value == "RED"
    case_id = outcome.data.case_id
    opened = [t for t, v in await wire.read(*topics.lanes(topics.CASES_OPENED))
              if about(cid)(t, v)]
    assert opened == [topics.urgent(topics.CASES_OPENED)]
    on_lanes = await wire.read(*topics.lanes(topics.FINDINGS),
                               *(t for a in agencies() for t in topics.lanes(topics.enquiries(a))))
    mine = [t for t, v in on_lanes if case_of(v) == case_id]
    assert sorted(mine) == sorted([topics.urgent(topics.FINDINGS)] * len(agencies()) +
                                  [topics.urgent(topics.enquiries(a)) for a in agencies()])


async def test_the_same_contact_twice_opens_one_case_and_one_outcome(wire: Wire) -> None:
    cid = f"dup-{uuid.uuid4().hex[:8]}"
    event = known_child_contact(cid)
    await wire.send(topics.CONTACTS_SUBMITTED, event, key=cid)
    # The same signed event sent again is a new record with an old id: a replay.
    await wire.send(topics.CONTACTS_SUBMITTED, event, key=cid)
    # The same referrer reference under a new event id is a resubmission too.
    again = ContactSubmitted.new(event.data, source="/agency/police", subject=cid,
                                 correlation_id=cid)
    await wire.send(topics.CONTACTS_SUBMITTED, again, key=cid)

    hits = await wire.wait_for(topics.OUTCOME_TOPICS, about(cid))
    await wire.wait_for(topics.lanes(topics.CASES_OPENED), about(cid), count=2, timeout=3)
    opened = [CaseOpened.model_validate_json(v)
              for _, v in await wire.read(*topics.lanes(topics.CASES_OPENED)) if about(cid)(_, v)]
    outcomes = [v for t, v in await wire.read(*topics.OUTCOME_TOPICS) if about(cid)(t, v)]
    assert len(hits) == 1
    assert len(opened) == 1
    assert len(outcomes) == 1
    # Both answered to police alone: the replay refused, the resubmission receipted.
    told = await wire.wait_for((topics.feedback("police"),), about(cid), count=4)
    by_kind: dict[str, list[bytes]] = {}
    for _, v in told:
        by_kind.setdefault(json.loads(v)["type"], []).append(v)
    [raw] = by_kind[ContactRejected.event_type]
    [problem] = ContactRejected.model_validate_json(raw).data.problems
    assert problem.problem.startswith(f"already received: replay of event {event.id}")
    statuses = sorted(ContactReceived.model_validate_json(v).data.status
                      for v in by_kind[ContactReceived.event_type])
    assert statuses == ["accepted", "already-received"]


async def test_unusable_contacts_are_rejected_with_reasons_and_nothing_stalls(wire: Wire) -> None:
    cid = f"bad-{uuid.uuid4().hex[:8]}"
    note = f"Phoned in {cid}: worried about the children next door".encode()
    broken = json.loads(known_child_contact(cid).to_bytes())
    broken["data"]["children"] = []
    broken["data"]["concerns"] = ["99Z"]
    good = f"ok-{uuid.uuid4().hex[:8]}"
    # Same key, so the same partition: the good one must not wait behind the bad.
    await wire.send(topics.CONTACTS_SUBMITTED, note, key="same")
    await wire.send(topics.CONTACTS_SUBMITTED, json.dumps(broken).encode(), key="same")
    await wire.send(topics.CONTACTS_SUBMITTED, known_child_contact(good), key="same")

    bodies = {hashlib.sha256(raw).hexdigest(): raw for raw in
              (note, json.dumps(broken).encode())}
    # Each to its own signer (the note was signed by the contact centre that took
    # the call), each described and held, never carried.
    rejected = {t: ContactRejected.model_validate_json(v) for t, v in await wire.wait_for(
        (topics.feedback("contact-centre"), topics.feedback("police")),
        lambda _t, v: json.loads(v).get("data", {}).get("original", {}).get("sha256") in bodies,
        count=2)}
    assert set(rejected) == {topics.feedback("contact-centre"), topics.feedback("police")}
    unreadable, invalid = rejected[topics.feedback("contact-centre")], \
        rejected[topics.feedback("police")]
    assert unreadable.data.problems[0].problem.startswith("is not JSON")
    assert unreadable.data.original.size_bytes == len(note)
    assert cid not in unreadable.data.original.preview  # masked to its shape
    problems = {p.field: p.problem for p in invalid.data.problems}
    assert problems["data.children"] == "must not be empty"
    assert "99Z" in problems["data.concerns"]
    assert invalid.data.contact_id == cid
    assert invalid.data.referrer_reference == f"REF-{cid}"
    held = await wire.mongo["mash_intake"].quarantine.find_one({"_id": invalid.id})
    assert held is not None
    assert json.loads(held["original"]) == broken
    assert (held["kind"], held["sender"]) == ("rejected", "police")

    assert await wire.wait_for(topics.OUTCOME_TOPICS, about(good))


async def test_a_poison_finding_is_dead_lettered_and_decision_carries_on(wire: Wire) -> None:
    marker = uuid.uuid4().hex
    poison = json.dumps({"poison": marker}).encode()
    await wire.send(topics.FINDINGS, poison, key="poison")
    digest = hashlib.sha256(poison).hexdigest()
    # The desk sets the same poison aside in its own quarantine: decision's is this test's.
    [(_, raw)] = await wire.wait_for(
        (topics.DLQ,), lambda _t, v: digest in v.decode() and
        json.loads(v)["data"].get("consumer") == "decision")
    assert marker not in raw.decode()  # neither the error nor the preview repeats it
    letter = DeadLettered.model_validate_json(raw)
    assert letter.data.consumer == "decision"
    assert letter.data.topic == topics.FINDINGS
    assert letter.data.offset >= 0
    assert "ValidationError" in letter.data.error

    cid = f"after-{uuid.uuid4().hex[:8]}"
    await wire.send(topics.CONTACTS_SUBMITTED, known_child_contact(cid), key="poison")
    assert await wire.wait_for(topics.OUTCOME_TOPICS, about(cid))
