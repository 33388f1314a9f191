"""Police: a notification from the public protection unit (e.g. after a
domestic incident with children present). Police give their own initial RAG."""

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Event
from contracts.formats.common import Address, Adult, ConsentInfo, FormatModel, Gender

IncidentType = Literal[
    "domestic-abuse", "missing-person", "child-neglect", "assault", "sexual-offence",
    "child-sexual-exploitation", "child-criminal-exploitation", "anti-social-behaviour",
    "concern-for-welfare", "drugs", "online-harm", "other",
]


class Officer(FormatModel):
    collar_number: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=200)
    rank: str | None = Field(default=None, max_length=50)
    unit: str | None = Field(default=None, max_length=100)


class ChildPresent(FormatModel):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    estimated_age: int | None = Field(default=None, ge=0, le=25)
    gender: Gender = "unknown"
    self_defined_ethnicity: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=50)
    address: Address | None = None
    present_at_incident: bool = True


class IncidentAdult(Adult):
    role: Literal["victim", "suspect", "witness", "other"] = "other"


class PoliceNotificationV1(FormatModel):
    notification_reference: str = Field(min_length=1, max_length=100,
                                        description="The force's reference for this notification")
    force: str = Field(min_length=1, max_length=100)
    occurrence_reference: str = Field(min_length=1, max_length=100,
                                      description="The incident; siblings share it")
    crime_reference: str | None = Field(default=None, max_length=100)
    incident_type: IncidentType
    incident_at: AwareDatetime
    location: Address | None = None
    children_present: list[ChildPresent] = Field(min_length=1, max_length=20)
    adults: list[IncidentAdult] = Field(default_factory=list, max_length=30)
    officer: Officer
    initial_rag: Literal["RED", "AMBER", "GREEN"]
    dash_risk: Literal["standard", "medium", "high"] | None = Field(
        default=None, description="Domestic abuse, stalking and harassment risk assessment")
    additional_factors: list[str] = Field(default_factory=list,
                                          description="Further CIN factor codes the officer saw")
    circumstances: str = Field(min_length=1, max_length=20_000)
    officer_view: str | None = Field(default=None, max_length=20_000,
                                     description="The officer's analysis and the child's voice")
    consent: ConsentInfo | None = Field(
        default=None, description="Usually absent: notifications are made without consent")


class PoliceNotification(Event[PoliceNotificationV1]):
    event_type = "uk.police.notification.v1"
