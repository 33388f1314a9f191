"""Building blocks several agency formats share."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Gender = Literal["female", "male", "other", "unknown"]


class FormatModel(BaseModel):
    """Agency formats are strict: an unknown field is a mistake worth telling the sender."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Address(FormatModel):
    lines: list[str] = Field(default_factory=list, max_length=6,
                             description="House, street, town: as the agency holds it")
    postcode: str | None = Field(default=None, max_length=10)


class ConsentInfo(FormatModel):
    """Parental consent to share, as the referrer recorded it."""

    status: Literal["given", "refused", "not-sought"]
    reason: str | None = Field(default=None, max_length=2000,
                               description="Why refused or not sought")
    decided_by: str | None = Field(default=None, max_length=200,
                                   description="Who decided to share without it")
    overridden: bool = Field(default=False,
                             description="Shared without consent because seeking it would put "
                                         "the child at risk")


class NamedPerson(FormatModel):
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    date_of_birth: date | None = None


class Adult(NamedPerson):
    relationship: str = Field(min_length=1, max_length=100,
                              description="To the (first) child, e.g. mother, mother's partner")
    address: Address | None = None
