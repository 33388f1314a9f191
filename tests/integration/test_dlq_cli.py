"""`mash dlq list` shows a dead letter and `mash dlq replay` puts its original
bytes back on its original topic with its original key, and records it."""

import json
import os
import subprocess
import sys
import uuid

from contracts import topics
from mash.dlq import OPERATOR_DB, REPLAYS
from mash.stack import Stack
from tests.embedded import Wire


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    s = stack.settings
    env = {**os.environ, "MASH_HOME": str(s.home), "MASH_KAFKA_PORT": str(s.kafka_port),
           "MASH_MONGO_PORT": str(s.mongo_port)}
    return subprocess.run([sys.executable, "-m", "mash.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


async def test_list_and_replay_a_dead_letter(stack: Stack, wire: Wire) -> None:
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    poison = f"not a finding {marker}".encode()
    await wire.send(topics.FINDINGS, poison, key=marker)

    def ours(_t: str, v: bytes) -> bool:
        return marker in json.loads(v)["data"]["original"]

    [(_, raw)] = await wire.wait_for((topics.DLQ,), ours, timeout=60)
    dead = json.loads(raw)

    listed = cli(stack, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(dead["id"])]
    assert "decision" in line
    assert f"{topics.FINDINGS}/" in line
    assert "JSONDecodeError" in line

    replayed = cli(stack, "dlq", "replay", dead["id"][:12])
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
    listed = cli(stack, "dlq", "list")
    [line] = [ln for ln in listed.stdout.splitlines() if ln.startswith(dead["id"])]
    assert " 1  JSONDecodeError" in line

    missing = cli(stack, "dlq", "replay", "no-such-id")
    assert missing.returncode == 1
    assert "0 dead letter(s) match" in missing.stdout
