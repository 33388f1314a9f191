"""Decision takes a finding only from the research service of the agency it
names; a command it cannot read is refused where its sender waits; every
contact's sender is owed the outcome; another authority's enquiry is owed
its answer on time."""

import json
from datetime import timedelta

import pytest

from contracts.casework import HistoryKind
from contracts.events import ContactAddedData, DecisionMade
from contracts.signing import new_key, sign
from plumbing.guard import Unusable
from services.decision import domain, provenance
from tests.factories import contact
from tests.unit.test_decision_workflow import AUTO, FRIDAY_1655, MANUAL, all_in, new_case, of

POLICE, HEALTH = new_key(), new_key()
KEYS = {"research-police": POLICE.public_key(), "research-health": HEALTH.public_key()}
VALUE = b'{"data": {"agency": "police"}}'


def refused(headers: dict[str, str], agency: str = "police") -> str:
    with pytest.raises(Unusable) as caught:
        provenance.check_finding(VALUE, headers, agency, KEYS)
    return caught.value.problems[0][1]


def test_a_finding_signed_by_its_own_agency_is_taken() -> None:
    headers = sign(POLICE, "research-police", VALUE)
    assert provenance.check_finding(VALUE, headers, "police", KEYS) == "research-police"


def test_a_finding_in_another_agencys_name_is_refused() -> None:
    # Health's research service, with its own valid key, reporting as police.
    assert refused(sign(HEALTH, "research-health", VALUE)).startswith(
        "signed by research-health, but names police")
    # Health's key presented as police's.
    assert refused(sign(HEALTH, "research-police", VALUE)).startswith("signature does not match")
    assert refused({}).startswith("a finding from police that is not signed")
    tampered = sign(POLICE, "research-police", b"something else")
    assert refused(tampered).startswith("signature does not match")


def test_a_command_it_cannot_read_is_refused_on_the_cases_history() -> None:
    raw = json.dumps({"id": "cmd-1", "type": "mash.command.recommend",
                      "data": {"case_id": "CASE-1", "rationale": "  ",
                               "actor": {"actor_id": "sw-ann", "role": "social-worker"}}}).encode()
    named = domain.command_named(raw)
    assert named is not None
    refusal = domain.unreadable_command_refusal(*named, "rationale: not blank", FRIDAY_1655)
    assert refusal.causation_id == "cmd-1"  # what the CLI waits for
    assert refusal.data.kind is HistoryKind.COMMAND_REFUSED
    assert refusal.data.actor.actor_id == "sw-ann"
    assert refusal.data.text == "Command refused: rationale: not blank"
    for garbage in (b"\x01", b"[]", b'{"id": "x"}', json.dumps({"id": "x" * 500,
                                                               "data": {"case_id": "C"}}).encode()):
        assert domain.command_named(garbage) is None


def test_every_contact_in_a_case_is_owed_the_outcome_by_its_own_sender() -> None:
    case = new_case()
    case = case.model_copy(update={"opened": case.opened.model_copy(update={"sender": "police"})})
    added = ContactAddedData(case_id="CASE-1", contact=contact(contact_id="C-2",
                                                               referrer_reference="EH-2",
                                                               kind="early-help-request"),
                             sender="early-help", reason="re-contact", added_at=FRIDAY_1655)
    step = domain.contact_added(case, added, FRIDAY_1655, AUTO, "add-1")
    step.case.added.append(domain.AddedContact(contact=added.contact, sender="early-help",
                                               reason="re-contact", added_at=FRIDAY_1655))
    referrals = step.case.referrals()
    assert [(r.contact_id, r.sender, r.kind) for r in referrals] == [
        ("C-0001", "police", "concern"), ("C-2", "early-help", "early-help-request")]


def test_another_authoritys_enquiry_is_owed_its_answer_and_the_decision_gives_it() -> None:
    due = FRIDAY_1655 + timedelta(hours=20)
    step = all_in(MANUAL, kind="confidential-enquiry", answer_due=due.isoformat())
    enquiry = step.case.timescale(domain.LA_ENQUIRY)
    assert enquiry is not None
    assert enquiry.due_at == due
    assert enquiry.open
    decided = all_in(AUTO, kind="confidential-enquiry", answer_due=due.isoformat())
    [made] = of(decided, DecisionMade)
    assert made.data.referrals[0].kind == "confidential-enquiry"
    met = decided.case.timescale(domain.LA_ENQUIRY)
    assert met is not None
    assert met.met_at is not None
    # Without a time asked for: the enquiry window from receipt.
    plain = all_in(MANUAL, kind="confidential-enquiry").case.timescale(domain.LA_ENQUIRY)
    assert plain is not None
    assert plain.due_at == FRIDAY_1655 + MANUAL.enquiry_window
    assert all_in(MANUAL).case.timescale(domain.LA_ENQUIRY) is None
