"""A request for Early Help v1 -> Contact (kind early-help-request)."""

from contracts.contact import Child, Consent, ConsentState, Contact, HouseholdMember, Referrer
from contracts.formats.early_help import EarlyHelpRequest
from services.intake.formats import base

NEED_FACTORS = {"parenting-support": "20", "school-attendance": "20", "behaviour": "14A",
                "parental-mental-health": "4B", "substance-misuse": "2B",
                "domestic-abuse": "3B", "financial-hardship": "20", "housing": "20",
                "child-health": "6A", "young-carer": "7A", "other": "20"}


def normalise(event: EarlyHelpRequest) -> Contact:
    r = event.data
    found = base.Findings()
    where = r.address
    if not base.postcode(where) and not where.lines:
        found.problem("data.address", "must give at least a street or a postcode")
    children = []
    for i, c in enumerate(r.children):
        base.check_birth(c.date_of_birth, event.time, f"data.children.{i}.date_of_birth", found)
        children.append(Child(given_name=c.given_name, family_name=c.family_name,
                              date_of_birth=c.date_of_birth, gender=c.gender,
                              postcode=base.postcode(where), address=base.address_text(where),
                              ethnicity=c.ethnicity, language=c.language))
    household = [
        HouseholdMember(
            given_name=base.name_or_unknown(a.given_name, f"adults.{i}: given name", found),
            family_name=base.name_or_unknown(a.family_name, f"adults.{i}: family name", found),
            date_of_birth=a.date_of_birth, relationship=a.relationship,
            postcode=base.postcode(a.address) or base.postcode(where))
        for i, a in enumerate(r.adults)
    ]
    found.raise_if_unusable()
    agreement = r.family_agreement
    if agreement is None:
        consent = Consent(state=ConsentState.NOT_SOUGHT)
    elif agreement.agreed:
        consent = Consent(state=ConsentState.GIVEN, decided_by=agreement.given_by,
                          reason=f"Agreed on {agreement.on}" if agreement.on else None)
    else:
        consent = Consent(state=ConsentState.REFUSED, reason=agreement.why_not,
                          decided_by=agreement.given_by)
    who = r.requested_by
    codes = base.concerns(NEED_FACTORS[n] for n in r.needs)
    return Contact(
        contact_id=event.subject,
        referrer_reference=r.request_reference,
        received_at=event.time,
        channel="portal",
        referrer=Referrer(agency=who.agency or "early-help", source_code="5D", name=who.name,
                          role=f"{who.role}, {who.organisation}"),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(f"Needs: {', '.join(r.needs)}.",
                           f"What has been tried: {r.what_has_been_tried}",
                           f"Support requested: {r.support_requested}"),
        consent=consent,
        kind="early-help-request",
        source_format=event.type,
        data_quality=found.warnings,
    )
