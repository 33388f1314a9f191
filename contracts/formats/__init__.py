"""The formats agencies publish contacts in, one module per format.

Every format travels as a CloudEvent on ``mash.contacts.submitted``; its
``type`` says which format and version it is (a new version is a new type and
a new model beside the old one). Intake normalises each to the canonical
:class:`contracts.contact.Contact`; agencies that already speak it publish
``mash.contact.submitted`` directly.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Event
from contracts.events import ContactSubmitted
from contracts.formats.contact_centre import PublicCall
from contracts.formats.early_help import EarlyHelpRequest
from contracts.formats.education import EducationConcern
from contracts.formats.health import HealthReferral
from contracts.formats.housing import HousingReferral
from contracts.formats.la_enquiry import ConfidentialEnquiry
from contracts.formats.police import PoliceNotification
from contracts.formats.probation import ProbationReferral

AGENCY_FORMATS: tuple[type[Event[Any]], ...] = (
    PoliceNotification,
    HealthReferral,
    EducationConcern,
    ProbationReferral,
    HousingReferral,
    PublicCall,
    EarlyHelpRequest,
    ConfidentialEnquiry,
)

FORMATS: dict[str, type[Event[Any]]] = {
    ContactSubmitted.event_type: ContactSubmitted,
    **{f.event_type: f for f in AGENCY_FORMATS},
}
"""CloudEvent type -> the event model that validates it."""


class Submission(BaseModel):
    """Anything offered on mash.contacts.submitted, before its format is known.

    Intake reads the ``type`` and validates the whole event against that
    format's model, so every problem is reported against the sender's own
    field names.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1, description="One of: " + ", ".join(FORMATS))


__all__ = ["AGENCY_FORMATS", "FORMATS", "Submission"]
