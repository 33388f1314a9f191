"""A confidential enquiry from another local authority: what do you know
about this family? Answered within 24 hours."""

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Event
from contracts.formats.common import Address, Adult, FormatModel, Gender


class Authority(FormatModel):
    name: str = Field(min_length=1, max_length=200)
    la_code: str = Field(pattern=r"^\d{3}$", description="DfE local authority number")
    team: str | None = Field(default=None, max_length=200)
    officer: str = Field(min_length=1, max_length=200)
    secure_email: str | None = Field(default=None, max_length=200)


class EnquiryChild(FormatModel):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    gender: Gender = "unknown"
    previous_address: Address | None = Field(default=None,
                                             description="Their address in this borough")


class ConfidentialEnquiryV1(FormatModel):
    enquiry_reference: str = Field(min_length=1, max_length=100)
    from_authority: Authority
    sent_at: AwareDatetime
    answer_due: AwareDatetime | None = Field(default=None,
                                             description="Defaults to 24 hours after sent_at")
    children: list[EnquiryChild] = Field(min_length=1, max_length=20)
    adults: list[Adult] = Field(default_factory=list, max_length=30)
    involvement: Literal["child-in-need", "child-protection", "looked-after", "assessment",
                         "early-help", "other"]
    known_factors: list[str] = Field(default_factory=list,
                                     description="CIN factor codes, if the authority gives them")
    reason_for_enquiry: str = Field(min_length=1, max_length=20_000)
    questions: list[str] = Field(default_factory=list, max_length=20)


class ConfidentialEnquiry(Event[ConfidentialEnquiryV1]):
    event_type = "uk.gov.la.confidential-enquiry.v1"
