"""A request for Early Help support for a family (level 2-3 of need), from
any professional, usually with the family's agreement."""

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Event
from contracts.formats.common import Address, Adult, FormatModel, Gender


class Requester(FormatModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=100)
    organisation: str = Field(min_length=1, max_length=200)
    agency: str | None = Field(default=None, max_length=50,
                               description="The MASH agency they belong to, if any")


class FamilyChild(FormatModel):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    gender: Gender = "unknown"
    ethnicity: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=50)


class FamilyAgreement(FormatModel):
    agreed: bool
    given_by: str | None = Field(default=None, max_length=200)
    on: date | None = None
    why_not: str | None = Field(default=None, max_length=2000)


class EarlyHelpRequestV1(FormatModel):
    request_reference: str = Field(min_length=1, max_length=100)
    requested_by: Requester
    address: Address
    children: list[FamilyChild] = Field(min_length=1, max_length=20)
    adults: list[Adult] = Field(default_factory=list, max_length=30)
    needs: list[Literal["parenting-support", "school-attendance", "behaviour",
                        "parental-mental-health", "substance-misuse", "domestic-abuse",
                        "financial-hardship", "housing", "child-health", "young-carer",
                        "other"]] = Field(min_length=1)
    what_has_been_tried: str = Field(min_length=1, max_length=20_000)
    support_requested: str = Field(min_length=1, max_length=20_000)
    family_agreement: FamilyAgreement | None = None


class EarlyHelpRequest(Event[EarlyHelpRequestV1]):
    event_type = "uk.gov.la.early-help-request.v1"
