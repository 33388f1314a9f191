"""`mash dlq list` shows a dead letter, `mash dlq replay` puts its original
bytes (held in the consumer's quarantine) back on its original topic with its
original key, `mash dlq resolve` closes one that will never succeed, and each
is recorded and counted."""

import asyncio
import hashlib
import json
import time
import urllib.request
import uuid

from contracts import topics
from mash.dlq import OPERATOR_DB, REPLAYS, RESOLUTIONS
from mash.stack import Stack
from tests.embedded import Wire, mash_cli


def dlq_depth(stack: Stack) -> float:
    url = f"http://127.0.0.1:{stack.metrics_ports['notify']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    [value] = [line.split()[1] for line in text.splitlines() if line.startswith("mash_dlq_depth ")]
    return float(value)


async def test_list_and_replay_a_dead_letter(stack: Stack, wire: Wire) -> None:
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    poison = f"not a finding {marker}".encode()
    await wire.send(topics.FINDINGS, poison, key=marker)

    digest = hashlib.sha256(poison).hexdigest()

    def ours(_t: str, v: bytes) -> bool:
        # Replay and resolution markers share the topic and describe no original;
        # the desk sets the same poison aside in its own quarantine.
        data = json.loads(v)["data"]
        return data.get("original", {}).get("sha256") == digest and \
            str(data.get("consumer", "")).startswith("decision")

    [(_, raw)] = await wire.wait_for((topics.DLQ,), ours, timeout=60)
    dead = json.loads(raw)
    # Described, never carried: the bytes are in decision's own quarantine.
    assert poison.decode() not in raw.decode()
    assert dead["data"]["original"]["kept_as"] == f"mash_decision.quarantine/{dead['id']}"
    held = await wire.mongo["mash_decision"].quarantine.find_one({"_id": dead["id"]})
    assert held is not None
    assert bytes(held["original"]) == poison

    listed = await mash_cli(stack.settings, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(dead["id"])]
    assert "decision" in line
    assert f"{topics.FINDINGS}/" in line
    assert "JSONDecodeError" in line

    replayed = await mash_cli(stack.settings, "dlq", "replay", dead["id"][:12])
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"published again to {topics.FINDINGS} (key {marker})" in replayed.stdout

    # The original bytes are on the original topic twice now, same key.
    copies = [v for t, v in await wire.read(topics.FINDINGS) if v == poison]
    assert len(copies) == 2
    # Still poison: dead-lettered again, as a new dead letter (a new offset).
    again = await wire.wait_for((topics.DLQ,), ours, count=2, timeout=60)
    assert len({json.loads(v)["id"] for _, v in again}) == 2
    record = await wire.mongo[OPERATOR_DB][REPLAYS].find_one({"_id": dead["id"]})
    assert record is not None
    assert len(record["replays"]) == 1
    listed = await mash_cli(stack.settings, "dlq", "list")
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(dead["id"])]
    assert " replayed 1   JSONDecodeError" in line

    # Notify counts what waits: the replayed one no longer, the new one yes.
    new_id = next(i for i in {json.loads(v)["id"] for _, v in again} if i != dead["id"])
    dead_letters = wire.mongo["mash_notify"].dead_letters
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        replayed_doc = await dead_letters.find_one({"_id": dead["id"]})
        new_doc = await dead_letters.find_one({"_id": new_id})
        if replayed_doc and replayed_doc["replayed_at"] and new_doc:
            break
        await asyncio.sleep(0.5)
    assert replayed_doc is not None
    assert replayed_doc["replayed_at"] is not None
    assert new_doc is not None
    assert new_doc["replayed_at"] is None
    waiting = await dead_letters.count_documents({"replayed_at": None, "resolved_at": None})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and dlq_depth(stack) != waiting:
        await asyncio.sleep(0.5)
    assert dlq_depth(stack) == waiting >= 1

    # It will never succeed: closed with a reason, it stops counting.
    blank = await mash_cli(stack.settings, "dlq", "resolve", new_id, "--reason", "  ")
    assert blank.returncode == 1
    assert "closed with a reason" in blank.stdout
    resolved = await mash_cli(stack.settings, "dlq", "resolve", new_id[:12], "--reason",
                              "Not a finding: test garbage that no service can read")
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and dlq_depth(stack) != waiting - 1:
        await asyncio.sleep(0.5)
    assert dlq_depth(stack) == waiting - 1
    closed = await wire.mongo[OPERATOR_DB][RESOLUTIONS].find_one({"_id": new_id})
    assert closed is not None
    assert closed["reason"].startswith("Not a finding")
    listed = await mash_cli(stack.settings, "dlq", "list")
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(new_id)]
    assert " resolved " in line

    missing = await mash_cli(stack.settings, "dlq", "replay", "no-such-id")
    assert missing.returncode == 1
    assert "0 dead letter(s) match" in missing.stdout
