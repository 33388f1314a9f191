"""The canonical contact: what every agency's concern about a child becomes."""

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.codes import cin_factors, cin_referral_sources


class Rag(StrEnum):
    RED = "RED"
    AMBER = "AMBER"
    GREEN = "GREEN"


class ConsentState(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    NOT_SOUGHT = "not_sought"


class Urgency(StrEnum):
    IMMEDIATE = "immediate"
    TODAY = "today"
    ROUTINE = "routine"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Child(_Strict):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    estimated_age: int | None = Field(default=None, ge=0, le=25)
    expected_date_of_delivery: date | None = Field(
        default=None, description="For an unborn baby, in place of a date of birth"
    )
    gender: Literal["female", "male", "other", "unknown"] = "unknown"
    postcode: str | None = Field(default=None, max_length=10)
    ethnicity: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=300,
                                description="Where the child lives, as given (postcode apart)")
    person_id: str | None = Field(
        default=None, max_length=40,
        description="Intake's person index id; set by intake, not the referrer")


class HouseholdMember(_Strict):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date | None = None
    relationship: str = Field(min_length=1, max_length=100,
                              description="To the first child, e.g. mother")
    postcode: str | None = Field(default=None, max_length=10,
                                 description="Where they live when not with the children")
    person_id: str | None = Field(
        default=None, max_length=40,
        description="Intake's person index id; set by intake, not the referrer")


class Referrer(_Strict):
    agency: str = Field(min_length=1, max_length=100, description="An agency name, or 'public'")
    source_code: str = Field(max_length=5, description="CIN referral source code, e.g. 6 for police")
    name: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=200)
    anonymous: bool = False

    @field_validator("source_code")
    @classmethod
    def _known_source(cls, code: str) -> str:
        if code not in cin_referral_sources():
            raise ValueError(f"'{code}' is not a Children in Need referral source code")
        return code


class Consent(_Strict):
    state: ConsentState
    reason: str | None = Field(default=None, max_length=2000,
                               description="Why, especially when not sought")
    decided_by: str | None = Field(default=None, max_length=200)
    overridden: bool = Field(
        default=False,
        description="Shared without consent because seeking it (or respecting a refusal) would "
                    "put the child at risk (DPA 2018 Sch. 1 para 18); `reason` and `decided_by` "
                    "say why and who")


class PersonMatch(_Strict):
    """What intake's person index found for one person in the contact."""

    person_ref: str = Field(max_length=20, description="child-<i> or adult-<i>, as in the enquiries")
    person_id: str = Field(max_length=40, description="The indexed person it matched")
    score: float = Field(ge=0, le=1)
    band: Literal["link", "possible"] = Field(
        description="link: treated as the same person; possible: a practitioner should check")
    explanation: list[Annotated[str, Field(max_length=240)]] = Field(
        max_length=4, description="Each component of the score, in words")


class Contact(_Strict):
    contact_id: str = Field(min_length=1, max_length=100)
    referrer_reference: str = Field(min_length=1, max_length=100)
    received_at: AwareDatetime
    channel: Literal["portal", "phone", "email", "notification"]
    referrer: Referrer
    children: list[Child] = Field(min_length=1, max_length=20)
    household: list[HouseholdMember] = Field(default_factory=list, max_length=30)
    concerns: list[Annotated[str, Field(max_length=5)]] = Field(
        min_length=1, max_length=40, description="CIN factor codes")
    analysis: str = Field(min_length=1, max_length=20_000)
    consent: Consent
    urgency: Urgency = Urgency.ROUTINE
    referrer_rag: Rag | None = None
    kind: Literal["concern", "early-help-request", "confidential-enquiry"] = "concern"
    incident_reference: str | None = Field(
        default=None, max_length=100,
        description="The incident it is about, e.g. a police occurrence or crime reference")
    answer_due: AwareDatetime | None = Field(
        default=None, description="When the referrer needs an answer (a confidential enquiry "
                                  "from another local authority: 24 hours)")
    source_format: str | None = Field(
        default=None, max_length=100,
        description="The CloudEvent type it arrived as, when an agency format")
    data_quality: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=30,
        description="Usable but poor: what intake noticed, in words")
    person_matches: list[PersonMatch] = Field(
        default_factory=list, max_length=50,
        description="Set by intake: person index matches, explained")

    @field_validator("concerns")
    @classmethod
    def _known_factors(cls, codes: list[str]) -> list[str]:
        known = cin_factors()
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} not in the Children in Need factor list "
                "(e.g. 16A neglect, 3B domestic abuse: parent)"
            )
        if "21" in codes and len(codes) > 1:
            raise ValueError("21 'no factors identified' can only be used on its own")
        return codes

    @model_validator(mode="after")
    def _child_identifiable(self) -> Self:
        for i, child in enumerate(self.children):
            if not (child.date_of_birth or child.estimated_age is not None
                    or child.expected_date_of_delivery):
                # Usable but poor: kept, and flagged rather than rejected.
                continue
            if child.date_of_birth and child.date_of_birth > self.received_at.date():
                raise ValueError(f"children[{i}].date_of_birth is in the future; "
                                 "for an unborn baby give expected_date_of_delivery")
        return self
