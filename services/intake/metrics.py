"""Intake's domain metrics (see deploy/METRICS.md). Counted after the
transaction commits and only for a message handled the first time, so a
redelivery never counts twice. Labels are codes: no personal data.

Every series a panel reads exists at zero from import (``zero``): a series
born with its first increment is invisible to ``increase()``, which is how a
dashboard once read 16.7 contacts received after 29 were sent."""

import json
from collections.abc import Iterator
from typing import Any, get_args

from prometheus_client import Counter

from contracts.agencies import agencies
from contracts.codes import cin_referral_sources
from contracts.contact import Contact, Rag
from contracts.envelope import Event
from contracts.formats.contact_centre import PublicCall
from contracts.formats.early_help import EarlyHelpRequest
from contracts.formats.education import EducationConcern
from contracts.formats.health import HealthReferral
from contracts.formats.housing import HousingReferral
from contracts.formats.la_enquiry import ConfidentialEnquiry
from contracts.formats.police import PoliceNotification
from contracts.formats.probation import ProbationReferral
from plumbing.guard import Unusable
from plumbing.metrics import expect_every_topic, zero
from services.intake.formats import contact_centre, health

CONTACTS_RECEIVED = Counter(
    "mash_contacts_received", "Contacts accepted, by referring agency, channel and CIN "
    "referral source code.", ["source_agency", "channel", "source_code"])
CONTACTS_REJECTED = Counter(
    "mash_contacts_rejected", "Contacts refused, by reason.", ["reason"])
CASES_OPENED = Counter(
    "mash_cases_opened", "New cases, by referring agency and triage RAG.", ["source_agency", "rag"])
CONTACTS_LINKED = Counter(
    "mash_contacts_linked", "Contacts added to a case already open.", ["source_agency"])

# Every value rejection_reason gives (the `reason` label).
REJECTION_REASONS = ("unreadable", "too-large", "not-authentic", "replayed", "unknown-format",
                     "invalid")
CHANNELS: tuple[str, ...] = get_args(Contact.model_fields["channel"].annotation)

# What each agency format fixes when intake normalises it
# (services/intake/formats/*.py): the referrer agency (or agencies), the
# channel, and the CIN referral source codes it can give (the normalisers'
# own tables where the code depends on who refers). A full cross product of
# agency x channel x source code would be some 800 series, nearly all of
# them impossible; these are the ones a format can produce.
# tests/unit/test_metrics.py checks every agency format is here and that
# each example contact normalises to a series that exists.
FORMAT_SOURCES: dict[type[Event[Any]], tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    PoliceNotification: (("police",), "notification", ("6",)),
    HealthReferral: (("health",), "portal", tuple(health.SOURCE_CODES.values())),
    EducationConcern: (("education",), "portal", ("2A",)),
    ProbationReferral: (("probation",), "email", ("7",)),
    HousingReferral: (("housing",), "email", ("4",)),
    # A caller who gives no name is source 9 (anonymous).
    PublicCall: (("public",), "phone", (*contact_centre.SOURCE_CODES.values(), "9")),
    # The requester's own MASH agency, if they give one, else early help.
    EarlyHelpRequest: ((*agencies(), "early-help"), "portal", ("5D",)),
    ConfidentialEnquiry: (("other-local-authority",), "email", ("5C",)),
}


def received_label_sets() -> Iterator[dict[str, str]]:
    """(source_agency, channel, source_code) of every contact intake can
    realistically accept: each agency format's, and, for a MASH agency with
    no format of its own (children's social care), which speaks the
    canonical contact, every channel and source code. An agency that has a
    format may still send a canonical contact on another channel or with
    another code; that series appears with its first contact (METRICS.md)."""
    seen: set[tuple[str, str, str]] = set()
    for names, channel, codes in FORMAT_SOURCES.values():
        seen |= {(name, channel, code) for name in names for code in codes}
    # Agencies a format of their own names (not the early-help requester's).
    with_format = {names[0] for names, _, _ in FORMAT_SOURCES.values() if len(names) == 1}
    for agency in agencies():
        if agency not in with_format:
            seen |= {(agency, channel, code) for channel in CHANNELS
                     for code in cin_referral_sources()}
    for agency, channel, code in sorted(seen):
        yield {"source_agency": agency, "channel": channel, "source_code": code}


OTHER_AGENCY = "other"


def source_agencies() -> tuple[str, ...]:
    return tuple(sorted({labels["source_agency"] for labels in received_label_sets()}))


def source_label(agency: str) -> str:
    """The referrer's agency as a label value. It is the referrer's own
    words on a canonical contact or an Early Help request: anything the
    formats do not name is counted as "other", never a series of its own."""
    return agency if agency in _KNOWN_AGENCIES else OTHER_AGENCY


def rejection_reason(error: Exception, problems: list[tuple[str, str]]) -> str:
    """One of REJECTION_REASONS: unreadable, too-large, not-authentic,
    replayed, unknown-format, invalid (anything else)."""
    if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
        return "unreadable"
    if isinstance(error, Unusable) and error.facts.get("reason") in REJECTION_REASONS:
        return str(error.facts["reason"])
    if any(field == "type" and "not a contact format" in problem for field, problem in problems):
        return "unknown-format"
    return "invalid"


expect_every_topic()
zero(CONTACTS_RECEIVED, received_label_sets())
zero(CONTACTS_REJECTED, ({"reason": reason} for reason in REJECTION_REASONS))
_KNOWN_AGENCIES = frozenset(source_agencies())
zero(CASES_OPENED, ({"source_agency": agency, "rag": rag.value}
                    for agency in (*source_agencies(), OTHER_AGENCY) for rag in Rag))
zero(CONTACTS_LINKED, ({"source_agency": agency}
                       for agency in (*source_agencies(), OTHER_AGENCY)))
