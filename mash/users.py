"""`mash users`: the desk's local accounts on the embedded stack."""

import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer
from argon2 import PasswordHasher

from contracts import accounts
from contracts.casework import Role
from mash.settings import StackSettings

users_app = typer.Typer(help="The desk's local accounts (production signs in with OpenID "
                             "Connect instead).", no_args_is_help=True)

MIN_PASSWORD = 12
# The demo's people: a newcomer signs in as each to see what each may do.
DEMO = (("sw.demo", Role.SOCIAL_WORKER, None), ("manager.demo", Role.MANAGER, None),
        ("manager2.demo", Role.MANAGER, None), ("police.demo", Role.RESEARCHER, "police"),
        ("operator.demo", Role.OPERATOR, None))


def users_file(home: Path) -> Path:
    return home / "users.toml"


def add(path: Path, name: str, role: Role, password: str, agency: str | None = None
        ) -> accounts.Account:
    """An account, created or replaced (a new password, a new role)."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    account = accounts.Account(name=name, role=role, agency=agency,
                               password_hash=PasswordHasher().hash(password))
    known = accounts.load(path)
    known[name] = account
    accounts.save(path, known)
    return account


def ensure_demo(home: Path) -> list[tuple[str, str, str]]:
    """The demo's accounts, made once with random passwords kept beside them
    (readable by their owner alone); (name, role, password) for each."""
    kept = home / "demo-users.txt"
    made: dict[str, str] = {}
    if kept.exists():
        made = dict(line.split(" ", 1) for line in kept.read_text("utf-8").splitlines() if line)
    known = accounts.load(users_file(home))
    for name, role, agency in DEMO:
        if name not in made or name not in known:
            made[name] = secrets.token_urlsafe(12)
            add(users_file(home), name, role, made[name], agency)
    kept.write_text("".join(f"{n} {p}\n" for n, p in made.items()), encoding="utf-8")
    kept.chmod(0o600)
    roles = {name: (role.value + (f" ({agency})" if agency else "")) for name, role, agency in DEMO}
    return [(name, roles[name], made[name]) for name, _, _ in DEMO]


Name = Annotated[str, typer.Argument(help="The login name, also the actor id, e.g. ann.jones")]


@users_app.command("add")
def add_command(
    name: Name,
    role: Annotated[Role, typer.Option(help="social-worker, manager, agency-researcher or "
                                            "operator")],
    agency: Annotated[str | None, typer.Option(help="An agency researcher's agency")] = None,
    password_stdin: Annotated[bool, typer.Option(
        help="Read the password from standard input (scripts), not a prompt")] = False,
) -> None:
    """Create an account, or replace one's role and password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    path = users_file(StackSettings().home)
    try:
        account = add(path, name, role, password, agency)
    except ValueError as error:
        typer.echo(f"mash users: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"{account.name}: {account.role.value}"
               + (f" for {account.agency}" if account.agency else "") + f" (in {path})")


@users_app.command("list")
def list_command() -> None:
    """Every account and its role (never a password)."""
    path = users_file(StackSettings().home)
    known = accounts.load(path)
    typer.echo(f"{'NAME':<24} {'ROLE':<18} AGENCY")
    for name in sorted(known):
        a = known[name]
        typer.echo(f"{name:<24} {a.role.value:<18} {a.agency or ''}")


@users_app.command("remove")
def remove_command(name: Name) -> None:
    """Remove an account: its next request is refused (sessions end at once)."""
    path = users_file(StackSettings().home)
    known = accounts.load(path)
    if known.pop(name, None) is None:
        typer.echo(f"mash users: no account {name!r}", err=True)
        raise typer.Exit(1)
    accounts.save(path, known)
    typer.echo(f"{name}: removed")
