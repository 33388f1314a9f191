"""What each agency's own systems hold about the borough's families."""

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta

from synthetic.population import Family, Person

# record type -> (applies to, risk, summary templates)
_CATALOGUE: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {
    "police": [
        ("domestic-abuse-incident", "adult", "medium",
         ("Attended domestic incident at home address; children present.",
          "Verbal argument reported by neighbours; no offences disclosed.")),
        ("arrest", "adult", "medium", ("Arrested for assault; released under investigation.",
                                       "Arrested for possession with intent to supply.")),
        ("missing-episode", "child", "medium", ("Reported missing overnight; found by officers.",)),
        ("marac-flag", "adult", "high", ("Heard at MARAC as high-risk victim.",)),
        ("warning-marker", "adult", "medium", ("Warning marker: violent towards police.",)),
    ],
    "health": [
        ("ae-attendance", "child", "medium", ("A&E attendance: head injury, explanation vague.",
                                              "A&E attendance: ingestion of medication.")),
        ("missed-appointment", "child", "low", ("Three missed health visitor appointments.",
                                                "Was-not-brought to paediatric clinic.")),
        ("maternity", "adult", "medium", ("Late booking in pregnancy; no antenatal care.",)),
        ("mental-health", "adult", "medium", ("Under community mental health team; recent crisis.",)),
    ],
    "education": [
        ("attendance", "child", "low", ("Attendance 82% this term.", "Attendance 61% this term.")),
        ("exclusion", "child", "medium", ("Fixed-term exclusion for violence.",)),
        ("dsl-concern", "child", "high", ("DSL log: child arrived hungry with unexplained bruising.",
                                          "DSL log: child said they are scared to go home.")),
        ("elective-home-education", "child", "low", ("Registered for elective home education.",)),
    ],
    "childrens-social-care": [
        ("previous-referral", "child", "medium", ("Previous referral closed after assessment.",)),
        ("child-protection-plan", "child", "high", ("Subject to a child protection plan: neglect.",)),
        ("looked-after-episode", "child", "medium", ("Previously looked after under section 20.",)),
    ],
    "probation": [
        ("supervision", "adult", "medium", ("Under probation supervision on licence.",)),
        ("risk-level", "adult", "high", ("Assessed high risk of serious harm to children.",)),
    ],
    "housing": [
        ("tenancy-arrears", "adult", "low", ("Rent arrears; notice seeking possession served.",)),
        ("anti-social-behaviour", "adult", "medium", ("ASB complaints from neighbours: shouting.",)),
        ("homelessness", "adult", "medium", ("Family in temporary accommodation.",)),
    ],
}
_GENERIC = [("record", "adult", "low", ("Known to this agency.",))]

# Share of the borough's families each agency has any record of.
_REACH = {"police": 0.2, "health": 0.35, "education": 0.3, "childrens-social-care": 0.12,
          "probation": 0.06, "housing": 0.12}


@dataclass(frozen=True)
class AgencyRecord:
    record_id: str
    agency: str
    record_type: str
    given_name: str
    family_name: str
    date_of_birth: date
    postcode: str
    summary: str
    occurred_on: date
    risk: str


def _known(agency: str, family_id: str, reach: float) -> bool:
    digest = hashlib.sha256(f"{agency}|{family_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < reach


def agency_records(agency: str, families: list[Family], seed: int = 2026,
                   today: date = date(2026, 11, 1)) -> list[AgencyRecord]:
    rng = random.Random(f"{seed}|{agency}")
    catalogue = _CATALOGUE.get(agency, _GENERIC)
    records: list[AgencyRecord] = []
    for family in families:
        if not _known(agency, family.family_id, _REACH.get(agency, 0.2)):
            continue
        for _ in range(rng.randint(1, 3)):
            record_type, applies_to, risk, summaries = rng.choice(catalogue)
            people: tuple[Person, ...] = family.children if applies_to == "child" else family.adults
            person = rng.choice(people)
            records.append(AgencyRecord(
                record_id=f"{agency}-{len(records):05d}",
                agency=agency,
                record_type=record_type,
                given_name=person.given_name,
                family_name=person.family_name,
                date_of_birth=person.date_of_birth,
                postcode=person.postcode,
                summary=rng.choice(summaries),
                occurred_on=today - timedelta(days=rng.randint(1, 900)),
                risk=risk,
            ))
    return records
