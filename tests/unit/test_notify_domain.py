from datetime import UTC, datetime, timedelta

import pytest

from contracts import topics
from contracts.contact import Rag
from contracts.events import DecisionData, DecisionMade, Destination, Outcome, Reason, Referral
from services.notify import domain

RECEIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DECIDED = RECEIVED + timedelta(hours=1)


def decision(outcome: Outcome, agency: str = "police") -> DecisionMade:
    return DecisionMade.new(
        DecisionData(case_id="CASE-1", contact_ids=["C-1"], rag=Rag.RED, outcome=outcome,
                     level_of_need=4, reasons=[Reason(rule_id="R1", text="why")],
                     rule_set_version="v", referrer_rag=None, agencies_answered=["police"],
                     agencies_missing=[], decided_by="rules", referrer_agency=agency,
                     referrer_reference="POL-1", children=["child-0 (A.S.)"],
                     contact_received_at=RECEIVED, decided_at=DECIDED),
        id="dec-1", source="/mash/decision", subject="CASE-1", correlation_id="C-1")


@pytest.mark.parametrize(
    ("outcome", "topic", "destination"),
    [
        (Outcome.STRATEGY_DISCUSSION, topics.OUTCOMES_SOCIAL_CARE, Destination.SOCIAL_CARE),
        (Outcome.ASSESSMENT, topics.OUTCOMES_SOCIAL_CARE, Destination.SOCIAL_CARE),
        (Outcome.EARLY_HELP, topics.OUTCOMES_EARLY_HELP, Destination.EARLY_HELP),
        (Outcome.SINGLE_AGENCY, topics.OUTCOMES_NFA, Destination.NFA),
        (Outcome.NFA, topics.OUTCOMES_NFA, Destination.NFA),
    ],
)
def test_every_outcome_has_one_destination(outcome: Outcome, topic: str,
                                           destination: Destination) -> None:
    routed_topic, event = domain.route(decision(outcome))
    assert routed_topic == topic
    assert event.data.destination is destination
    assert event.data.contact_ids == ["C-1"]
    assert event.causation_id == "dec-1"


def test_section_47_goes_to_duty_within_hours_others_within_48() -> None:
    assert domain.route(decision(Outcome.STRATEGY_DISCUSSION))[1].data.act_by == \
        DECIDED + timedelta(hours=4)
    assert domain.route(decision(Outcome.EARLY_HELP))[1].data.act_by == \
        RECEIVED + timedelta(hours=48)


def test_routing_twice_gives_the_same_event_id() -> None:
    assert domain.route(decision(Outcome.NFA))[1].id == domain.route(decision(Outcome.NFA))[1].id


def test_the_referrer_hears_back_on_their_agency_topic() -> None:
    [(topic, event)] = domain.feedback(decision(Outcome.EARLY_HELP, "health"), topics.senders())
    assert topic == "mash.feedback.health"
    assert event.data.referrer_reference == "POL-1"
    assert "Early Help" in event.data.message


def test_the_public_has_no_feedback_topic() -> None:
    assert domain.feedback(decision(Outcome.NFA, "public"), topics.senders()) == []


def referred(*who: tuple[str, str | None, str]) -> DecisionMade:
    base = decision(Outcome.ASSESSMENT)
    referrals = [Referral(contact_id=cid, referrer_reference=f"REF-{cid}", agency=agency,
                          sender=sender, kind=kind)  # type: ignore[arg-type]
                 for cid, sender, kind in who for agency in ["x"]]
    return base.model_copy(update={"data": base.data.model_copy(update={"referrals": referrals})})


def test_every_contact_in_a_case_is_answered_on_its_own_senders_topic_alone() -> None:
    told = domain.feedback(referred(("C-1", "police", "concern"),
                                    ("C-2", "other-la", "confidential-enquiry"),
                                    ("C-3", "early-help", "early-help-request"),
                                    ("C-4", None, "concern")), topics.senders())
    assert [(t, e.data.contact_id) for t, e in told] == [
        ("mash.feedback.police", "C-1"), ("mash.feedback.other-la", "C-2"),
        ("mash.feedback.early-help", "C-3")]
    assert told[1][1].data.message.startswith("In answer to your confidential enquiry")
    assert len({e.id for _, e in told}) == 3
    # The first keeps the id feedback always had: a re-delivered decision repeats nothing.
    assert told[0][1].id == domain.feedback(decision(Outcome.ASSESSMENT),
                                            topics.senders())[0][1].id


def test_a_referrer_whose_rating_was_lowered_hears_who_lowered_it_and_why() -> None:
    event = decision(Outcome.EARLY_HELP, "police")
    lowered = event.model_copy(update={"data": event.data.model_copy(update={
        "rag": Rag.GREEN, "referrer_rag": Rag.AMBER, "decided_by": "mgr-bob",
        "reasons": [Reason(rule_id="FLOOR-LOWERED", text="Rated GREEN, below the referrer's "
                           "AMBER, by mgr-bob: first incident, family asks for help")]})})
    [(_, told)] = domain.feedback(lowered, topics.senders())
    assert told.data.message.startswith("Your rating of AMBER was lowered to GREEN by mgr-bob")
    assert "family asks for help" in told.data.message
    [(_, kept)] = domain.feedback(decision(Outcome.EARLY_HELP, "police"), topics.senders())
    assert "lowered" not in kept.data.message
