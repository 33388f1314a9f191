"""Intake's domain metrics (see deploy/METRICS.md). Counted after the
transaction commits and only for a message handled the first time, so a
redelivery never counts twice. Labels are codes: no personal data."""

import json

from prometheus_client import Counter

from plumbing.guard import Unusable

CONTACTS_RECEIVED = Counter(
    "mash_contacts_received", "Contacts accepted, by referring agency, channel and CIN "
    "referral source code.", ["source_agency", "channel", "source_code"])
CONTACTS_REJECTED = Counter(
    "mash_contacts_rejected", "Contacts refused, by reason.", ["reason"])
CASES_OPENED = Counter(
    "mash_cases_opened", "New cases, by referring agency and triage RAG.", ["source_agency", "rag"])
CONTACTS_LINKED = Counter(
    "mash_contacts_linked", "Contacts added to a case already open.", ["source_agency"])


def rejection_reason(error: Exception, problems: list[tuple[str, str]]) -> str:
    """One of: unreadable, not-authentic, replayed, unknown-format, invalid."""
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return "unreadable"
    if isinstance(error, Unusable) and error.facts.get("reason"):
        return str(error.facts["reason"])
    if any(field == "type" and "not a contact format" in problem for field, problem in problems):
        return "unknown-format"
    return "invalid"
