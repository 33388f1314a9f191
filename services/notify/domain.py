"""Where each outcome goes and what the referrer is told, free of I/O."""

from datetime import datetime, timedelta

from contracts import topics
from contracts.envelope import derived_id
from contracts.events import (
    DecisionMade,
    Destination,
    FeedbackData,
    Outcome,
    OutcomeData,
    OutcomeRouted,
    ReferrerFeedback,
)

SOURCE = "/mash/notify"

DESTINATION = {
    Outcome.STRATEGY_DISCUSSION: Destination.SOCIAL_CARE,
    Outcome.ASSESSMENT: Destination.SOCIAL_CARE,
    Outcome.EARLY_HELP: Destination.EARLY_HELP,
    Outcome.SINGLE_AGENCY: Destination.NFA,
    Outcome.NFA: Destination.NFA,
}

TOPIC = {
    Destination.SOCIAL_CARE: topics.OUTCOMES_SOCIAL_CARE,
    Destination.EARLY_HELP: topics.OUTCOMES_EARLY_HELP,
    Destination.NFA: topics.OUTCOMES_NFA,
}

FEEDBACK = {
    Outcome.STRATEGY_DISCUSSION: "Passed to the duty social work team for a strategy discussion "
                                 "(Section 47) today.",
    Outcome.ASSESSMENT: "Passed to children's social care for a Child and Family Assessment.",
    Outcome.EARLY_HELP: "Passed to Early Help, who will offer the family support.",
    Outcome.SINGLE_AGENCY: "Your agency is best placed to respond; the MASH has shared advice.",
    Outcome.NFA: "No further action by children's social care; the family has been signposted "
                 "to universal services.",
}


def act_by(outcome: Outcome, received_at: datetime, decided_at: datetime) -> datetime:
    # Section 47 goes to duty the same day; all other outcomes are passed on
    # within 48 hours of receipt (seed 000 §12). Working-day timescales come
    # with the timescale calendar.
    if outcome is Outcome.STRATEGY_DISCUSSION:
        return decided_at + timedelta(hours=4)
    return received_at + timedelta(hours=48)


def route(decision: DecisionMade) -> tuple[str, OutcomeRouted]:
    d = decision.data
    destination = DESTINATION[d.outcome]
    event = OutcomeRouted.new(
        OutcomeData(
            case_id=d.case_id,
            contact_ids=d.contact_ids,
            destination=destination,
            outcome=d.outcome,
            rag=d.rag,
            reasons=d.reasons,
            children=d.children,
            contact_received_at=d.contact_received_at,
            decided_at=d.decided_at,
            act_by=act_by(d.outcome, d.contact_received_at, d.decided_at),
        ),
        id=derived_id("outcome", decision.id, destination.value),
        source=SOURCE,
        subject=d.case_id,
        correlation_id=decision.correlation_id,
        causation_id=decision.id,
        time=d.decided_at,
    )
    return TOPIC[destination], event


def feedback(decision: DecisionMade, agencies: tuple[str, ...]) -> tuple[str, ReferrerFeedback] | None:
    """The referrer hears back on their agency's topic; the public and
    anonymous callers have none, and the contact centre tells them."""
    d = decision.data
    if d.referrer_agency not in agencies:
        return None
    event = ReferrerFeedback.new(
        FeedbackData(
            case_id=d.case_id,
            referrer_reference=d.referrer_reference,
            agency=d.referrer_agency,
            outcome=d.outcome,
            message=FEEDBACK[d.outcome],
        ),
        id=derived_id("feedback", decision.id),
        source=SOURCE,
        subject=d.case_id,
        correlation_id=decision.correlation_id,
        causation_id=decision.id,
        time=d.decided_at,
    )
    return topics.feedback(d.referrer_agency), event
