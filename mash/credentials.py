"""Database principals of the embedded stack: one user per service and per
agency's research service, each with a role on its own database only.

Passwords are generated on first use and kept in `<MASH_HOME>/credentials.json`
(mode 0600), next to the data they protect. The operator (the `mash` CLI and
the tests' inspectors) has its own user.

Each service's audit key (see plumbing.audit) is generated the same way, in
`<MASH_HOME>/audit-keys/<service>.key` (mode 0600), outside the database.
"""

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

from contracts.agencies import agencies
from plumbing import audit

OPERATOR = "mash-operator"


@dataclass(frozen=True)
class Principal:
    user: str
    database: str | None  # None: the operator, who may read every database

    @property
    def roles(self) -> list[dict[str, str]]:
        if self.database is None:
            return [{"role": "root", "db": "admin"}]
        return [{"role": "readWrite", "db": self.database}]


def research_database(agency: str) -> str:
    return "mash_research_" + agency.replace("-", "_")


def principals() -> dict[str, Principal]:
    """Service name -> its principal."""
    found = {name: Principal(name, f"mash_{name}") for name in ("intake", "decision", "notify", "desk")}
    for agency in agencies():
        name = f"research-{agency}"
        found[name] = Principal(name, research_database(agency))
    found[OPERATOR] = Principal(OPERATOR, None)
    return found


def service_databases() -> dict[str, str]:
    """Service name -> its database (the operator has none of its own)."""
    return {name: p.database for name, p in principals().items() if p.database is not None}


def passwords(home: Path) -> dict[str, str]:
    """Every principal's password, creating any that is missing."""
    path = home / "credentials.json"
    known: dict[str, str] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    missing = [p for p in principals() if p not in known]
    if missing or not path.exists():
        known.update({p: secrets.token_urlsafe(24) for p in missing})
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(known, out, indent=2, sort_keys=True)
    return known


def audit_key_dir(home: Path) -> Path:
    return home / "audit-keys"


def audit_key_file(home: Path, service: str) -> Path:
    """The service's audit key, `<MASH_HOME>/audit-keys/<service>.key`, made on
    first use: 64 hex characters (32 random bytes), mode 0600. Outside the
    database on purpose: whoever can write the service's database without
    this file cannot recompute its audit chain."""
    directory = audit_key_dir(home)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{service}.key"
    if not path.exists():
        # O_EXCL: never replace a key, or the entries made with it no longer verify.
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(audit.key_text(audit.new_key()))
    return path


def mongo_uri(port: int, user: str | None = None, password: str | None = None) -> str:
    # retryWrites=false: SecantusDB slows from ~1,200 to ~170 inserts/s after
    # 10k writes with retryable writes on. maxIdleTimeMS: SecantusDB drops a
    # connection idle for 300 s and the driver's next use of it fails
    # (AutoReconnect: seen after 330 s idle with --auth and four pooled
    # connections, not with maxIdleTimeMS=240000); the driver retires its
    # idle connections first.
    options = "retryWrites=false&directConnection=true&maxIdleTimeMS=240000"
    if user is None:
        return f"mongodb://127.0.0.1:{port}/?{options}"
    return (f"mongodb://{quote_plus(user)}:{quote_plus(password or '')}@127.0.0.1:{port}/"
            f"?{options}&authSource=admin")
