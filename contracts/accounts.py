"""The desk's local accounts: who may log in, in which role.

On the embedded stack the accounts live in one TOML file (``users.toml`` in
the stack's home, mode 0600), written by ``mash users add`` and read by the
desk at each login, so an account added or removed takes effect at once.
Passwords are kept only as Argon2id hashes. Production signs people in with
OpenID Connect instead and keeps no passwords at all.
"""

import os
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.agencies import agencies
from contracts.casework import Actor, Role

NAME = re.compile(r"[a-z][a-z0-9._-]{1,62}")
PEOPLE = (Role.SOCIAL_WORKER, Role.MANAGER, Role.RESEARCHER, Role.OPERATOR)


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME.pattern, description="The login name, also the actor id")
    role: Role
    agency: str | None = Field(default=None, description="An agency researcher's agency")
    password_hash: str = Field(min_length=20, description="Argon2id, PHC string")

    @model_validator(mode="after")
    def _a_person_in_a_role(self) -> "Account":
        if self.role not in PEOPLE:
            raise ValueError(f"a person's role is one of {', '.join(r.value for r in PEOPLE)}")
        if (self.role is Role.RESEARCHER) != (self.agency is not None):
            raise ValueError("an agency researcher, and only one, names their agency")
        if self.agency is not None and self.agency not in agencies():
            raise ValueError(f"no agency {self.agency!r}; agencies are {', '.join(agencies())}")
        return self

    @property
    def actor(self) -> Actor:
        return Actor(actor_id=self.name, role=self.role, agency=self.agency)


def load(path: Path) -> dict[str, Account]:
    """Every account in the file; none when there is no file."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text("utf-8"))
    return {name: Account(name=name, **entry) for name, entry in data.get("users", {}).items()}


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def save(path: Path, accounts: dict[str, Account]) -> None:
    """Written whole and then renamed into place, readable by its owner alone."""
    lines = ["# MASH desk accounts: `mash users add|remove|list`. Argon2id hashes only.", ""]
    for name in sorted(accounts):
        a = accounts[name]
        lines += [f"[users.{_quoted(name)}]", f"role = {_quoted(a.role.value)}"]
        if a.agency is not None:
            lines.append(f"agency = {_quoted(a.agency)}")
        lines += [f"password_hash = {_quoted(a.password_hash)}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text("\n".join(lines), encoding="utf-8")
    os.chmod(partial, 0o600)
    partial.replace(path)
