"""Education: a concern from a school's designated safeguarding lead: a
disclosure, an injury, attendance, or another worry."""

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Event
from contracts.formats.common import Address, Adult, ConsentInfo, FormatModel, Gender


class School(FormatModel):
    name: str = Field(min_length=1, max_length=200)
    urn: str = Field(min_length=6, max_length=8, description="DfE unique reference number")
    dsl_name: str = Field(min_length=1, max_length=200)
    dsl_role: str = Field(default="designated safeguarding lead", max_length=100)
    phone: str | None = Field(default=None, max_length=30)


class Pupil(FormatModel):
    upn: str | None = Field(default=None, max_length=13, description="Unique pupil number")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    gender: Gender = "unknown"
    year_group: str | None = Field(default=None, max_length=10)
    ethnicity: str | None = Field(default=None, max_length=100)
    first_language: str | None = Field(default=None, max_length=50)
    send: bool = Field(default=False, description="Special educational needs or disability")
    address: Address | None = None


class Disclosure(FormatModel):
    nature: Literal["physical-abuse", "sexual-abuse", "emotional-abuse", "neglect",
                    "domestic-abuse", "self-harm", "exploitation", "other"]
    words_used: str = Field(min_length=1, max_length=5000, description="In the child's words")
    said_to: str = Field(min_length=1, max_length=200)
    said_at: AwareDatetime


class Injury(FormatModel):
    description: str = Field(min_length=1, max_length=2000)
    body_location: str = Field(min_length=1, max_length=200)
    explanation_given: str | None = Field(default=None, max_length=2000)
    caused_by: Literal["adult", "child", "unknown"] = "unknown"
    photographed: bool = False


class AttendanceRecord(FormatModel):
    percentage: float = Field(ge=0, le=100)
    period: str = Field(min_length=1, max_length=100, description="e.g. autumn term 2026")
    unauthorised_sessions: int = Field(default=0, ge=0)
    missing_education: bool = False


class EducationConcernV1(FormatModel):
    concern_reference: str = Field(min_length=1, max_length=100)
    school: School
    pupil: Pupil
    siblings: list[Pupil] = Field(default_factory=list, max_length=10)
    family: list[Adult] = Field(default_factory=list, max_length=30)
    concern_type: Literal["disclosure", "injury", "attendance", "behaviour", "neglect",
                          "emotional-wellbeing", "online-safety", "other"]
    disclosure: Disclosure | None = Field(default=None,
                                          description="Required when concern_type is disclosure")
    injury: Injury | None = Field(default=None, description="Required when concern_type is injury")
    attendance: AttendanceRecord | None = Field(
        default=None, description="Required when concern_type is attendance")
    additional_factors: list[str] = Field(default_factory=list,
                                          description="Further CIN factor codes")
    dsl_analysis: str = Field(min_length=1, max_length=20_000)
    consent: ConsentInfo | None = None
    urgent: bool = False


class EducationConcern(Event[EducationConcernV1]):
    event_type = "uk.education.dsl-concern.v1"
