"""What intake checks before anything reads a contact. Free of I/O.

In order, each cheaper than what it protects: how many headers the message
carries; who signed these exact bytes; how big it is; whether it is JSON a
person could have meant (not nested hundreds of levels down); whether its
signer may speak for its source, now. Every refusal is an ``Unusable`` with
words the sender can act on and, once the signature has been checked, the
signer, so that the rejection goes back to it alone.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from plumbing.guard import Unusable, nested_too_deeply
from services.intake import authenticity


@dataclass(frozen=True)
class Limits:
    # A contact's whole CloudEvent. The longest narrative a format takes is
    # 20,000 characters; the rest of a realistic contact is a few kB.
    max_bytes: int = 256 * 1024
    # A signed contact needs three headers (content type, signer, signature)
    # and a trace two more; thousands are an attack on whoever reads them.
    max_headers: int = 64
    max_header_bytes: int = 16 * 1024


def admit(value: bytes, headers: Mapping[str, str], header_count: int,
          keys: Mapping[str, Ed25519PublicKey], now: datetime, window: timedelta,
          limits: Limits) -> Any:
    """The contact's JSON, once it may be read; Unusable otherwise."""
    header_bytes = sum(len(k) + len(v) for k, v in headers.items())
    if header_count > limits.max_headers or header_bytes > limits.max_header_bytes:
        raise Unusable([("(headers)", f"{header_count:,} headers ({header_bytes:,} bytes): a "
                                      f"contact carries at most {limits.max_headers} "
                                      f"({limits.max_header_bytes:,} bytes)")],
                       reason="too-large")
    signer = authenticity.verify(value, headers, keys)
    if len(value) > limits.max_bytes:
        raise Unusable([("(message)", f"is {len(value):,} bytes; a contact may be at most "
                                      f"{limits.max_bytes:,}: send the narrative in summary "
                                      "and keep the full record in your own system")],
                       signer=signer, reason="too-large")
    try:
        body = json.loads(value)
    except RecursionError:
        raise nested_too_deeply() from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise Unusable([("(message)", "is not JSON: a contact must be a JSON CloudEvent as "
                                      "described in contracts/schemas/")],
                       signer=signer, reason="unreadable") from None
    if isinstance(body, dict):
        authenticity.check_claims(body, signer, now, window)
    return body
