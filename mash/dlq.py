"""`mash dlq list` and `mash dlq replay <id>`: the dead-letter topic.

A message a consumer could never handle is on ``mash.dlq`` (see
``plumbing.guard``) with where it came from, the error, the attempt count and
its original bytes. Listing reads the topic from the beginning with a
throwaway consumer (no group, nothing committed). Replaying publishes the
original bytes, exactly, to the original topic with the original key (after
the cause has been fixed); the consumer handles it as any new message, and a
message it has handled before is recognised by its event id and skipped.
Every replay is recorded in the operator's database (``mash_operator.
dlq_replays``) and marked on the message by a ``mash-replayed-from`` header.
"""

import asyncio
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError
from pymongo import AsyncMongoClient

from contracts import topics
from contracts.envelope import CONTENT_TYPE, utc_now
from contracts.events import DeadLettered, DeadLetterReplayed, DeadLetterReplayedData
from mash.settings import StackSettings
from plumbing.settings import ServiceSettings
from plumbing.wire import restore

dlq_app = typer.Typer(help="Dead letters: messages a service could never handle.",
                      no_args_is_help=True)

OPERATOR_DB = "mash_operator"
REPLAYS = "dlq_replays"


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


async def replays(settings: StackSettings) -> dict[str, dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.operator_mongo_uri,
                                                                tz_aware=True)
    try:
        return {d["_id"]: d async for d in client[OPERATOR_DB][REPLAYS].find()}
    finally:
        await client.close()


async def replay(settings: StackSettings, dead_letter_id: str) -> DeadLettered:
    """Publish a dead letter's original message again; record that we did."""
    matches = [d for d in await read_dead_letters(settings.bootstrap)
               if d.id == dead_letter_id or d.id.startswith(dead_letter_id)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} dead letter(s) match {dead_letter_id!r}"
                          + ("" if matches else "; see `mash dlq list`"))
    dead = matches[0]
    d = dead.data
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all",
                                client_id="mash-dlq", **ServiceSettings().kafka_client_options())
    await producer.start()
    try:
        key = d.key.encode("utf-8") if d.key is not None else None
        await producer.send_and_wait(
            d.topic, restore(d.original, d.original_encoding), key=key,
            headers=[("content-type", CONTENT_TYPE.encode()),
                     ("mash-replayed-from", dead.id.encode())])
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
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.operator_mongo_uri,
                                                                tz_aware=True)
    try:
        await client[OPERATOR_DB][REPLAYS].update_one(
            {"_id": dead.id},
            {"$push": {"replays": {"at": utc_now(), "topic": d.topic, "key": d.key}},
             "$set": {"consumer": d.consumer, "error": d.error}},
            upsert=True)
    finally:
        await client.close()
    return dead


@dlq_app.command("list")
def list_dead_letters() -> None:
    """Every dead letter: id, consumer, topic/partition/offset, attempts, error."""
    settings = StackSettings()

    async def both() -> tuple[list[DeadLettered], dict[str, dict[str, Any]]]:
        return await read_dead_letters(settings.bootstrap), await replays(settings)

    dead, replayed = asyncio.run(both())
    print(f"{'id':<36}  {'consumer':<24} {'topic/partition/offset':<40} {'att':>3} "
          f"{'replayed':>8}  error")
    for event in dead:
        d = event.data
        where = f"{d.topic}/{d.partition}/{d.offset}"
        times = len(replayed.get(event.id, {}).get("replays", []))
        print(f"{event.id:<36}  {d.consumer:<24} {where:<40} {d.attempts:>3} {times:>8}  "
              f"{d.error.splitlines()[0][:100]}")
    print(f"mash dlq: {len(dead)} dead letter(s)")


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
