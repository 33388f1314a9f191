"""`mash dlq list`, `replay <id>` and `resolve <id> --reason`: the dead letters.

A message a consumer could never handle, or an event its own service could
never publish, is announced on ``mash.dlq`` (see ``plumbing.guard`` and
``plumbing.outbox``) with where it came from, the error, the attempt count
and a description of the message; the message itself is held whole in that
service's quarantine (``plumbing.quarantine``). Listing reads the topic from
the beginning with a throwaway consumer (no group, nothing committed).
Replaying reads the held bytes (with the operator's database user) and
publishes them, exactly, to the original topic with the original key (after
the cause has been fixed); the consumer handles it as any new message, and a
message it has handled before is recognised by its event id and skipped.
Resolving closes a dead letter that will never succeed (garbage, a message
too large for any contract) with the operator's reason, so it no longer
counts as waiting and its alert clears. Every replay and resolution is
recorded in the operator's database (``mash_operator.dlq_replays``,
``mash_operator.dlq_resolutions``) and announced on ``mash.dlq`` beside the
dead letter it answers.
"""

import asyncio
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError
from pymongo import AsyncMongoClient

from contracts import topics
from contracts.envelope import CONTENT_TYPE, utc_now
from contracts.events import (
    DeadLettered,
    DeadLetterReplayed,
    DeadLetterReplayedData,
    DeadLetterResolved,
    DeadLetterResolvedData,
)
from mash.settings import StackSettings
from plumbing import quarantine
from plumbing.settings import ServiceSettings

dlq_app = typer.Typer(help="Dead letters: messages a service could never handle.",
                      no_args_is_help=True)

OPERATOR_DB = "mash_operator"
REPLAYS = "dlq_replays"
RESOLUTIONS = "dlq_resolutions"


async def read_dead_letters(bootstrap: str) -> list[DeadLettered]:
    """Everything on mash.dlq now, oldest first."""
    consumer = AIOKafkaConsumer(topics.DLQ, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                client_id="mash-dlq", **ServiceSettings().kafka_client_options())
    await consumer.start()
    try:
        found: list[DeadLettered] = []
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                return found
            for records in batch.values():
                for record in records:
                    try:
                        found.append(DeadLettered.model_validate_json(record.value))
                    except ValidationError:
                        continue  # not ours; nothing to replay
    finally:
        await consumer.stop()


async def replays(settings: StackSettings, collection: str = REPLAYS) -> dict[str, dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.operator_mongo_uri,
                                                                tz_aware=True)
    try:
        return {d["_id"]: d async for d in client[OPERATOR_DB][collection].find()}
    finally:
        await client.close()


def _matching(dead: list[DeadLettered], dead_letter_id: str) -> DeadLettered:
    matches = [d for d in dead if d.id == dead_letter_id or d.id.startswith(dead_letter_id)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} dead letter(s) match {dead_letter_id!r}"
                          + ("" if matches else "; see `mash dlq list`"))
    return matches[0]


async def held(settings: StackSettings, dead: DeadLettered) -> tuple[bytes, list[list[str]]]:
    """The whole message a dead letter describes, and its headers, from the
    quarantine of the service that holds it."""
    locator = dead.data.original.kept_as
    try:
        database, held_id = quarantine.where(locator)
    except ValueError:
        raise LookupError(f"{dead.id}: its message was not kept ({locator}); it cannot be "
                          "replayed, only resolved") from None
    async with AsyncMongoClient[dict[str, Any]](settings.operator_mongo_uri,
                                                tz_aware=True) as client:
        doc = await client[database][quarantine.QUARANTINE].find_one({"_id": held_id})
    if doc is None:
        raise LookupError(f"{dead.id}: {locator} is no longer held; it cannot be replayed")
    if doc.get("truncated"):
        raise LookupError(f"{dead.id}: only the first {len(doc['original']):,} of its "
                          f"{doc['size_bytes']:,} bytes were kept: no contract takes a message "
                          "that size, so it can never succeed; close it with "
                          "`mash dlq resolve`")
    return bytes(doc["original"]), list(doc.get("headers") or [])


async def replay(settings: StackSettings, dead_letter_id: str) -> DeadLettered:
    """Publish a dead letter's original message again; record that we did."""
    dead = _matching(await read_dead_letters(settings.bootstrap), dead_letter_id)
    d = dead.data
    raw, headers = await held(settings, dead)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all",
                                client_id="mash-dlq", **ServiceSettings().kafka_client_options())
    await producer.start()
    try:
        key = d.key.encode("utf-8") if d.key is not None else None
        # Its own headers (a contact's signature among them) and where it came from.
        sent = [(k, v.encode()) for k, v in headers if k != "mash-replayed-from"]
        if not any(k == "content-type" for k, _ in sent):
            sent.append(("content-type", CONTENT_TYPE.encode()))
        await producer.send_and_wait(d.topic, raw, key=key,
                                     headers=[*sent, ("mash-replayed-from", dead.id.encode())])
        # Beside the dead letter (same key, same partition, after it): the
        # count of dead letters waiting (mash_dlq_depth) goes down.
        marker = DeadLetterReplayed.new(
            DeadLetterReplayedData(dead_letter_id=dead.id, topic=d.topic, replayed_at=utc_now(),
                                   by="mash dlq replay"),
            source="/mash/operator", subject=dead.subject, correlation_id=dead.correlation_id)
        await producer.send_and_wait(topics.DLQ, marker.to_bytes(), key=key,
                                     headers=[("content-type", CONTENT_TYPE.encode())])
    finally:
        await producer.stop()
    await _record(settings, REPLAYS, dead, {"$push": {"replays": {"at": utc_now(),
                                                                   "topic": d.topic,
                                                                   "key": d.key}}})
    return dead


async def resolve(settings: StackSettings, dead_letter_id: str, reason: str,
                  by: str) -> DeadLettered:
    """Close a dead letter that will never succeed, with the reason why."""
    if not reason.strip():
        raise ValueError("a dead letter is closed with a reason: say why it will never succeed")
    dead = _matching(await read_dead_letters(settings.bootstrap), dead_letter_id)
    now = utc_now()
    marker = DeadLetterResolved.new(
        DeadLetterResolvedData(dead_letter_id=dead.id, reason=reason.strip()[:2000],
                               resolved_at=now, by=by[:200]),
        source="/mash/operator", subject=dead.subject, correlation_id=dead.correlation_id)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all",
                                client_id="mash-dlq", **ServiceSettings().kafka_client_options())
    await producer.start()
    try:
        key = dead.data.key.encode("utf-8") if dead.data.key is not None else None
        await producer.send_and_wait(topics.DLQ, marker.to_bytes(), key=key,
                                     headers=[("content-type", CONTENT_TYPE.encode())])
    finally:
        await producer.stop()
    await _record(settings, RESOLUTIONS, dead, {"$set": {"resolved_at": now,
                                                         "reason": reason.strip(), "by": by,
                                                         "marker_id": marker.id}})
    return dead


async def _record(settings: StackSettings, collection: str, dead: DeadLettered,
                  change: dict[str, Any]) -> None:
    """The operator's own record of what was done to a dead letter."""
    change.setdefault("$set", {}).update(
        {"consumer": dead.data.consumer, "topic": dead.data.topic, "error": dead.data.error})
    async with AsyncMongoClient[dict[str, Any]](settings.operator_mongo_uri,
                                                tz_aware=True) as client:
        await client[OPERATOR_DB][collection].update_one({"_id": dead.id}, change, upsert=True)


@dlq_app.command("list")
def list_dead_letters() -> None:
    """Every dead letter: id, consumer, where from, size, what was done, error."""
    settings = StackSettings()

    async def all_of_it() -> tuple[list[DeadLettered], dict[str, dict[str, Any]],
                                   dict[str, dict[str, Any]]]:
        return (await read_dead_letters(settings.bootstrap), await replays(settings),
                await replays(settings, RESOLUTIONS))

    dead, replayed, resolved = asyncio.run(all_of_it())
    print(f"{'id':<36}  {'consumer':<24} {'topic/partition/offset':<40} {'bytes':>9} "
          f"{'state':<11}  error")
    waiting = 0
    for event in dead:
        d = event.data
        where = f"{d.topic}/{d.partition}/{d.offset}"
        times = len(replayed.get(event.id, {}).get("replays", []))
        state = ("resolved" if event.id in resolved else
                 f"replayed {times}" if times else "waiting")
        waiting += state == "waiting"
        print(f"{event.id:<36}  {d.consumer:<24} {where:<40} {d.original.size_bytes:>9,} "
              f"{state:<11}  {d.error.splitlines()[0][:100] if d.error else ''}")
    print(f"mash dlq: {len(dead)} dead letter(s), {waiting} waiting")


@dlq_app.command("replay")
def replay_dead_letter(
    dead_letter_id: Annotated[str, typer.Argument(help="The dead letter's id (or a unique prefix).")],
) -> None:
    """Publish a dead letter's original bytes to its original topic with its original key."""
    try:
        dead = asyncio.run(replay(StackSettings(), dead_letter_id))
    except LookupError as error:
        print(f"mash dlq replay: {error}")
        raise typer.Exit(1) from None
    d = dead.data
    print(f"mash dlq replay: {dead.id} published again to {d.topic} (key {d.key}); "
          f"first failed in {d.consumer}: {d.error.splitlines()[0][:100]}")


@dlq_app.command("resolve")
def resolve_dead_letter(
    dead_letter_id: Annotated[str, typer.Argument(help="The dead letter's id (or a unique prefix).")],
    reason: Annotated[str, typer.Option(help="Why it will never succeed, in plain words.")],
    by: Annotated[str, typer.Option(envvar="USER", help="Who closes it.")] = "operator",
) -> None:
    """Close a dead letter that will never succeed: it stops counting as waiting
    (mash_dlq_depth) and MashDeadLettersWaiting clears. Recorded, never deleted."""
    try:
        dead = asyncio.run(resolve(StackSettings(), dead_letter_id, reason, by))
    except (LookupError, ValueError) as error:
        print(f"mash dlq resolve: {error}")
        raise typer.Exit(1) from None
    print(f"mash dlq resolve: {dead.id} ({dead.data.consumer}, {dead.data.topic}) closed: "
          f"{reason.strip()[:200]}")
