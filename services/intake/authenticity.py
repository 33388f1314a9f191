"""Is a contact from whom it says, and sent now? Free of I/O.

Checked before the contact is parsed: signed at all, by a signer whose
public key we hold, with a signature over these exact bytes, claiming a
source that signer owns, and sent within the time window. The nonce (the
event id never seen before from this signer) needs the database and is
checked in the handler's transaction; its words are here.
"""

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts.signing import SIGNATURE_HEADER, SIGNER_HEADER, owns, signature_valid, signers
from plumbing.guard import Unusable

WHERE = "(signature)"


def _shown(text: str) -> str:
    """An untrusted header, safe to repeat in a rejection."""
    cleaned = "".join(ch for ch in text if ch.isprintable())
    return cleaned[:60] + ("…" if len(cleaned) > 60 else "")


def authenticate(value: bytes, headers: Mapping[str, str],
                 keys: Mapping[str, Ed25519PublicKey], now: datetime,
                 window: timedelta) -> str:
    """The signer of an authentic contact; Unusable (with the reason) otherwise.

    A body that is signed but not JSON, or has no readable source or time,
    passes here and is rejected by the contract's validation instead.
    """
    signer = verify(value, headers, keys)
    try:
        body = json.loads(value)
    except (ValueError, RecursionError):
        return signer
    if isinstance(body, dict):
        check_claims(body, signer, now, window)
    return signer


def attribute(value: bytes, headers: Mapping[str, str],
              keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """Who a message may be told back to: the signer whose signature over
    these bytes verifies and who is a sender of contacts (with a topic of its
    own); None otherwise. Neither the source nor the time matter here: a
    replayed or stale message still came, signed, from its signer."""
    try:
        signer = verify(value, headers, keys)
    except Unusable:
        return None
    return signer if signer in signers() else None


def verify(value: bytes, headers: Mapping[str, str],
           keys: Mapping[str, Ed25519PublicKey]) -> str:
    """The signer, when the signature over these exact bytes verifies."""
    signer, signature = headers.get(SIGNER_HEADER), headers.get(SIGNATURE_HEADER)
    if not signer or not signature:
        raise Unusable([(WHERE, f"not signed: a contact must carry the {SIGNER_HEADER} and "
                                f"{SIGNATURE_HEADER} headers (Ed25519 over the message)")],
                       reason="not-authentic")
    if signer not in keys:
        raise Unusable([(WHERE, f"signed by {_shown(signer)!r}, a sender we hold no public "
                                "key for")], signer=_shown(signer), reason="not-authentic")
    if not signature_valid(keys, signer, signature, value):
        raise Unusable([(WHERE, f"signature does not match: the message was changed after "
                                f"signing, or was not signed by {_shown(signer)}")],
                       signer=_shown(signer), reason="not-authentic")
    return signer


def check_claims(body: Mapping[str, object], signer: str, now: datetime,
                 window: timedelta) -> None:
    """A signer speaks only for its own sources, and only now."""
    source = body.get("source")
    if isinstance(source, str) and not owns(signer, source):
        raise Unusable([("source", f"signed by {signer} but claims to come from "
                                   f"{_shown(source)}")], signer=signer, reason="not-authentic")
    sent = _time(body.get("time"))
    if sent is not None and abs(now - sent) > window:
        minutes = window.total_seconds() / 60
        raise Unusable([("time", f"sent {sent.isoformat()} outside the {minutes:g}-minute "
                                 f"window around {now.isoformat(timespec='seconds')}: "
                                 "send contacts as they are made, never again later")],
                       signer=signer, reason="not-authentic")


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def replay(signer: str, event_id: str, first_received: datetime) -> Unusable:
    return Unusable([("id", f"already received: replay of event {_shown(event_id)} first "
                            f"received {first_received.isoformat(timespec='seconds')}")],
                    signer=signer, reason="replayed")
