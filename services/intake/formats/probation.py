"""Probation safeguarding referral v1 -> Contact."""

from contracts.contact import Child, Contact, HouseholdMember, Referrer, Urgency
from contracts.formats.probation import ProbationReferral
from services.intake.formats import base

PARENTAL = frozenset({"mother", "father", "parent", "stepfather", "stepmother", "step-parent",
                      "carer", "guardian", "mother's partner", "father's partner", "partner"})
# concern -> (factor when a parent or carer, factor when another person in the household)
CONCERN_FACTORS = {"domestic-abuse": ("3B", "3C"), "sexual-offending": ("19C", "19C"),
                   "violence": ("18C", "18C"), "substance-misuse": ("2B", "2C"),
                   "alcohol-misuse": ("1B", "1C"), "mental-health": ("4B", "4C"),
                   "other": ("20", "20")}
URGENCY = {"very-high": Urgency.IMMEDIATE, "high": Urgency.TODAY, "medium": Urgency.ROUTINE,
           "low": Urgency.ROUTINE}


def normalise(event: ProbationReferral) -> Contact:
    r = event.data
    found = base.Findings()
    pop = r.person_on_probation
    parental = pop.relationship_to_children.lower() in PARENTAL
    codes = base.concerns(CONCERN_FACTORS[c][0 if parental else 1] for c in r.concerns)
    children = []
    for i, c in enumerate(r.children):
        base.check_birth(c.date_of_birth, event.time, f"data.children.{i}.date_of_birth", found)
        address = c.address or (pop.address if pop.lives_with_children else None)
        children.append(Child(given_name=c.given_name, family_name=c.family_name,
                              date_of_birth=c.date_of_birth, estimated_age=c.estimated_age,
                              gender=c.gender, postcode=base.postcode(address),
                              address=base.address_text(address)))
    household = [HouseholdMember(
        given_name=pop.given_name, family_name=pop.family_name, date_of_birth=pop.date_of_birth,
        relationship=f"{pop.relationship_to_children} (on probation, CRN {pop.crn})",
        postcode=base.postcode(pop.address),
    )]
    household += [
        HouseholdMember(
            given_name=base.name_or_unknown(a.given_name, f"other_household.{i}: given name",
                                            found),
            family_name=base.name_or_unknown(a.family_name, f"other_household.{i}: family name",
                                             found),
            date_of_birth=a.date_of_birth, relationship=a.relationship,
            postcode=base.postcode(a.address),
        )
        for i, a in enumerate(r.other_household)
    ]
    found.raise_if_unusable()
    risk = (f"Risk of serious harm to children: {r.risk_of_serious_harm_to_children}."
            + (" Registered sex offender." if r.registered_sex_offender else "")
            + ("" if pop.lives_with_children else " Does not live with the children.")
            + (f" Index offence: {r.index_offence}." if r.index_offence else ""))
    who = r.practitioner
    return Contact(
        contact_id=event.subject,
        referrer_reference=r.referral_reference,
        received_at=event.time,
        channel="email",
        referrer=Referrer(agency="probation", source_code="7", name=who.name,
                          role=", ".join(p for p in (who.role, who.region) if p)),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(risk, r.assessment),
        consent=base.consent(r.consent, codes, who.name),
        urgency=URGENCY[r.risk_of_serious_harm_to_children],
        source_format=event.type,
        data_quality=found.warnings,
    )
