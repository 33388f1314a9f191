"""The reports read the decision service's case document as it is stored:
built here by the decision domain itself and dumped as its store dumps it."""

from datetime import timedelta

from contracts.contact import Rag
from contracts.events import CaseOpenedData, ContactAddedData, Outcome
from mash.report import period
from mash.report.records import CaseDoc, contacts
from services.decision import domain
from services.decision.domain import AddedContact, CaseRecord, Policy
from tests.factories import contact
from tests.unit.test_decision_domain import finding
from tests.unit.test_decision_workflow import FRIDAY_1655


def stored() -> dict[str, object]:
    """One case, decided by the rules, with a re-contact joined after it."""
    first = contact(received_at=FRIDAY_1655.isoformat(), referrer_rag="AMBER")
    opened = CaseOpenedData(case_id="CASE-1", contact=first, expected_agencies=["police"],
                            triage_rag=Rag.AMBER, opened_at=FRIDAY_1655,
                            research_deadline=FRIDAY_1655 + timedelta(hours=6))
    case = CaseRecord.model_validate({"_id": "CASE-1", "opened": opened,
                                      "correlation_id": first.contact_id})
    case.findings["police"] = finding("police")
    step = domain.finding(case, "police", FRIDAY_1655, Policy(auto_authorise=True), "f-1")
    later = FRIDAY_1655 + timedelta(days=3)
    extra = contact(contact_id="C-0002", referrer_reference="EDU-1", received_at=later.isoformat(),
                    referrer={"agency": "education", "source_code": "2A"}, referrer_rag=None)
    record = step.case.model_copy(deep=True)
    record.added.append(AddedContact(contact=extra, reason="re-contact", added_at=later))
    step = domain.contact_added(record, ContactAddedData(case_id="CASE-1", contact=extra,
                                                         reason="re-contact", added_at=later),
                                later, Policy(auto_authorise=True), "c-2")
    # As services/decision/store.py writes it: the opening and joined contacts
    # as JSON, the casework fields as JSON.
    doc = step.case.model_dump(mode="json", by_alias=True)
    doc["opened"] = opened.model_dump(mode="json")
    return doc


def test_the_stored_case_reads_with_every_field_the_reports_use() -> None:
    case = CaseDoc.model_validate(stored())
    assert case.opened is not None
    assert case.opened.triage_rag.value == "AMBER"
    assert case.decision is not None
    assert case.decision.outcome in set(Outcome)
    assert case.decision.proposed_rag is not None
    assert len(case.decisions) == 2  # re-decided with the re-contact included
    assert case.first_decision == case.decisions[0]
    names = [t.timescale for t in case.timescales]
    assert {"decision-rag", "decision-working-day", "confidential-enquiry"} <= set(names)
    working_day = case.timescale("decision-working-day")
    assert working_day is not None
    assert working_day.met_at is not None
    flat = contacts([case])
    assert [(c.contact_id, c.how, c.source_code, c.agency) for c in flat] == [
        ("C-0001", "opened", "6", "police"), ("C-0002", "re-contact", "2A", "education")]
    assert flat[0].contact.children[0].gender == "female"
    assert flat[0].received_at in period.month("2026-11")
