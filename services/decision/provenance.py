"""Is a finding from the agency it names, and a command from the desk? Free
of I/O.

Every research service writes ``mash.findings``, and on the embedded stack
any local process can: the topic says nothing of who wrote a finding. Each
research service therefore signs the exact bytes of its findings with its
own key (``MASH_SIGNING_KEY_FILE``), and a finding is taken only when the
signature verifies and the signer is ``research-<the agency the finding
names>``. Anything else is refused in words the dead letter carries.

Commands on ``mash.commands.decision`` name their actor and role, which
anyone could claim: the desk, which authenticates its users, signs each one
(``COMMAND_SIGNER``), and a command signed by anyone else, or not at all, is
refused in words its sender reads on the case's history.
"""

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts.casework import COMMAND_SIGNER
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


# Why only the desk: said in every refusal, so whoever sent it knows where to go.
DESK_ONLY = "commands are accepted only from the MASH desk, which authenticates who sends them"


def check_command(value: bytes, headers: Mapping[str, str],
                  keys: Mapping[str, Ed25519PublicKey]) -> None:
    """Nothing when the desk signed these exact bytes; Unusable otherwise."""
    signer, signature = headers.get(SIGNER_HEADER), headers.get(SIGNATURE_HEADER)
    if not signer or not signature:
        raise Unusable([("(signature)", f"not signed by the desk: {DESK_ONLY}")],
                       reason="not-authentic")
    shown = "".join(ch for ch in signer[:60] if ch.isprintable())
    if signer != COMMAND_SIGNER:
        raise Unusable([("(signature)", f"signed by {shown}, not by the desk: {DESK_ONLY}")],
                       signer=shown, reason="not-authentic")
    if signer not in keys:  # the operator's to fix, not the sender's: say so
        raise Unusable([("(signature)", "the decision service has no public key for the desk, "
                                        "so no command can be verified yet")],
                       signer=shown, reason="not-authentic")
    if not signature_valid(keys, signer, signature, value):
        raise Unusable([("(signature)", "the desk's signature does not match: the command was "
                                        "changed after signing, or was not signed by the desk")],
                       signer=shown, reason="not-authentic")
