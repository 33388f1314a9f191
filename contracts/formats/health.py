"""Health: a safeguarding referral from a health visitor, GP, A&E, a
midwife (including an unborn baby), a school nurse, CAMHS or a paediatrician."""

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Event
from contracts.formats.common import Address, Adult, ConsentInfo, FormatModel, Gender

HealthRole = Literal["health-visitor", "gp", "emergency-department", "midwife", "school-nurse",
                     "camhs", "paediatrician", "other"]
HealthCategory = Literal[
    "neglect", "physical-abuse", "sexual-abuse", "emotional-abuse", "domestic-abuse",
    "parental-mental-health", "parental-substance-misuse", "parental-alcohol-misuse",
    "child-mental-health", "self-harm", "fgm", "fabricated-or-induced-illness",
    "was-not-brought", "concealed-pregnancy", "other",
]


class Practitioner(FormatModel):
    name: str = Field(min_length=1, max_length=200)
    role: HealthRole
    organisation: str = Field(min_length=1, max_length=200, description="Trust or practice")
    ods_code: str | None = Field(default=None, max_length=10)
    phone: str | None = Field(default=None, max_length=30)


class Patient(FormatModel):
    nhs_number: str | None = Field(default=None, pattern=r"^\d{10}$")
    given_name: str | None = Field(default=None, max_length=100,
                                   description="May be absent for an unborn baby")
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    unborn: bool = False
    expected_date_of_delivery: date | None = None
    estimated_age: int | None = Field(default=None, ge=0, le=25)
    sex: Gender = "unknown"
    ethnicity: str | None = Field(default=None, max_length=100)
    preferred_language: str | None = Field(default=None, max_length=50)
    address: Address | None = None


class Attendance(FormatModel):
    attended_at: AwareDatetime
    presenting_complaint: str = Field(min_length=1, max_length=2000)
    injuries: str | None = Field(default=None, max_length=2000)
    explanation_consistent: bool | None = None


class HealthReferralV1(FormatModel):
    referral_id: str = Field(min_length=1, max_length=100)
    practitioner: Practitioner
    patients: list[Patient] = Field(min_length=1, max_length=20)
    family: list[Adult] = Field(default_factory=list, max_length=30)
    categories: list[HealthCategory] = Field(min_length=1)
    attendance: Attendance | None = Field(default=None,
                                          description="An emergency department attendance")
    clinical_summary: str = Field(min_length=1, max_length=20_000,
                                  description="The practitioner's analysis of need and risk")
    consent: ConsentInfo | None = None
    urgent: bool = False


class HealthReferral(Event[HealthReferralV1]):
    event_type = "uk.nhs.safeguarding-referral.v1"
