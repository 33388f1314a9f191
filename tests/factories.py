"""Contacts for tests, built like a referrer would fill them in."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts.contact import Contact
from contracts.envelope import utc_now
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


def contact_about_a_new_family(cid: str) -> ContactSubmitted:
    """A police contact about a family no other contact names: intake joins a
    contact about a child it already knows to that child's open case."""
    seed = uuid.uuid4()
    letters = seed.hex.translate(str.maketrans("0123456789", "ghijklmnop"))
    born = date(2012, 1, 1) + timedelta(days=seed.int % 3000)
    data = contact_dict(
        contact_id=cid, referrer_reference=cid, received_at=utc_now().isoformat(),
        children=[{"given_name": letters[:6].capitalize(), "family_name": letters[6:14].capitalize(),
                   "date_of_birth": born.isoformat()}],
        household=[{"given_name": letters[14:20].capitalize(),
                    "family_name": letters[6:14].capitalize(), "relationship": "father"}])
    return ContactSubmitted.new(Contact.model_validate(data), source="/agency/police",
                                subject=cid, correlation_id=cid)
