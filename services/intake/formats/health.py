"""Health safeguarding referral v1 -> Contact (including unborn babies)."""

from contracts.contact import Child, Contact, HouseholdMember, Referrer, Urgency
from contracts.formats.health import HealthReferral
from services.intake.concerns import child_protection
from services.intake.formats import base

SOURCE_CODES = {"health-visitor": "3B", "gp": "3A", "emergency-department": "3E",
                "school-nurse": "3C", "midwife": "3D", "camhs": "3F", "paediatrician": "3F",
                "other": "3F"}
CATEGORY_FACTORS = {
    "neglect": "16A", "physical-abuse": "18C", "sexual-abuse": "19C", "emotional-abuse": "17A",
    "domestic-abuse": "3B", "parental-mental-health": "4B", "parental-substance-misuse": "2B",
    "parental-alcohol-misuse": "1B", "child-mental-health": "4A", "self-harm": "15A",
    "fgm": "22A", "fabricated-or-induced-illness": "18C", "was-not-brought": "16A",
    "concealed-pregnancy": "20", "other": "20",
}


def normalise(event: HealthReferral) -> Contact:
    r = event.data
    found = base.Findings()
    codes = base.concerns(CATEGORY_FACTORS[c] for c in r.categories)
    children = []
    for i, p in enumerate(r.patients):
        where = f"data.patients.{i}"
        if p.unborn:
            if p.date_of_birth is not None:
                found.problem(f"{where}.date_of_birth", "an unborn baby has no date of birth yet: "
                                                        "give expected_date_of_delivery instead")
            if p.expected_date_of_delivery is None:
                found.warn(f"children.{i}: unborn baby without an expected date of delivery")
        else:
            if not p.given_name:
                found.problem(f"{where}.given_name", "is required unless the baby is unborn "
                                                     "(then set unborn to true)")
            if p.expected_date_of_delivery is not None:
                found.problem(f"{where}.expected_date_of_delivery",
                              "is only for an unborn baby: set unborn to true, or give "
                              "date_of_birth")
            base.check_birth(p.date_of_birth, event.time, f"{where}.date_of_birth", found)
        children.append(Child(
            given_name=p.given_name or "Unborn", family_name=p.family_name,
            date_of_birth=None if p.unborn else p.date_of_birth,
            estimated_age=p.estimated_age,
            expected_date_of_delivery=p.expected_date_of_delivery if p.unborn else None,
            gender=p.sex, postcode=base.postcode(p.address), address=base.address_text(p.address),
            ethnicity=p.ethnicity, language=p.preferred_language,
        ))
    household = [
        HouseholdMember(
            given_name=base.name_or_unknown(a.given_name, f"family.{i}: given name", found),
            family_name=base.name_or_unknown(a.family_name, f"family.{i}: family name", found),
            date_of_birth=a.date_of_birth, relationship=a.relationship,
            postcode=base.postcode(a.address),
        )
        for i, a in enumerate(r.family)
    ]
    found.raise_if_unusable()
    who = r.practitioner
    attendance = None
    if r.attendance is not None:
        a = r.attendance
        attendance = (f"Attended {a.attended_at:%Y-%m-%d %H:%M}: {a.presenting_complaint}."
                      + (f" Injuries: {a.injuries}." if a.injuries else "")
                      + ("" if a.explanation_consistent is None else
                         " The explanation was " + ("consistent" if a.explanation_consistent
                                                    else "not consistent") + " with the injury."))
    urgency = Urgency.ROUTINE
    if r.urgent:
        urgency = Urgency.IMMEDIATE if child_protection(codes) else Urgency.TODAY
    return Contact(
        contact_id=event.subject,
        referrer_reference=r.referral_id,
        received_at=event.time,
        channel="portal",
        referrer=Referrer(agency="health", source_code=SOURCE_CODES[who.role], name=who.name,
                          role=f"{who.role.replace('-', ' ')}, {who.organisation}"),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(r.clinical_summary, attendance),
        consent=base.consent(r.consent, codes, who.name),
        urgency=urgency,
        source_format=event.type,
        data_quality=found.warnings,
    )
