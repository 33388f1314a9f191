"""A confidential enquiry from another local authority v1 -> Contact
(kind confidential-enquiry), answered within 24 hours."""

from datetime import timedelta

from contracts.contact import Child, Consent, ConsentState, Contact, HouseholdMember, Referrer, Urgency
from contracts.formats.la_enquiry import ConfidentialEnquiry
from services.intake.formats import base

ANSWER_WITHIN = timedelta(hours=24)
CONSENT_REASON = ("Confidential enquiry between local authorities: the enquiring authority "
                  "holds the case and decides consent")


def normalise(event: ConfidentialEnquiry) -> Contact:
    r = event.data
    found = base.Findings()
    due = r.answer_due or r.sent_at + ANSWER_WITHIN
    if due <= r.sent_at:
        found.problem("data.answer_due", "is before the enquiry was sent: leave it out for the "
                                         "usual 24 hours")
    codes = base.concerns(base.factor_codes(r.known_factors, "data.known_factors", found))
    children = []
    for i, c in enumerate(r.children):
        base.check_birth(c.date_of_birth, event.time, f"data.children.{i}.date_of_birth", found)
        children.append(Child(given_name=c.given_name, family_name=c.family_name,
                              date_of_birth=c.date_of_birth, gender=c.gender,
                              postcode=base.postcode(c.previous_address),
                              address=base.address_text(c.previous_address)))
    household = [
        HouseholdMember(
            given_name=base.name_or_unknown(a.given_name, f"adults.{i}: given name", found),
            family_name=base.name_or_unknown(a.family_name, f"adults.{i}: family name", found),
            date_of_birth=a.date_of_birth, relationship=a.relationship,
            postcode=base.postcode(a.address))
        for i, a in enumerate(r.adults)
    ]
    found.raise_if_unusable()
    la = r.from_authority
    questions = "\n".join(f"- {q}" for q in r.questions) or None
    return Contact(
        contact_id=event.subject,
        referrer_reference=r.enquiry_reference,
        received_at=event.time,
        channel="email",
        referrer=Referrer(agency="other-local-authority", source_code="5C", name=la.officer,
                          role=", ".join(p for p in (la.team, f"{la.name} ({la.la_code})") if p)),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(f"Confidential enquiry from {la.name}; their involvement: "
                           f"{r.involvement.replace('-', ' ')}.", r.reason_for_enquiry,
                           f"Questions:\n{questions}" if questions else None),
        consent=Consent(state=ConsentState.NOT_SOUGHT, reason=CONSENT_REASON, decided_by=la.name),
        urgency=Urgency.TODAY,
        kind="confidential-enquiry",
        answer_due=due,
        source_format=event.type,
        data_quality=found.warnings,
    )
