"""On the real stack: unsigned, forged, misattributed and stale contacts are
rejected with a plain reason, written to intake's audit trail, and open no case."""

import json
import uuid
from datetime import timedelta

from contracts import topics
from contracts.envelope import utc_now
from contracts.events import ContactRejected, ContactSubmitted
from contracts.signing import SIGNATURE_HEADER
from plumbing import audit
from tests.embedded import Wire
from tests.factories import contact


def _contact(cid: str, **envelope: object) -> bytes:
    event = ContactSubmitted.new(contact(contact_id=cid, referrer_reference=f"REF-{cid}"),
                                 source="/agency/police", subject=cid, correlation_id=cid)
    return json.dumps({**json.loads(event.to_bytes()), **envelope}).encode()


async def test_contacts_that_are_not_authentic_are_rejected_and_audited(wire: Wire) -> None:
    run = uuid.uuid4().hex[:8]
    cases = {
        f"unsigned-{run}": ({}, "not signed"),
        f"forged-{run}": ({"signer": "health"}, "signature does not match"),
        f"claims-{run}": ({"source": "/agency/health"},
                          "signed by police but claims to come from /agency/health"),
        f"stale-{run}": ({"time": (utc_now() - timedelta(minutes=30)).isoformat()},
                         "outside the 10-minute window"),
    }
    for cid, (how, _) in cases.items():
        if cid.startswith("unsigned"):
            await wire.send(topics.CONTACTS_SUBMITTED, _contact(cid), key=cid, signer=None)
        elif cid.startswith("forged"):
            raw = _contact(cid)
            # A real police signature, presented as health's.
            forged = wire.keys.headers("police", raw)[SIGNATURE_HEADER]
            await wire.send(topics.CONTACTS_SUBMITTED, raw, key=cid, signer="health",
                            headers={SIGNATURE_HEADER: forged})
        elif cid.startswith("claims"):
            await wire.send(topics.CONTACTS_SUBMITTED, _contact(cid, **how), key=cid,
                            signer="police")
        else:
            await wire.send(topics.CONTACTS_SUBMITTED, _contact(cid, **how), key=cid)

    hits = await wire.wait_for((topics.CONTACTS_REJECTED, topics.feedback("police"),
                                topics.feedback("health")),
                               lambda _t, v: run in json.loads(v)["subject"], count=4)
    said = {r.subject: r.data.problems[0].problem
            for r in (ContactRejected.model_validate_json(v) for _, v in hits)}
    assert set(said) == set(cases)
    for cid, (_, reason) in cases.items():
        assert reason in said[cid], (cid, said[cid])
    # Told to whoever the signature proves sent it; with no valid signature, to
    # the operator alone (health never hears of a forgery in its name).
    went = {json.loads(v)["subject"]: t for t, v in hits}
    assert went == {f"unsigned-{run}": topics.CONTACTS_REJECTED,
                    f"forged-{run}": topics.CONTACTS_REJECTED,
                    f"claims-{run}": topics.feedback("police"),
                    f"stale-{run}": topics.feedback("police")}

    entries = await wire.mongo["mash_intake"][audit.AUDIT].find(
        {"action": "contact rejected", "what.contact_id": {"$in": list(cases)}}).to_list()
    by_contact = {e["what"]["contact_id"]: e["what"] for e in entries}
    # Each on a named chain (the partition it came from), its id its place there.
    assert all(e["_id"] == f"{e['chain']}/{e['seq']}" for e in entries), entries
    assert set(by_contact) == set(cases)
    assert by_contact[f"forged-{run}"]["signer"] == "health"
    assert by_contact[f"claims-{run}"]["signer"] == "police"
    assert any("not signed" in r for r in by_contact[f"unsigned-{run}"]["reasons"])
    assert not await wire.wait_for(topics.lanes(topics.CASES_OPENED),
                                   lambda _t, v: run in json.loads(v)["subject"] or
                                   run in v.decode(), timeout=1)
