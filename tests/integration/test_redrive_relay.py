"""The relay on the real database: a change stream wakes it for an outbox
insert made by another process (polling alone would take a minute here), and
a re-drive request republishes what was sent, with its original id."""

import asyncio
import json
import time
import uuid

from faststream.kafka import KafkaBroker

from contracts import topics
from contracts.envelope import utc_now
from mash.stack import Stack
from plumbing.outbox import OutboxRelay, request_redrive
from tests.embedded import Wire


def outbox_doc(marker: str) -> dict[str, object]:
    return {"_id": marker, "topic": topics.CASE_HISTORY, "key": marker,
            "value": json.dumps({"marker": marker}).encode(),
            "headers": {"content-type": "application/json", "traceparent":
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            "created_at": utc_now(), "sent_at": None}


async def test_change_stream_wakes_the_relay_and_a_redrive_republishes(
        stack: Stack, wire: Wire) -> None:
    db = wire.mongo[f"mash_relaytest_{uuid.uuid4().hex[:6]}"]
    await db.outbox.insert_one({**outbox_doc("warm-up"), "sent_at": utc_now()})
    broker = KafkaBroker(stack.settings.bootstrap)
    await broker.start()
    relay = OutboxRelay(db, broker, asyncio.Event(), poll_seconds=60, control_seconds=0)
    relay.start()
    try:
        for _ in range(100):
            if relay.watching:
                break
            await asyncio.sleep(0.1)
        assert relay.watching, "the change stream never opened"
        await asyncio.sleep(0.5)  # the relay is asleep for a minute unless woken

        marker = f"cs-{uuid.uuid4().hex[:8]}"
        began = time.monotonic()
        await db.outbox.insert_one(outbox_doc(marker))  # as another process would
        for _ in range(50):
            if (await db.outbox.find_one({"_id": marker}) or {}).get("sent_at"):
                break
            await asyncio.sleep(0.1)
        took = time.monotonic() - began
        assert took < 5, f"published after {took:.1f}s: the change stream did not wake the relay"

        def ours(_t: str, v: bytes) -> bool:
            return marker in v.decode(errors="replace")

        assert len(await wire.wait_for((topics.CASE_HISTORY,), ours, timeout=10)) == 1

        # A re-drive request: the sent event goes again, same bytes.
        await request_redrive(db, None, by="test")
        await db.outbox.insert_one({**outbox_doc("nudge"), "sent_at": utc_now()})  # a wake-up
        for _ in range(100):
            control = await db.control.find_one({"_id": "redrive"})
            if control and control.get("done_at"):
                break
            await asyncio.sleep(0.1)
        assert control is not None
        assert control["requeued"] >= 1
        assert len(await wire.wait_for((topics.CASE_HISTORY,), ours, count=2, timeout=15)) == 2
    finally:
        await relay.stop()
        await broker.stop()
        await wire.mongo.drop_database(db.name)
