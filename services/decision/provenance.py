"""Is a finding from the agency it names? Free of I/O.

Every research service writes ``mash.findings``, and on the embedded stack
any local process can: the topic says nothing of who wrote a finding. Each
research service therefore signs the exact bytes of its findings with its
own key (``MASH_SIGNING_KEY_FILE``), and a finding is taken only when the
signature verifies and the signer is ``research-<the agency the finding
names>``. Anything else is refused in words the dead letter carries.
"""

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts.signing import SIGNATURE_HEADER, SIGNER_HEADER, signature_valid
from plumbing.guard import Unusable


def research_service(agency: str) -> str:
    return f"research-{agency}"


def check_finding(value: bytes, headers: Mapping[str, str], agency: str,
                  keys: Mapping[str, Ed25519PublicKey]) -> str:
    """The research service that signed this finding; Unusable otherwise."""
    signer, signature = headers.get(SIGNER_HEADER), headers.get(SIGNATURE_HEADER)
    expected = research_service(agency)
    if not signer or not signature:
        raise Unusable([("(signature)", f"a finding from {agency[:50]} that is not signed: only "
                                        f"{expected} may report {agency[:50]}'s findings")],
                       reason="not-authentic")
    shown = "".join(ch for ch in signer[:60] if ch.isprintable())
    if signer != expected:
        raise Unusable([("agency", f"signed by {shown}, but names {agency[:50]}: a service "
                                   "reports only its own agency's findings")],
                       signer=shown, reason="not-authentic")
    if not signature_valid(keys, signer, signature, value):
        raise Unusable([("(signature)", f"signature does not match: the finding was changed "
                                        f"after signing, or was not signed by {shown}")],
                       signer=shown, reason="not-authentic")
    return signer
