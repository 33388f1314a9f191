"""`mash quarantine`: messages set aside whole, and giving one back to its sender.

A rejected contact, a dead letter or an event its own service could never
publish is described on the wire and held whole in the service's own
database (``plumbing.quarantine``). The operator lists them and writes one
out to a file for its sender (who asked: "what did we send?"); every export
is recorded in the operator's database (``mash_operator.quarantine_exports``)
with who took it, for whom and why.
"""

import asyncio
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from pymongo import AsyncMongoClient

from contracts.envelope import utc_now
from mash.credentials import service_databases
from mash.dlq import OPERATOR_DB
from mash.settings import StackSettings
from plumbing import quarantine

quarantine_app = typer.Typer(help="Messages held whole: rejected contacts and dead letters.",
                             no_args_is_help=True)

EXPORTS = "quarantine_exports"


async def held(uri: str, kind: str | None = None, sender: str | None = None,
               limit: int = 50) -> list[tuple[str, dict[str, Any]]]:
    """(service, record without the message) newest first, across services."""
    query: dict[str, Any] = {}
    if kind:
        query["kind"] = kind
    if sender:
        query["sender"] = sender
    found: list[tuple[str, dict[str, Any]]] = []
    async with AsyncMongoClient[dict[str, Any]](uri, tz_aware=True) as client:
        for name, database in service_databases().items():
            found += [(name, doc) async for doc in client[database][quarantine.QUARANTINE]
                      .find(query, {"original": 0}).sort("at", -1).limit(limit)]
    return sorted(found, key=lambda item: item[1]["at"], reverse=True)[:limit]


async def find(uri: str, held_id: str) -> tuple[str, dict[str, Any]]:
    matches: list[tuple[str, dict[str, Any]]] = []
    async with AsyncMongoClient[dict[str, Any]](uri, tz_aware=True) as client:
        for database in service_databases().values():
            matches += [(database, doc) async for doc in client[database][quarantine.QUARANTINE]
                        .find({"_id": {"$regex": f"^{re.escape(held_id)}"}})]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} held message(s) match {held_id!r}"
                          + ("" if matches else "; see `mash quarantine list`"))
    return matches[0]


async def export(settings: StackSettings, held_id: str, to: Path, why: str,
                 by: str) -> dict[str, Any]:
    """Write a held message's bytes to ``to`` (0600) and record the export."""
    database, doc = await find(settings.operator_mongo_uri, held_id)
    fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(bytes(doc["original"]))
    async with AsyncMongoClient[dict[str, Any]](settings.operator_mongo_uri,
                                                tz_aware=True) as client:
        await client[OPERATOR_DB][EXPORTS].insert_one(
            {"held_id": doc["_id"], "database": database, "kind": doc.get("kind"),
             "sender": doc.get("sender"), "sha256": doc.get("sha256"), "why": why, "by": by,
             "at": utc_now()})
    return doc


@quarantine_app.command("list")
def list_held(
    kind: Annotated[str | None, typer.Option(help="rejected, dead-letter or unpublished")] = None,
    sender: Annotated[str | None, typer.Option(help="Only this sender's, e.g. police")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """What is held, newest first: id, service, kind, sender, size, why."""
    found = asyncio.run(held(StackSettings().operator_mongo_uri, kind, sender, limit))
    print(f"{'id':<36}  {'service':<24} {'kind':<11} {'sender':<16} {'bytes':>10}  why")
    for service, doc in found:
        size = f"{doc.get('size_bytes', 0):,}" + ("+" if doc.get("truncated") else "")
        print(f"{doc['_id']:<36}  {service:<24} {doc.get('kind', '?'):<11} "
              f"{doc.get('sender') or '-':<16} {size:>10}  {str(doc.get('reason'))[:80]}")
    print(f"mash quarantine: {len(found)} held message(s) shown")


@quarantine_app.command("export")
def export_held(
    held_id: Annotated[str, typer.Argument(help="The held message's id (or a unique prefix).")],
    to: Annotated[Path, typer.Argument(help="The file to write its bytes to.")],
    why: Annotated[str, typer.Option(help="Why, e.g. 'asked for by police, ref 123'.")],
    by: Annotated[str, typer.Option(envvar="USER", help="Who takes it.")] = "operator",
) -> None:
    """Write a held message's exact bytes to a file for its sender; recorded."""
    if not why.strip():
        print("mash quarantine: say why the message is taken out (--why)")
        raise typer.Exit(2)
    try:
        doc = asyncio.run(export(StackSettings(), held_id, to, why.strip(), by))
    except LookupError as error:
        print(f"mash quarantine: {error}")
        raise typer.Exit(1) from None
    note = (f"; only its first {len(doc['original']):,} bytes were kept" if doc.get("truncated")
            else "")
    sender = doc.get("sender") or "an unattributed sender"
    print(f"mash quarantine: {doc['_id']} ({doc.get('kind')}, from {sender}, "
          f"{doc.get('size_bytes', 0):,} bytes, sha256 {doc.get('sha256', '')[:16]}…) "
          f"written to {to}{note}")
