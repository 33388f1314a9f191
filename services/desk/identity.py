"""Who is at the desk: local accounts checked against Argon2id hashes,
logins rate-limited, sessions kept server-side behind an opaque cookie, and
a CSRF token per session on every form."""

import hmac
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from contracts import accounts
from contracts.casework import Actor, Role

COOKIE = "mash_desk"
LOGIN_COOKIE = "mash_desk_login"  # the login form's CSRF token, before any session

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs what a
# wrong password does and the time taken tells nobody which names exist.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class Directory:
    """The local accounts, read again whenever the file changes: an account
    added works at once, and one removed or given another role ends its
    sessions at their next request."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seen: tuple[float, dict[str, accounts.Account]] | None = None

    def accounts(self) -> dict[str, accounts.Account]:
        if self.path is None or not self.path.exists():
            return {}
        stamp = self.path.stat().st_mtime
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, accounts.load(self.path))
        return self._seen[1]

    def check(self, name: str, password: str) -> Actor | None:
        """The account's actor when the password is right; None otherwise."""
        account = self.accounts().get(name)
        try:
            _hasher.verify(account.password_hash if account else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        return account.actor if account else None

    def still(self, actor: Actor) -> bool:
        """Is this actor's account still there, in the same role?"""
        account = self.accounts().get(actor.actor_id)
        return account is not None and account.actor == actor


class Throttle:
    """At most ``limit`` failed logins per key (a name, an address) in a
    sliding window; a success does not reset another key's count."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        seen = self._failures[key]
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen

    def blocked(self, *keys: str, now: float | None = None) -> bool:
        at = time.monotonic() if now is None else now
        return any(len(self._recent(k, at)) >= self.limit for k in keys)

    def failed(self, *keys: str, now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        for k in keys:
            self._recent(k, at).append(at)


@dataclass(frozen=True)
class Session:
    token: str
    actor: Actor
    csrf: str
    last_seen: datetime

    def record(self, now: datetime, via: str) -> dict[str, Any]:
        return {"actor": self.actor.model_dump(mode="json"), "csrf": self.csrf,
                "created_at": now, "last_seen": now, "via": via}

    @classmethod
    def of(cls, token: str, doc: dict[str, Any]) -> "Session":
        return cls(token, Actor.model_validate(doc["actor"]), doc["csrf"], doc["last_seen"])


def new_session(actor: Actor, now: datetime) -> Session:
    return Session(secrets.token_urlsafe(32), actor, secrets.token_urlsafe(32), now)


def same_token(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def actor_from_claims(claims: dict[str, Any], role_claim: str, agency_claim: str
                      ) -> Actor | None:
    """An OpenID Connect user as an actor: the identity provider asserts the
    role (one of the desk's role names, in a claim or a list of them) and a
    researcher's agency. None when the claims give no role the desk knows."""
    subject = claims.get("preferred_username") or claims.get("email") or claims.get("sub")
    given = claims.get(role_claim)
    names = given if isinstance(given, list) else [given]
    roles = [Role(n) for n in names if isinstance(n, str) and n in set(accounts.PEOPLE)]
    if not isinstance(subject, str) or len(roles) != 1:
        return None
    agency = claims.get(agency_claim) if roles[0] is Role.RESEARCHER else None
    try:
        return Actor(actor_id=subject[:100], role=roles[0],
                     agency=agency if isinstance(agency, str) else None)
    except ValueError:
        return None
