"""The only thing MASH services share: event models and topic names."""

from contracts.agencies import agencies
from contracts.contact import (
    Child,
    Consent,
    ConsentState,
    Contact,
    HouseholdMember,
    Rag,
    Referrer,
    Urgency,
)
from contracts.envelope import CONTENT_TYPE, Event, derived_id
from contracts.events import (
    ALL_EVENTS,
    CaseOpened,
    ContactRejected,
    ContactSubmitted,
    DeadLettered,
    DecisionMade,
    Destination,
    EnquiryRequested,
    FindingReported,
    Outcome,
    OutcomeRouted,
    ReferrerFeedback,
)

__all__ = [
    "ALL_EVENTS",
    "CONTENT_TYPE",
    "CaseOpened",
    "Child",
    "Consent",
    "ConsentState",
    "Contact",
    "ContactRejected",
    "ContactSubmitted",
    "DeadLettered",
    "DecisionMade",
    "Destination",
    "EnquiryRequested",
    "Event",
    "FindingReported",
    "HouseholdMember",
    "Outcome",
    "OutcomeRouted",
    "Rag",
    "Referrer",
    "ReferrerFeedback",
    "Urgency",
    "agencies",
    "derived_id",
]
