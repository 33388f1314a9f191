"""Police notification v1 -> Contact."""

from contracts.contact import Child, Contact, HouseholdMember, Rag, Referrer, Urgency
from contracts.formats.police import PoliceNotification
from services.intake.formats import base

INCIDENT_FACTORS: dict[str, str] = {
    "domestic-abuse": "3B",
    "missing-person": "10A",
    "child-neglect": "16A",
    "assault": "18C",
    "sexual-offence": "19C",
    "child-sexual-exploitation": "11A",
    "child-criminal-exploitation": "24A",
    "anti-social-behaviour": "14A",
    "concern-for-welfare": "20",
    "drugs": "2B",
    "online-harm": "20",
    "other": "20",
}
URGENCY = {"RED": Urgency.IMMEDIATE, "AMBER": Urgency.TODAY, "GREEN": Urgency.ROUTINE}


def normalise(event: PoliceNotification) -> Contact:
    n = event.data
    found = base.Findings()
    extra = base.factor_codes(n.additional_factors, "data.additional_factors", found)
    codes = base.concerns([INCIDENT_FACTORS[n.incident_type]], extra)
    children = []
    for i, c in enumerate(n.children_present):
        base.check_birth(c.date_of_birth, event.time, f"data.children_present.{i}.date_of_birth",
                         found)
        children.append(Child(
            given_name=c.given_name, family_name=c.family_name, date_of_birth=c.date_of_birth,
            estimated_age=c.estimated_age, gender=c.gender,
            postcode=base.postcode(c.address) or base.postcode(n.location),
            address=base.address_text(c.address) or base.address_text(n.location),
            ethnicity=c.self_defined_ethnicity, language=c.language,
        ))
    household = [
        HouseholdMember(
            given_name=base.name_or_unknown(a.given_name, f"adults.{i}: given name", found),
            family_name=base.name_or_unknown(a.family_name, f"adults.{i}: family name", found),
            date_of_birth=a.date_of_birth,
            relationship=a.relationship if a.role == "other" else f"{a.relationship} ({a.role})",
            postcode=base.postcode(a.address),
        )
        for i, a in enumerate(n.adults)
    ]
    found.raise_if_unusable()
    officer = n.officer
    role = ", ".join(p for p in (f"{officer.rank or 'Officer'} {officer.collar_number}",
                                 officer.unit, n.force) if p)
    urgency = URGENCY[n.initial_rag]
    if n.dash_risk == "high":
        urgency = Urgency.IMMEDIATE
    incident = f"Incident ({n.incident_type}) at {n.incident_at:%Y-%m-%d %H:%M %Z}"
    if n.dash_risk:
        incident += f"; DASH risk {n.dash_risk}"
    return Contact(
        contact_id=event.subject,
        referrer_reference=n.notification_reference,
        received_at=event.time,
        channel="notification",
        referrer=Referrer(agency="police", source_code="6", name=officer.name, role=role),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(incident + ".", n.circumstances,
                           f"Officer's view: {n.officer_view}" if n.officer_view else None),
        consent=base.consent(n.consent, codes, officer.name),
        urgency=urgency,
        referrer_rag=Rag(n.initial_rag),
        incident_reference=n.occurrence_reference,
        source_format=event.type,
        data_quality=found.warnings,
    )
