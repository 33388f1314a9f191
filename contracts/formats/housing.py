"""Housing: a referral from a housing officer about a household's home."""

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Event
from contracts.formats.common import Address, ConsentInfo, FormatModel


class HousingOfficer(FormatModel):
    name: str = Field(min_length=1, max_length=200)
    team: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)


class Occupant(FormatModel):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    age: int | None = Field(default=None, ge=0, le=120)
    relationship_to_lead_tenant: str = Field(min_length=1, max_length=100,
                                             description="e.g. self, son, daughter, partner")


class Property(FormatModel):
    address: Address
    tenure: Literal["council", "housing-association", "private-rented",
                    "temporary-accommodation", "owner-occupied", "none"]
    tenancy_reference: str | None = Field(default=None, max_length=50)


class HousingReferralV1(FormatModel):
    case_reference: str = Field(min_length=1, max_length=100)
    officer: HousingOfficer
    property: Property
    occupants: list[Occupant] = Field(min_length=1, max_length=40,
                                      description="Everyone living there; under-18s are the "
                                                  "children of the contact")
    concern_types: list[Literal["home-conditions", "hoarding", "overcrowding", "disrepair",
                                "eviction", "homelessness", "anti-social-behaviour",
                                "domestic-abuse", "other"]] = Field(min_length=1)
    observations: str = Field(min_length=1, max_length=20_000)
    consent: ConsentInfo | None = None


class HousingReferral(Event[HousingReferralV1]):
    event_type = "uk.housing.safeguarding-referral.v1"
