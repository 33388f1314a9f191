"""A member of the public, through the council's contact centre by phone.
The caller may be anonymous and may not know the children's names."""

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Event
from contracts.formats.common import Address, FormatModel, Gender


class Caller(FormatModel):
    anonymous: bool = False
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    relationship_to_child: Literal["parent", "relative", "carer", "neighbour", "friend",
                                   "self", "professional", "other", "unknown"] = "unknown"


class ChildDescribed(FormatModel):
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    date_of_birth: date | None = None
    approximate_age: int | None = Field(default=None, ge=0, le=25)
    gender: Gender = "unknown"


class PersonDescribed(FormatModel):
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    relationship: str = Field(min_length=1, max_length=100)


class PublicCallV1(FormatModel):
    call_reference: str = Field(min_length=1, max_length=100)
    call_started_at: AwareDatetime
    call_handler: str = Field(min_length=1, max_length=200)
    caller: Caller
    address_of_concern: Address
    children: list[ChildDescribed] = Field(min_length=1, max_length=20)
    others_in_home: list[PersonDescribed] = Field(default_factory=list, max_length=30)
    concern_categories: list[Literal["neglect", "physical-abuse", "sexual-abuse",
                                     "emotional-abuse", "domestic-abuse", "left-alone",
                                     "drugs-or-alcohol", "missing", "other"]] = Field(min_length=1)
    what_the_caller_said: str = Field(min_length=1, max_length=20_000)
    call_handler_notes: str | None = Field(default=None, max_length=20_000)
    immediate_danger: bool = False


class PublicCall(Event[PublicCallV1]):
    event_type = "uk.gov.la.contact-centre-call.v1"
