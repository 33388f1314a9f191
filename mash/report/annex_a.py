"""Ofsted ILACS Annex A, List 1 (contacts), free of I/O.

One row per child per contact received in the period, in the template's
columns and its date format (dd/mm/yyyy). Values follow the template's
categories, written without the drop-down's letter ("Female", not
"b) Female"); the contact source is the Children in Need referral source
code, as the brief for this return asks.

What the record does not hold is written as the return's "not recorded"
value, never guessed: gender "Not stated/recorded", ethnicity "NOBT"
(information not yet obtained), date of birth and age blank.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from mash.report.period import LONDON, Period
from mash.report.records import ChildDoc, ContactRecord

VERSION = "ILACS Annex A 2023, List 1"
LIST_1_COLUMNS = (
    "Child Unique ID",
    "Gender",
    "Ethnicity",
    "Date of Birth",
    "Age of Child (Years)",
    "Date of Contact",
    "Contact Source",
)
BUILT = frozenset({1})

GENDER = {"male": "Male", "female": "Female", "other": "Neither"}
GENDER_NOT_RECORDED = "Not stated/recorded"

# CIN census ethnicity codes (DfE), with the words referrers write for them.
ETHNICITY: dict[str, tuple[str, ...]] = {
    "WBRI": ("White British", "White - British", "White English", "White Scottish",
             "White Welsh"),
    "WIRI": ("White Irish",),
    "WIRT": ("Traveller of Irish heritage", "Irish Traveller"),
    "WOTH": ("Any other White background", "White other", "Other White"),
    "WROM": ("Gypsy/Roma", "Gypsy", "Roma", "Gypsy Roma"),
    "MWBC": ("White and Black Caribbean",),
    "MWBA": ("White and Black African",),
    "MWAS": ("White and Asian",),
    "MOTH": ("Any other mixed background", "Mixed other", "Other mixed"),
    "AIND": ("Indian", "Asian Indian", "Asian or Asian British Indian"),
    "APKN": ("Pakistani", "Asian Pakistani", "Asian or Asian British Pakistani"),
    "ABAN": ("Bangladeshi", "Asian Bangladeshi", "Asian or Asian British Bangladeshi"),
    "AOTH": ("Any other Asian background", "Asian other", "Other Asian"),
    "BCRB": ("Black Caribbean", "Caribbean", "Black or Black British Caribbean"),
    "BAFR": ("Black African", "African", "Black or Black British African"),
    "BOTH": ("Any other Black background", "Black other", "Other Black"),
    "CHNE": ("Chinese",),
    "OOTH": ("Any other ethnic group", "Other ethnic group"),
    "REFU": ("Refused", "Declined", "Prefers not to say"),
    "NOBT": ("Information not yet obtained", "Not known", "Unknown", "Not recorded"),
}
ETHNICITY_NOT_RECORDED = "NOBT"


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


_BY_WORDS = {_words(w): code for code, words in ETHNICITY.items() for w in (code, *words)}


class ListNotBuilt(ValueError):
    """Only List 1 is built."""


def check_list(number: int) -> None:
    if number not in BUILT:
        raise ListNotBuilt(f"Annex A list {number} is not built: only list 1 (contacts) is. "
                           "Lists 2-5 need early help, referral, assessment and section 47 "
                           "records the MASH does not hold.")


@dataclass(frozen=True)
class Row:
    child_id: str
    gender: str
    ethnicity: str
    date_of_birth: str
    age: str
    date_of_contact: str
    contact_source: str
    ethnicity_uncoded: bool = False  # recorded in words no CIN code matches

    def cells(self) -> tuple[str, ...]:
        return (self.child_id, self.gender, self.ethnicity, self.date_of_birth, self.age,
                self.date_of_contact, self.contact_source)


def ethnicity(recorded: str | None) -> tuple[str, bool]:
    """The CIN code for what the referrer wrote, and whether it is uncoded.
    Nothing recorded -> NOBT. Words that match no code are kept as written
    (and flagged) for a practitioner to code: mapping "Polish" to WOTH is a
    judgement about a child, not a format change."""
    if recorded is None or not recorded.strip():
        return ETHNICITY_NOT_RECORDED, False
    code = _BY_WORDS.get(_words(recorded))
    return (code, False) if code else (recorded.strip(), True)


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def dmy(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def row(contact: ContactRecord, index: int, child: ChildDoc) -> Row:
    received = contact.received_at.astimezone(LONDON).date()
    code, uncoded = ethnicity(child.ethnicity)
    if child.date_of_birth is not None:
        born, age = dmy(child.date_of_birth), str(age_on(child.date_of_birth, received))
    elif child.estimated_age is not None:
        # No date of birth, but the referrer's estimate of the child's age at
        # the contact: the age is held, the date of birth is not.
        born, age = "", str(child.estimated_age)
    else:
        # An unborn child (only an expected date of delivery) or a child whose
        # age nobody gave: no date of birth, so no age. The expected date of
        # delivery is not a date of birth and is not written as one.
        born, age = "", ""
    # Intake's person index id is the child's identity across contacts; a
    # child stored before the index existed gets an id unique to this row.
    child_id = child.person_id or f"{contact.contact_id}/child-{index}"
    return Row(child_id, GENDER.get(child.gender, GENDER_NOT_RECORDED), code, born, age,
               dmy(received), contact.source_code, uncoded)


def rows(contacts: Iterable[ContactRecord], period: Period) -> list[Row]:
    """One row per child per contact received in the period, by date of
    contact (then child id)."""
    out = [(c.received_at, row(c, i, child))
           for c in contacts if c.received_at in period
           for i, child in enumerate(c.contact.children)]
    out.sort(key=lambda pair: (pair[0], pair[1].child_id))
    return [r for _, r in out]


def to_csv(table: Iterable[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LIST_1_COLUMNS)
    writer.writerows(r.cells() for r in table)
    return buffer.getvalue()
