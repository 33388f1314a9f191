"""What the receiving team gets, by when it acknowledges, and the escalation
when it does not; the documented examples are valid events."""

from datetime import UTC, datetime, timedelta

from contracts.casework import AcknowledgementData, EscalationData, TimescaleData
from contracts.contact import Rag
from contracts.events import DecisionData, DecisionMade, Destination, Due, Outcome, OutcomeData, Reason
from services.notify import domain

RECEIVED = datetime(2026, 11, 20, 16, 55, tzinfo=UTC)
DECIDED = RECEIVED + timedelta(minutes=30)


def decision(outcome: Outcome, due: list[Due], advice: str | None = None) -> DecisionMade:
    return DecisionMade.new(
        DecisionData(case_id="CASE-1", contact_ids=["C-1"], rag=Rag.GREEN, outcome=outcome,
                     level_of_need=1, reasons=[Reason(rule_id="R8-NFA", text="why")],
                     rule_set_version="v", referrer_rag=None, agencies_answered=["police"],
                     agencies_missing=[], decided_by="mgr-bob", referrer_agency="police",
                     referrer_reference="POL-1", children=["child-0 (A.S.)"],
                     contact_received_at=RECEIVED, decided_at=DECIDED, advice=advice, due=due),
        id="dec-1", source="/mash/decision", subject="CASE-1", correlation_id="C-1")


def test_the_receiving_team_acts_by_the_decisions_own_due_time() -> None:
    s47 = Due(timescale="s47-to-duty", text="same day", due_at=DECIDED + timedelta(hours=4))
    icpc = Due(timescale="icpc-15wd", text="icpc", due_at=DECIDED + timedelta(days=21))
    _, event = domain.route(decision(Outcome.STRATEGY_DISCUSSION, [icpc, s47]))
    assert event.data.act_by == s47.due_at
    assert event.data.ack_by == s47.due_at
    assert event.data.due == [icpc, s47]
    assert (event.data.decided_by, event.data.level_of_need) == ("mgr-bob", 1)


def test_outcome_48h_and_a_configured_ack_window() -> None:
    o48 = Due(timescale="outcome-48h", text="48h", due_at=RECEIVED + timedelta(hours=48))
    _, event = domain.route(decision(Outcome.NFA, [o48]), ack_window=timedelta(seconds=5))
    assert event.data.act_by == o48.due_at
    assert event.data.ack_by == DECIDED + timedelta(seconds=5)


def test_nfa_advice_reaches_the_team_and_the_referrer() -> None:
    d = decision(Outcome.NFA, [], advice="Signpost to the children's centre.")
    assert domain.route(d)[1].data.advice == "Signpost to the children's centre."
    [(_, told)] = domain.feedback(d, ("police",))
    assert "children's centre" in told.data.message


def test_an_escalation_names_the_outcome_and_has_a_stable_id() -> None:
    now = DECIDED + timedelta(hours=5)
    a = domain.escalation("out-1", "CASE-1", "C-1", Destination.SOCIAL_CARE,
                          Outcome.STRATEGY_DISCUSSION, Rag.RED, DECIDED + timedelta(hours=4), now)
    b = domain.escalation("out-1", "CASE-1", "C-1", Destination.SOCIAL_CARE,
                          Outcome.STRATEGY_DISCUSSION, Rag.RED, DECIDED + timedelta(hours=4), now)
    assert a.id == b.id
    assert a.causation_id == "out-1"
    assert "social-care" in a.data.text


def test_the_documented_examples_are_valid() -> None:
    for model in (OutcomeData, AcknowledgementData, EscalationData, TimescaleData):
        examples = model.model_json_schema()["examples"]
        assert examples
        for example in examples:
            model.model_validate(example)
