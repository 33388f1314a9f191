"""Who is at the desk: accounts, passwords, throttled logins, OIDC claims."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import accounts
from contracts.casework import Actor, Role
from mash import users
from services.desk import identity

PASSWORD = "a long enough password"


@pytest.fixture
def directory(tmp_path: Path) -> identity.Directory:
    path = users.users_file(tmp_path)
    users.add(path, "ann.jones", Role.SOCIAL_WORKER, PASSWORD)
    users.add(path, "pc.dee", Role.RESEARCHER, PASSWORD, agency="police")
    return identity.Directory(path)


def test_the_right_password_gives_the_account_as_an_actor(directory: identity.Directory) -> None:
    assert directory.check("ann.jones", PASSWORD) == Actor(actor_id="ann.jones",
                                                           role=Role.SOCIAL_WORKER)
    assert directory.check("pc.dee", PASSWORD) == Actor(actor_id="pc.dee", role=Role.RESEARCHER,
                                                        agency="police")


@pytest.mark.parametrize(("name", "password"), [("ann.jones", "wrong password!!"),
                                                ("nobody", PASSWORD), ("", "")])
def test_a_wrong_name_or_password_is_none(directory: identity.Directory, name: str,
                                          password: str) -> None:
    assert directory.check(name, password) is None


def test_the_file_holds_only_argon2id_hashes(directory: identity.Directory) -> None:
    assert directory.path is not None
    text = directory.path.read_text()
    assert PASSWORD not in text
    assert text.count("$argon2id$") == 2
    assert directory.path.stat().st_mode & 0o077 == 0


def test_a_removed_or_changed_account_ends_its_sessions(directory: identity.Directory) -> None:
    ann = Actor(actor_id="ann.jones", role=Role.SOCIAL_WORKER)
    assert directory.still(ann)
    assert directory.path is not None
    users.add(directory.path, "ann.jones", Role.MANAGER, PASSWORD)
    directory._seen = None  # the same second's mtime: read it again
    assert not directory.still(ann)
    known = accounts.load(directory.path)
    del known["ann.jones"]
    accounts.save(directory.path, known)
    directory._seen = None
    assert not directory.still(Actor(actor_id="ann.jones", role=Role.MANAGER))


def test_short_passwords_and_bad_accounts_are_refused(tmp_path: Path) -> None:
    path = users.users_file(tmp_path)
    with pytest.raises(ValueError, match="at least 12"):
        users.add(path, "ann.jones", Role.SOCIAL_WORKER, "short")
    with pytest.raises(ValidationError, match="names their agency"):
        users.add(path, "pc.dee", Role.RESEARCHER, PASSWORD)
    with pytest.raises(ValidationError, match="no agency"):
        users.add(path, "pc.dee", Role.RESEARCHER, PASSWORD, agency="mi5")
    with pytest.raises(ValidationError, match="a person's role"):
        users.add(path, "robot", Role.RULES, PASSWORD)


def test_logins_are_throttled_per_name_and_per_address() -> None:
    throttle = identity.Throttle(limit=3, window=60)
    for t in range(3):
        assert not throttle.blocked("name:ann", "address:1.2.3.4", now=t)
        throttle.failed("name:ann", "address:1.2.3.4", now=t)
    assert throttle.blocked("name:ann", now=3)
    assert throttle.blocked("name:bob", "address:1.2.3.4", now=3)
    assert not throttle.blocked("name:bob", "address:5.6.7.8", now=3)
    assert not throttle.blocked("name:ann", now=61)  # the window has passed


def test_the_demo_accounts_are_made_once(tmp_path: Path) -> None:
    first = users.ensure_demo(tmp_path)
    again = users.ensure_demo(tmp_path)
    assert first == again
    directory = identity.Directory(users.users_file(tmp_path))
    for name, _, password in first:
        assert directory.check(name, password) is not None


@pytest.mark.parametrize(("claims", "actor"), [
    ({"preferred_username": "kay", "mash_role": "manager"},
     Actor(actor_id="kay", role=Role.MANAGER)),
    ({"email": "dee@police.example", "mash_role": ["agency-researcher"], "mash_agency": "police"},
     Actor(actor_id="dee@police.example", role=Role.RESEARCHER, agency="police")),
    ({"sub": "x", "mash_role": "rules"}, None),
    ({"sub": "x", "mash_role": ["manager", "social-worker"]}, None),  # one role, not two
    ({"sub": "x"}, None),
])
def test_an_identity_providers_claims_as_an_actor(claims: dict[str, object],
                                                  actor: Actor | None) -> None:
    assert identity.actor_from_claims(claims, "mash_role", "mash_agency") == actor
