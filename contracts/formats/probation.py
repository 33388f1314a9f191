"""Probation: a referral about children living with, or in contact with, a
person on probation."""

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Event
from contracts.formats.common import Address, Adult, ConsentInfo, FormatModel, Gender


class ProbationPractitioner(FormatModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(default="probation practitioner", max_length=100)
    region: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)


class PersonOnProbation(FormatModel):
    crn: str = Field(min_length=1, max_length=20, description="Probation case reference number")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    relationship_to_children: str = Field(min_length=1, max_length=100,
                                          description="e.g. father, mother's partner, uncle")
    lives_with_children: bool
    address: Address | None = None


class ChildOfConcern(FormatModel):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    estimated_age: int | None = Field(default=None, ge=0, le=25)
    gender: Gender = "unknown"
    address: Address | None = None


class ProbationReferralV1(FormatModel):
    referral_reference: str = Field(min_length=1, max_length=100)
    practitioner: ProbationPractitioner
    person_on_probation: PersonOnProbation
    children: list[ChildOfConcern] = Field(min_length=1, max_length=20)
    other_household: list[Adult] = Field(default_factory=list, max_length=29)
    index_offence: str | None = Field(default=None, max_length=500)
    risk_of_serious_harm_to_children: Literal["low", "medium", "high", "very-high"]
    registered_sex_offender: bool = False
    concerns: list[Literal["domestic-abuse", "sexual-offending", "violence", "substance-misuse",
                           "alcohol-misuse", "mental-health", "other"]] = Field(min_length=1)
    assessment: str = Field(min_length=1, max_length=20_000,
                            description="The practitioner's analysis of the risk to the children")
    consent: ConsentInfo | None = None


class ProbationReferral(Event[ProbationReferralV1]):
    event_type = "uk.probation.safeguarding-referral.v1"
