"""Education (designated safeguarding lead) concern v1 -> Contact."""

from contracts.contact import Child, Contact, HouseholdMember, Referrer, Urgency
from contracts.formats.education import EducationConcern, Pupil
from services.intake.concerns import child_protection
from services.intake.formats import base

DISCLOSURE_FACTORS = {"physical-abuse": "18C", "sexual-abuse": "19C", "emotional-abuse": "17A",
                      "neglect": "16A", "domestic-abuse": "3B", "self-harm": "15A",
                      "exploitation": "24A", "other": "20"}
TYPE_FACTORS = {"attendance": "20", "behaviour": "14A", "neglect": "16A",
                "emotional-wellbeing": "4A", "online-safety": "20", "other": "20"}


def _child(p: Pupil, where: str, event: EducationConcern, found: base.Findings) -> Child:
    base.check_birth(p.date_of_birth, event.time, f"{where}.date_of_birth", found)
    # Siblings live with the pupil unless the school says otherwise.
    address = p.address or event.data.pupil.address
    return Child(given_name=p.given_name, family_name=p.family_name,
                 date_of_birth=p.date_of_birth, gender=p.gender,
                 postcode=base.postcode(address), address=base.address_text(address),
                 ethnicity=p.ethnicity, language=p.first_language)


def normalise(event: EducationConcern) -> Contact:
    c = event.data
    found = base.Findings()
    lead: list[str] = []
    details: str | None = None
    if c.concern_type == "disclosure":
        if c.disclosure is None:
            found.problem("data.disclosure", "is required for a disclosure: what the child said, "
                                             "in their words, to whom and when")
        else:
            d = c.disclosure
            lead = [DISCLOSURE_FACTORS[d.nature]]
            details = (f"Disclosure ({d.nature}) to {d.said_to} at {d.said_at:%Y-%m-%d %H:%M}. "
                       f"In the child's words: \"{d.words_used}\"")
    elif c.concern_type == "injury":
        if c.injury is None:
            found.problem("data.injury", "is required for an injury: what it is, where on the "
                                         "body, and any explanation given")
        else:
            i = c.injury
            lead = ["18B" if i.caused_by == "child" else "18C"]
            details = (f"Injury: {i.description} ({i.body_location})."
                       + (f" Explanation given: {i.explanation_given}." if i.explanation_given
                          else " No explanation given.")
                       + (" Photographed." if i.photographed else ""))
    elif c.concern_type == "attendance":
        if c.attendance is None:
            found.problem("data.attendance", "is required for an attendance concern: the "
                                             "attendance percentage and the period")
        else:
            a = c.attendance
            lead = ["20"]
            details = (f"Attendance {a.percentage:.0f}% ({a.period}); "
                       f"{a.unauthorised_sessions} unauthorised sessions."
                       + (" Missing education." if a.missing_education else ""))
    else:
        lead = [TYPE_FACTORS[c.concern_type]]
    extra = base.factor_codes(c.additional_factors, "data.additional_factors", found)
    codes = base.concerns(lead, extra)
    children = [_child(c.pupil, "data.pupil", event, found)]
    children += [_child(s, f"data.siblings.{i}", event, found) for i, s in enumerate(c.siblings)]
    household = [
        HouseholdMember(
            given_name=base.name_or_unknown(a.given_name, f"family.{i}: given name", found),
            family_name=base.name_or_unknown(a.family_name, f"family.{i}: family name", found),
            date_of_birth=a.date_of_birth, relationship=a.relationship,
            postcode=base.postcode(a.address),
        )
        for i, a in enumerate(c.family)
    ]
    found.raise_if_unusable()
    urgency = Urgency.ROUTINE
    if c.urgent:
        urgency = Urgency.IMMEDIATE if child_protection(codes) else Urgency.TODAY
    return Contact(
        contact_id=event.subject,
        referrer_reference=c.concern_reference,
        received_at=event.time,
        channel="portal",
        referrer=Referrer(agency="education", source_code="2A", name=c.school.dsl_name,
                          role=f"{c.school.dsl_role}, {c.school.name} (URN {c.school.urn})"),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(details, c.dsl_analysis),
        consent=base.consent(c.consent, codes, c.school.dsl_name),
        urgency=urgency,
        source_format=event.type,
        data_quality=found.warnings,
    )
