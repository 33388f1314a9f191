"""Every format a contact arrives in, to one canonical Contact.

``parse`` reads the CloudEvent ``type``, validates the whole event against
that format's published model and normalises it. Anything unusable raises a
pydantic ``ValidationError`` naming each problem against the sender's own
field names, which the consumer guard hands to intake's rejection path.
"""

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from contracts.contact import Contact
from contracts.envelope import Event
from contracts.events import ContactSubmitted
from contracts.formats import FORMATS
from contracts.formats.contact_centre import PublicCall
from contracts.formats.early_help import EarlyHelpRequest
from contracts.formats.education import EducationConcern
from contracts.formats.health import HealthReferral
from contracts.formats.housing import HousingReferral
from contracts.formats.la_enquiry import ConfidentialEnquiry
from contracts.formats.police import PoliceNotification
from contracts.formats.probation import ProbationReferral
from services.intake.formats import (
    base,
    contact_centre,
    early_help,
    education,
    health,
    housing,
    la_enquiry,
    police,
    probation,
)
from services.intake.formats.base import Unusable, dig

Normaliser = Callable[[Any], Contact]

NORMALISERS: dict[str, Normaliser] = {
    PoliceNotification.event_type: police.normalise,
    HealthReferral.event_type: health.normalise,
    EducationConcern.event_type: education.normalise,
    ProbationReferral.event_type: probation.normalise,
    HousingReferral.event_type: housing.normalise,
    PublicCall.event_type: contact_centre.normalise,
    EarlyHelpRequest.event_type: early_help.normalise,
    ConfidentialEnquiry.event_type: la_enquiry.normalise,
}

# How to name a contact that failed validation: (reference path, agency or its path).
IDENTITY: dict[str, tuple[tuple[str, ...], str | tuple[str, ...]]] = {
    ContactSubmitted.event_type: (("referrer_reference",), ("referrer", "agency")),
    PoliceNotification.event_type: (("notification_reference",), "police"),
    HealthReferral.event_type: (("referral_id",), "health"),
    EducationConcern.event_type: (("concern_reference",), "education"),
    ProbationReferral.event_type: (("referral_reference",), "probation"),
    HousingReferral.event_type: (("case_reference",), "housing"),
    PublicCall.event_type: (("call_reference",), "public"),
    EarlyHelpRequest.event_type: (("request_reference",), ("requested_by", "agency")),
    ConfidentialEnquiry.event_type: (("enquiry_reference",), "other-local-authority"),
}


def unusable(title: str, problems: list[tuple[str, str]]) -> ValidationError:
    """Problems found past the schema, as the ValidationError the guard expects."""
    details = [
        InitErrorDetails(type=PydanticCustomError("unusable", "{problem}", {"problem": text}),
                         loc=tuple(int(p) if p.isdigit() else p for p in where.split(".")),
                         input=None)
        for where, text in problems
    ]
    return ValidationError.from_exception_data(title, details)


def parse(body: Mapping[str, Any]) -> ContactSubmitted:
    """The canonical ContactSubmitted for any accepted format, or ValidationError.

    A canonical event comes back exactly as sent; an agency format becomes a
    ContactSubmitted with the same id, subject (the contact id), source and
    correlation, so everything downstream is derived from the event received.
    """
    kind = body.get("type")
    fmt = FORMATS.get(kind) if isinstance(kind, str) else None
    if fmt is None:
        raise unusable("Submission", [("type", f"'{kind}' is not a contact format we accept: use "
                                               f"one of {', '.join(FORMATS)}")])
    event: Event[Any] = fmt.model_validate(dict(body))
    if isinstance(event, ContactSubmitted):
        return event
    try:
        contact = NORMALISERS[event.type](event)
    except Unusable as exc:
        raise unusable(fmt.__name__, exc.problems) from None
    except ValidationError as exc:  # a format the canonical contact cannot hold
        raise unusable(fmt.__name__, [
            ("data", f"cannot be read as a contact ({'.'.join(map(str, e['loc']))}: {e['msg']})")
            for e in exc.errors(include_url=False)]) from None
    return ContactSubmitted(
        id=event.id, source=event.source, type=ContactSubmitted.event_type,
        subject=event.subject, time=event.time, schema_version=event.schema_version,
        correlation_id=event.correlation_id, causation_id=event.causation_id, data=contact,
    )


def identify(body: Any) -> tuple[str | None, str | None, str | None]:
    """(contact id, referrer reference, agency) from any message, as far as it goes."""
    data = dig(body, "data")
    kind = dig(body, "type")
    contact_id = _text(dig(data, "contact_id")) or _text(dig(body, "subject"))
    ref_path, agency_at = IDENTITY.get(kind if isinstance(kind, str) else "",
                                       IDENTITY[ContactSubmitted.event_type])
    reference = _text(dig(data, *ref_path))
    agency = agency_at if isinstance(agency_at, str) else _text(dig(data, *agency_at))
    if kind == EarlyHelpRequest.event_type and agency is None:
        agency = "early-help"
    return contact_id, reference, agency


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["NORMALISERS", "base", "identify", "parse", "unusable"]
