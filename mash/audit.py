"""`mash audit`: is every service's audit trail whole, and who did what to a case."""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pymongo import AsyncMongoClient

from mash.credentials import audit_key_dir, service_databases
from mash.settings import StackSettings
from plumbing import audit

KEYS_DIR_ENV = "MASH_AUDIT_KEYS_DIR"

audit_app = typer.Typer(help="The tamper-evident audit trail of every service.",
                        no_args_is_help=True)


def databases(only: str | None = None) -> dict[str, str]:
    """Service name -> its database (the operator has none)."""
    found = service_databases()
    if only is not None:
        if only not in found:
            raise typer.BadParameter(f"no service {only!r}; services are {', '.join(found)}")
        return {only: found[only]}
    return found


def keys_dir(home: Path) -> Path:
    """Where verify finds the services' audit keys: MASH_AUDIT_KEYS_DIR (in
    production the operator's copy, deploy/audit/, each file of which is
    mounted into its own service alone), else the embedded stack's
    `<MASH_HOME>/audit-keys/`."""
    configured = os.environ.get(KEYS_DIR_ENV)
    return Path(configured) if configured else audit_key_dir(home)


def service_keys(directory: Path, service: str) -> dict[str, bytes]:
    """key id -> key for one service: `<service>.key`, and any key it used
    before kept beside it as `<service>.<anything>.key` (after a rotation).
    Only the service's own keys: another service's key proves nothing here."""
    paths = [directory / f"{service}.key", *sorted(directory.glob(f"{service}.*.key"))]
    return audit.keyring(*(audit.read_key(p) for p in paths if p.is_file()))


@dataclass(frozen=True)
class Verdict:
    """One service's chains (each: its name, how many entries, the first
    broken one), and whether its key was there to check them with."""

    service: str
    chains: list[audit.Checked]
    key_file: Path
    key_missing: bool


async def verify_all(uri: str, directory: Path, only: str | None = None) -> list[Verdict]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        results = []
        for name, database in databases(only).items():
            keys = service_keys(directory, name)
            chains = await audit.check(client[database], keys)
            results.append(Verdict(name, chains, directory / f"{name}.key", not keys))
        return results
    finally:
        await client.close()


async def entries_for(uri: str, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        found: list[tuple[str, dict[str, Any]]] = []
        for name, database in databases().items():
            found += [(name, doc) async for doc in
                      client[database][audit.AUDIT].find({"case_id": case_id}).sort("seq", 1)]
        return sorted(found, key=lambda item: str(item[1]["at"]))
    finally:
        await client.close()


def report(results: list[Verdict], directory: Path) -> tuple[list[str], bool]:
    """`mash audit verify`'s lines, one a chain and a total, and whether every
    chain is whole and was checked with its service's key."""
    width = max((len(v.service) for v in results), default=0)
    chain_width = max((len(c.chain) for v in results for c in v.chains), default=0)
    lines, bad, unverified = [], 0, 0
    for v in results:
        if not v.chains:
            lines.append(f"{v.service:<{width}}  {'-':<{chain_width}}  OK (no entries)")
        for c in v.chains:
            where = f"{v.service:<{width}}  {c.chain:<{chain_width}}  "
            if c.broken is None:
                lines.append(f"{where}OK ({c.entries} entries)")
            elif v.key_missing:
                unverified += 1
                lines.append(f"{where}NO KEY: {v.key_file} is missing, so its {c.entries} "
                             f"entries cannot be checked (entry {c.broken.seq} "
                             f"{c.broken.reason})")
            else:
                bad += 1
                lines.append(f"{where}TAMPERED: entry {c.broken.seq} {c.broken.reason}")
    if unverified:
        lines.append(f"mash audit: {unverified} chain(s) not verified: no key in {directory} "
                     f"(set {KEYS_DIR_ENV} to where the keys are)")
    if bad:
        lines.append(f"mash audit: {bad} chain(s) tampered with (keys from {directory})")
    chains = sum(len(v.chains) for v in results)
    entries = sum(c.entries for v in results for c in v.chains)
    verdict = "all whole" if not bad and not unverified else f"{bad + unverified} not whole"
    lines.append(f"mash audit: {chains} chain(s) of {len(results)} service(s), {entries} "
                 f"entries: {verdict}")
    return lines, not bad and not unverified


@audit_app.command("verify")
def verify(
    service: Annotated[str | None, typer.Option(help="Only this service, e.g. research-police.")
                       ] = None,
) -> None:
    """Recompute every chain of every service (one a topic partition or a
    background job) with the services' audit keys (MASH_AUDIT_KEYS_DIR, else
    <MASH_HOME>/audit-keys/): a line a chain and a total; non-zero exit if
    any entry was edited, moved or deleted, or a key to check it with is
    missing."""
    settings = StackSettings()
    directory = keys_dir(settings.home)
    try:
        results = asyncio.run(verify_all(settings.operator_mongo_uri, directory, service))
    except audit.AuditKeyProblem as problem:
        print(f"mash audit: {problem}", flush=True)
        raise typer.Exit(2) from None
    lines, whole = report(results, directory)
    for line in lines:
        print(line, flush=True)
    if not whole:
        raise typer.Exit(1)


def _what(doc: dict[str, Any]) -> str:
    what = doc.get("what") or {}
    keys = ("rag", "outcome", "triage_rag", "level", "lawful_basis", "policy_version", "rule_ids",
            "text", "reason", "destination", "decided_by", "signer")
    return "; ".join(f"{k}={what[k]}" for k in keys if what.get(k) not in (None, [], ""))


@audit_app.command("show")
def show(case_id: Annotated[str, typer.Argument(help="The case, e.g. CASE-3F2A9C1B.")]) -> None:
    """Who did what to a case, on what, when: every service's entries in time
    order, each as <chain>#<seq>."""
    found = asyncio.run(entries_for(StackSettings().operator_mongo_uri, case_id))
    if not found:
        print(f"mash audit: no entries for {case_id}", flush=True)
        raise typer.Exit(1)
    for service, doc in found:
        place = f"{audit.chain_of(doc)}#{doc['seq']}"
        print(f"{doc['at']}  {service:<30} {place:<24} {doc['actor']:<24} "
              f"{doc['action']:<20} {_what(doc)}", flush=True)
