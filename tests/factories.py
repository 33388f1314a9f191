"""Contacts for tests, built like a referrer would fill them in."""

from datetime import UTC, date, datetime
from typing import Any

from contracts.contact import Contact
from contracts.events import ContactSubmitted


def contact_dict(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "contact_id": "C-0001",
        "referrer_reference": "POL-0001",
        "received_at": "2026-11-20T09:30:00Z",
        "channel": "notification",
        "referrer": {"agency": "police", "source_code": "6", "role": "PC"},
        "children": [{"given_name": "Ava", "family_name": "Smith", "date_of_birth": "2019-04-02",
                      "gender": "female", "postcode": "RG12 7AB"}],
        "household": [{"given_name": "Kerry", "family_name": "Smith",
                       "date_of_birth": "1990-01-01", "relationship": "mother"}],
        "concerns": ["3B"],
        "analysis": "Police attended a domestic incident at the home; the children were present.",
        "consent": {"state": "not_sought", "reason": "Police notification", "decided_by": "PC"},
        "urgency": "routine",
        "referrer_rag": "AMBER",
    }
    base.update(overrides)
    return base


def contact(**overrides: Any) -> Contact:
    return Contact.model_validate(contact_dict(**overrides))


def submitted(event_id: str = "evt-1", **overrides: Any) -> ContactSubmitted:
    c = contact(**overrides)
    return ContactSubmitted.new(c, id=event_id, source="/agency/police", subject=c.contact_id,
                                correlation_id=c.contact_id,
                                time=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))


TODAY = date(2026, 11, 20)
