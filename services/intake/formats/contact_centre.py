"""A member of the public's call to the contact centre v1 -> Contact."""

from contracts.contact import Child, Consent, ConsentState, Contact, HouseholdMember, Referrer, Urgency
from contracts.formats.contact_centre import PublicCall
from services.intake.formats import base

SOURCE_CODES = {"parent": "1A", "relative": "1A", "carer": "1A", "neighbour": "1B",
                "friend": "1B", "self": "1C", "professional": "1D", "other": "1D",
                "unknown": "1D"}
CATEGORY_FACTORS = {"neglect": "16A", "physical-abuse": "18C", "sexual-abuse": "19C",
                    "emotional-abuse": "17A", "domestic-abuse": "3B", "left-alone": "16A",
                    "drugs-or-alcohol": "2B", "missing": "10A", "other": "20"}
CONSENT_REASON = ("A member of the public: the family's consent is not theirs to give; the MASH "
                  "decides whether to seek it")


def normalise(event: PublicCall) -> Contact:
    r = event.data
    found = base.Findings()
    where = r.address_of_concern
    if not base.postcode(where) and not where.lines:
        found.problem("data.address_of_concern", "must give at least a street or a postcode, so "
                                                 "the children can be found")
    children = []
    for i, c in enumerate(r.children):
        base.check_birth(c.date_of_birth, event.time, f"data.children.{i}.date_of_birth", found)
        children.append(Child(
            given_name=base.name_or_unknown(c.given_name, f"children.{i}: given name", found),
            family_name=base.name_or_unknown(c.family_name, f"children.{i}: family name", found),
            date_of_birth=c.date_of_birth, estimated_age=c.approximate_age, gender=c.gender,
            postcode=base.postcode(where), address=base.address_text(where)))
    household = [
        HouseholdMember(
            given_name=base.name_or_unknown(p.given_name, f"others_in_home.{i}: given name",
                                            found),
            family_name=base.name_or_unknown(p.family_name, f"others_in_home.{i}: family name",
                                             found),
            relationship=p.relationship, postcode=base.postcode(where))
        for i, p in enumerate(r.others_in_home)
    ]
    found.raise_if_unusable()
    caller = r.caller
    anonymous = caller.anonymous
    codes = base.concerns(CATEGORY_FACTORS[c] for c in r.concern_categories)
    return Contact(
        contact_id=event.subject,
        referrer_reference=r.call_reference,
        received_at=event.time,
        channel="phone",
        referrer=Referrer(agency="public",
                          source_code="9" if anonymous else SOURCE_CODES[caller.relationship_to_child],
                          name=None if anonymous else caller.name,
                          role=f"member of the public ({caller.relationship_to_child})",
                          anonymous=anonymous),
        children=children,
        household=household,
        concerns=codes,
        analysis=base.join(f"The caller said: {r.what_the_caller_said}",
                           f"Call handler ({r.call_handler}): {r.call_handler_notes}"
                           if r.call_handler_notes else None),
        consent=Consent(state=ConsentState.NOT_SOUGHT, reason=CONSENT_REASON,
                        decided_by=r.call_handler),
        urgency=Urgency.IMMEDIATE if r.immediate_danger else Urgency.ROUTINE,
        source_format=event.type,
        data_quality=found.warnings,
    )
