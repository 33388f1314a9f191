"""Where each outcome goes and what the referrer is told, free of I/O."""

from datetime import datetime, timedelta

from contracts import topics
from contracts.casework import EscalationData, OutcomeEscalated
from contracts.contact import Rag
from contracts.envelope import derived_id
from contracts.events import (
    DecisionData,
    DecisionMade,
    Destination,
    Due,
    FeedbackData,
    Outcome,
    OutcomeData,
    OutcomeRouted,
    Referral,
    ReferrerFeedback,
)
from judgement.facts import below

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


# The decision's timescale the receiving team acts by (decision computes it on
# the working-day calendar and sends it in `due`).
ACT_BY_TIMESCALE = {Outcome.STRATEGY_DISCUSSION: "s47-to-duty"}
DEFAULT_ACT_BY_TIMESCALE = "outcome-48h"


def act_by(outcome: Outcome, received_at: datetime, decided_at: datetime,
           due: list[Due] | None = None) -> datetime:
    """Section 47 goes to duty the same day; all other outcomes are passed on
    within 48 hours of receipt (seed 000 §12). The decision's own due time
    (working-day calendar) wins; the clock-hour rule is for decisions made
    before it sent one."""
    wanted = ACT_BY_TIMESCALE.get(outcome, DEFAULT_ACT_BY_TIMESCALE)
    for item in due or []:
        if item.timescale == wanted:
            return item.due_at
    if outcome is Outcome.STRATEGY_DISCUSSION:
        return decided_at + timedelta(hours=4)
    return received_at + timedelta(hours=48)


def ack_by(act: datetime, routed_at: datetime, window: timedelta | None) -> datetime:
    """The receiving team acknowledges by the time it must act (or, in tests
    and demos, within a short configured window of routing)."""
    return routed_at + window if window is not None else act


def route(decision: DecisionMade, ack_window: timedelta | None = None
          ) -> tuple[str, OutcomeRouted]:
    d = decision.data
    destination = DESTINATION[d.outcome]
    act = act_by(d.outcome, d.contact_received_at, d.decided_at, d.due)
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
            act_by=act,
            level_of_need=d.level_of_need,
            decided_by=d.decided_by,
            decision_version=d.decision_version,
            advice=d.advice,
            ack_by=ack_by(act, d.decided_at, ack_window),
            due=d.due,
        ),
        id=derived_id("outcome", decision.id, destination.value),
        source=SOURCE,
        subject=d.case_id,
        correlation_id=decision.correlation_id,
        causation_id=decision.id,
        time=d.decided_at,
    )
    return TOPIC[destination], event


def lowered(d: DecisionData) -> str:
    """A partner's rating lowered is a named manager's recorded decision, and
    the partner is told who and why."""
    if d.referrer_rag is None or not below(d.rag, d.referrer_rag):
        return ""
    why = next((r.text for r in d.reasons if r.rule_id == "FLOOR-LOWERED"), None)
    return (f"Your rating of {d.referrer_rag.value} was lowered to {d.rag.value} by "
            f"{d.decided_by}" + (f" ({why})" if why else "") + ". ")


def feedback(decision: DecisionMade, senders: tuple[str, ...]
             ) -> list[tuple[str, ReferrerFeedback]]:
    """Every contact in the case is answered on its own sender's topic, and no
    other: a confidential enquiry from another local authority and an Early
    Help request hear back as an agency does. A public caller has no topic
    (the contact centre that took the call does)."""
    d = decision.data
    referrals = d.referrals or [Referral(contact_id=d.contact_ids[0] if d.contact_ids else "",
                                         referrer_reference=d.referrer_reference,
                                         agency=d.referrer_agency, sender=d.referrer_agency)]
    decided = FEEDBACK[d.outcome] + (f" Advice: {d.advice}" if d.advice else "")
    told: list[tuple[str, ReferrerFeedback]] = []
    for referral in referrals:
        if referral.sender not in senders:
            continue
        said = decided if referral.kind != "confidential-enquiry" else \
            f"In answer to your confidential enquiry about case {d.case_id}: {decided}"
        if referral.contact_id == (d.contact_ids[0] if d.contact_ids else None):
            said = lowered(d) + said
        event = ReferrerFeedback.new(
            FeedbackData(
                case_id=d.case_id,
                referrer_reference=referral.referrer_reference,
                agency=referral.agency,
                outcome=d.outcome,
                message=said[:3000],
                contact_id=referral.contact_id or None,
                sender=referral.sender,
            ),
            # The first contact keeps the id its feedback always had.
            id=derived_id("feedback", decision.id) if referral is referrals[0]
            else derived_id("feedback", decision.id, referral.contact_id),
            source=SOURCE,
            subject=d.case_id,
            correlation_id=decision.correlation_id,
            causation_id=decision.id,
            time=d.decided_at,
        )
        told.append((topics.feedback(referral.sender), event))
    return told


def escalation(outcome_id: str, case_id: str, correlation_id: str, destination: Destination,
               outcome: Outcome, rag: Rag, ack_due: datetime, now: datetime) -> OutcomeEscalated:
    """An outcome nobody acknowledged in time goes to the managers, once."""
    when = f"{ack_due:%Y-%m-%d %H:%M} UTC"
    return OutcomeEscalated.new(
        EscalationData(outcome_id=outcome_id, case_id=case_id, destination=destination,
                       outcome=outcome, rag=rag, ack_due=ack_due, escalated_at=now,
                       text=f"Not acknowledged by {destination.value} by {when}: escalated to "
                            "the MASH manager and the receiving team's manager."),
        id=derived_id("escalation", outcome_id), source=SOURCE, subject=case_id,
        correlation_id=correlation_id, causation_id=outcome_id, time=now)
