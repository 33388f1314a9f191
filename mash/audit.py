"""`mash audit`: is every service's audit trail whole, and who did what to a case."""

import asyncio
from typing import Annotated, Any

import typer
from pymongo import AsyncMongoClient

from mash.credentials import OPERATOR, principals
from mash.settings import StackSettings
from plumbing import audit

audit_app = typer.Typer(help="The tamper-evident audit trail of every service.",
                        no_args_is_help=True)


def databases(only: str | None = None) -> dict[str, str]:
    """Service name -> its database (the operator has none)."""
    found = {name: p.database for name, p in principals().items()
             if name != OPERATOR and p.database}
    if only is not None:
        if only not in found:
            raise typer.BadParameter(f"no service {only!r}; services are {', '.join(found)}")
        return {only: found[only]}
    return found


async def verify_all(uri: str, only: str | None = None) -> list[tuple[str, int,
                                                                      audit.Broken | None]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        results = []
        for name, database in databases(only).items():
            count, broken = await audit.check(client[database])
            results.append((name, count, broken))
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


@audit_app.command("verify")
def verify(
    service: Annotated[str | None, typer.Option(help="Only this service, e.g. research-police.")
                       ] = None,
) -> None:
    """Recompute every entry's hash chain; non-zero exit if any entry was edited or deleted."""
    results = asyncio.run(verify_all(StackSettings().operator_mongo_uri, service))
    bad = 0
    for name, count, broken in results:
        if broken is None:
            print(f"{name:<32} OK ({count} entries)", flush=True)
        else:
            bad += 1
            print(f"{name:<32} TAMPERED: entry {broken.seq} {broken.reason}", flush=True)
    if bad:
        print(f"mash audit: {bad} audit trail(s) tampered with", flush=True)
        raise typer.Exit(1)


def _what(doc: dict[str, Any]) -> str:
    what = doc.get("what") or {}
    keys = ("rag", "outcome", "triage_rag", "level", "lawful_basis", "policy_version", "rule_ids",
            "text", "reason", "destination", "decided_by", "signer")
    return "; ".join(f"{k}={what[k]}" for k in keys if what.get(k) not in (None, [], ""))


@audit_app.command("show")
def show(case_id: Annotated[str, typer.Argument(help="The case, e.g. CASE-3F2A9C1B.")]) -> None:
    """Who did what to a case, on what, when: every service's entries in time order."""
    found = asyncio.run(entries_for(StackSettings().operator_mongo_uri, case_id))
    if not found:
        print(f"mash audit: no entries for {case_id}", flush=True)
        raise typer.Exit(1)
    for service, doc in found:
        print(f"{doc['at']}  {service:<30} #{doc['seq']:<6} {doc['actor']:<24} "
              f"{doc['action']:<20} {_what(doc)}", flush=True)
