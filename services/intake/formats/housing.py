"""Housing safeguarding referral v1 -> Contact: under-18s are the children."""

from datetime import date

from contracts.contact import Child, Contact, HouseholdMember, Referrer
from contracts.formats.housing import HousingReferral, Occupant
from services.intake.formats import base

CONCERN_FACTORS = {"home-conditions": "16A", "hoarding": "16A", "overcrowding": "20",
                   "disrepair": "20", "eviction": "20", "homelessness": "20",
                   "anti-social-behaviour": "14A", "domestic-abuse": "3B", "other": "20"}
CHILD_RELATIONSHIPS = frozenset({"son", "daughter", "child", "stepson", "stepdaughter",
                                 "grandson", "granddaughter", "foster child", "nephew", "niece"})


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def is_child(o: Occupant, on: date) -> bool:
    if o.date_of_birth is not None:
        return _age(o.date_of_birth, on) < 18
    if o.age is not None:
        return o.age < 18
    return o.relationship_to_lead_tenant.lower() in CHILD_RELATIONSHIPS


def normalise(event: HousingReferral) -> Contact:
    r = event.data
    found = base.Findings()
    today = event.time.date()
    where = r.property.address
    children, household = [], []
    for i, o in enumerate(r.occupants):
        base.check_birth(o.date_of_birth, event.time, f"data.occupants.{i}.date_of_birth", found)
        if is_child(o, today):
            children.append(Child(
                given_name=o.given_name, family_name=o.family_name, date_of_birth=o.date_of_birth,
                estimated_age=o.age if o.date_of_birth is None else None,
                postcode=base.postcode(where), address=base.address_text(where)))
        else:
            rel = o.relationship_to_lead_tenant
            household.append(HouseholdMember(
                given_name=o.given_name, family_name=o.family_name, date_of_birth=o.date_of_birth,
                relationship="lead tenant" if rel.lower() == "self" else f"{rel} of the lead tenant",
                postcode=base.postcode(where)))
    if not children:
        found.problem("data.occupants", "lists no one under 18: give each child's date of birth "
                                        "or age, or their relationship (e.g. son, daughter)")
    if len(children) > 20 or len(household) > 30:
        found.problem("data.occupants", "lists more than 20 children or 30 adults: send one "
                                        "referral per household")
    if not base.postcode(where) and not where.lines:
        found.problem("data.property.address", "must give at least a street or a postcode")
    found.raise_if_unusable()
    codes = base.concerns(CONCERN_FACTORS[c] for c in r.concern_types)
    tenure = f"Tenure: {r.property.tenure.replace('-', ' ')}."
    return Contact(
        contact_id=event.subject,
        referrer_reference=r.case_reference,
        received_at=event.time,
        channel="email",
        referrer=Referrer(agency="housing", source_code="4", name=r.officer.name,
                          role=", ".join(p for p in ("housing officer", r.officer.team) if p)),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(tenure, r.observations),
        consent=base.consent(r.consent, codes, r.officer.name),
        source_format=event.type,
        data_quality=found.warnings,
    )
