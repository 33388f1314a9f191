"""Signing keys: one Ed25519 pair per signer (agency or channel), and one
per service whose events another service must be able to trust.

Private keys live in ``<MASH_HOME>/keys/<signer>.key`` (PEM, mode 0600) and
stand in for each agency's own key store; the public keys are configuration,
``<MASH_HOME>/keys/public.toml``, which the stack hands to intake as
``MASH_PUBLIC_KEYS_FILE`` (in production, a mounted file).

Services: ``<MASH_HOME>/keys/service/<service>.key`` (each research service
signs its findings with it, ``MASH_SIGNING_KEY_FILE``) and their public keys in
``<MASH_HOME>/keys/services.toml``, which decision reads
(``MASH_SERVICE_KEYS_FILE``) to refuse a finding in another agency's name.
"""

import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.signing import (
    load_private,
    new_key,
    private_pem,
    public_text,
    sign,
    signer_for_source,
    signers,
)
from mash.credentials import OPERATOR, principals
from mash.settings import StackSettings

PUBLIC = "public.toml"
SERVICES = "services.toml"

keys_app = typer.Typer(help="Signing keys: one pair per agency or channel.", no_args_is_help=True)


class KeyProblem(RuntimeError):
    """A key the operator asked for cannot be made; the message says why."""


def key_dir(home: Path) -> Path:
    return home / "keys"


def public_file(home: Path) -> Path:
    return key_dir(home) / PUBLIC


def services_file(home: Path) -> Path:
    return key_dir(home) / SERVICES


def service_key_file(home: Path, service: str) -> Path:
    return key_dir(home) / "service" / f"{service}.key"


def _write_public(home: Path, name: str, key: Ed25519PrivateKey, path: Path | None = None) -> None:
    path = path or public_file(home)
    known: dict[str, str] = {}
    if path.exists():
        known = dict(tomllib.loads(path.read_text("utf-8")).get("keys", {}))
    known[name] = public_text(key.public_key())
    lines = ["# Public keys: configuration, safe to share.", "[keys]"]
    lines += [f'"{n}" = "{known[n]}"' for n in sorted(known)]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", "utf-8")
    tmp.replace(path)


def new_pair(home: Path, signer: str, *, force: bool = False) -> Path:
    if signer not in signers():
        raise KeyProblem(f"{signer!r} is not a signer; signers are {', '.join(signers())}")
    folder = key_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / f"{signer}.key"
    if path.exists() and not force:
        raise KeyProblem(f"{path} exists; use --force to replace it (the old key stops working)")
    key = new_key()
    _write_private(path, key)
    _write_public(home, signer, key)
    return path


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem(key))


def new_service_pair(home: Path, service: str, *, force: bool = False) -> Path:
    """A service's signing key, and its public key in services.toml."""
    known = [name for name in principals() if name != OPERATOR]
    if service not in known:
        raise KeyProblem(f"{service!r} is not a service; services are {', '.join(known)}")
    path = service_key_file(home, service)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if path.exists() and not force:
        raise KeyProblem(f"{path} exists; use --force to replace it (the old key stops working)")
    key = new_key()
    _write_private(path, key)
    _write_public(home, service, key, services_file(home))
    return path


def ensure_service_keys(home: Path, services: list[str]) -> list[str]:
    """A signing key for each of these services that has none; the names made."""
    made = [s for s in services if not service_key_file(home, s).exists()]
    for service in made:
        new_service_pair(home, service)
    return made


def ensure_keys(home: Path) -> list[str]:
    """Create a pair for every signer that has none; the names created."""
    made = []
    for signer in signers():
        if not (key_dir(home) / f"{signer}.key").exists():
            new_pair(home, signer)
            made.append(signer)
    return made


class KeyRing:
    """Signs as any signer whose private key is in ``<home>/keys``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._keys: dict[str, Ed25519PrivateKey] = {}

    def key(self, signer: str) -> Ed25519PrivateKey:
        if signer not in self._keys:
            self._keys[signer] = load_private(key_dir(self.home) / f"{signer}.key")
        return self._keys[signer]

    def headers(self, signer: str, value: bytes) -> dict[str, str]:
        return sign(self.key(signer), signer, value)

    def headers_for_source(self, source: str, value: bytes) -> dict[str, str]:
        signer = signer_for_source(source)
        if signer is None:
            raise KeyProblem(f"no signer owns the source {source!r}")
        return self.headers(signer, value)


def signer_of(raw: bytes) -> str:
    """Who sends these bytes: the owner of the event's source; the contact
    centre for a body with no readable source (a note pasted as text)."""
    try:
        source = json.loads(raw).get("source")
    except (ValueError, AttributeError, RecursionError):
        source = None
    return (signer_for_source(source) if isinstance(source, str) else None) or "contact-centre"


def _make(name: str, make: Callable[[Path, str], Path], public: Callable[[Path], Path]) -> None:
    """Make a key pair as the command asked, and say where each half went."""
    home = StackSettings().home
    try:
        path = make(home, name)
    except KeyProblem as error:
        print(f"mash keys: {error}", flush=True)
        raise typer.Exit(2) from None
    print(f"mash keys: {name}: private key {path} (0600); public key in {public(home)}",
          flush=True)


@keys_app.command("new")
def keys_new(
    signer: Annotated[str, typer.Argument(help="The agency or channel, e.g. police.")],
    force: Annotated[bool, typer.Option(help="Replace an existing key pair.")] = False,
) -> None:
    """Create a signer's key pair: the private key (0600) and its public key in public.toml."""
    _make(signer, lambda home, name: new_pair(home, name, force=force), public_file)


@keys_app.command("new-service")
def keys_new_service(
    service: Annotated[str, typer.Argument(help="The service, e.g. research-police.")],
    force: Annotated[bool, typer.Option(help="Replace an existing key pair.")] = False,
) -> None:
    """Create a service's signing key (0600) and its public key in services.toml."""
    _make(service, lambda home, name: new_service_pair(home, name, force=force), services_file)


@keys_app.command("list")
def keys_list() -> None:
    """Every signer, the sources it owns, and whether it has a key here."""
    home = StackSettings().home
    for signer, sources in signers().items():
        have = (key_dir(home) / f"{signer}.key").exists()
        print(f"{signer:<24} {'key' if have else 'no key':<7} {', '.join(sources)}", flush=True)
