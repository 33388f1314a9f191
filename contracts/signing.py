"""Who may send a contact, and how a contact is signed.

Every contact on ``mash.contacts.submitted`` is signed by its sender with
Ed25519 over the exact Kafka value bytes. The signature travels in the Kafka
headers: ``mash-signer`` (the signer's name) and ``mash-signature`` (base64).
Signers are the agencies (``agencies.toml``) and the non-agency channels in
``signers.toml``; each owns CloudEvent ``source`` prefixes. Public keys are
configuration (a TOML file ``[keys] <signer> = "<base64 raw public key>"``).
"""

import base64
import binascii
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.agencies import agencies

SIGNER_HEADER = "mash-signer"
SIGNATURE_HEADER = "mash-signature"


def signers() -> dict[str, tuple[str, ...]]:
    """Signer name -> the CloudEvent source prefixes it owns."""
    return _signers(agencies())


@cache
def _signers(names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    # Keyed by the agencies: a cache of one list must not outlive a change of
    # MASH_AGENCIES (tests change it; a signer missing here is a key never made).
    owned: dict[str, tuple[str, ...]] = {agency: (f"/agency/{agency}",) for agency in names}
    data = tomllib.loads(files("contracts").joinpath("signers.toml").read_text("utf-8"))
    for entry in data["signer"]:
        owned[entry["name"]] = tuple(entry["sources"])
    return owned


def owns(signer: str, source: str) -> bool:
    return any(source == prefix or source.startswith(prefix + "/")
               for prefix in signers().get(signer, ()))


def signer_for_source(source: str) -> str | None:
    """The signer that owns a source (longest prefix), if any."""
    best: tuple[int, str] | None = None
    for signer, prefixes in signers().items():
        for prefix in prefixes:
            if (source == prefix or source.startswith(prefix + "/")) and \
                    (best is None or len(prefix) > best[0]):
                best = (len(prefix), signer)
    return best[1] if best else None


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def load_public_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    data = tomllib.loads(path.read_text("utf-8"))
    return {name: public_from_text(text) for name, text in data.get("keys", {}).items()}


def sign(key: Ed25519PrivateKey, signer: str, value: bytes) -> dict[str, str]:
    """The Kafka headers that sign ``value`` as ``signer``."""
    return {SIGNER_HEADER: signer,
            SIGNATURE_HEADER: base64.b64encode(key.sign(value)).decode("ascii")}


def signature_valid(keys: Mapping[str, Ed25519PublicKey], signer: str, signature: str,
                    value: bytes) -> bool:
    key = keys.get(signer)
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), value)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
