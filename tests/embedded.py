"""Helpers for tests that run on the real embedded stack."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from contracts import topics
from contracts.casework import COMMAND_SIGNER
from contracts.envelope import CONTENT_TYPE, Event
from contracts.signing import load_private, sign
from mash.keys import KeyRing, service_key_file, signer_of
from mash.settings import StackSettings

AUTO = "auto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack_settings(home: Path) -> StackSettings:
    return StackSettings(home=home, kafka_port=free_port(), mongo_port=free_port(),
                         metrics_base_port=0, desk_port=0, ready_timeout_seconds=120)


def operator_env(settings: StackSettings) -> dict[str, str]:
    """The environment in which `mash` finds this stack: its home (with the
    operator's credentials) and its ports."""
    return {**os.environ, "MASH_HOME": str(settings.home),
            "MASH_KAFKA_PORT": str(settings.kafka_port),
            "MASH_MONGO_PORT": str(settings.mongo_port)}


async def mash_cli(settings: StackSettings, *args: str,
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`mash <args>` as the operator runs it against this stack, in its own
    process (the command runs its own event loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mash.cli", *args, env=operator_env(settings),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    return subprocess.CompletedProcess(list(args), proc.returncode or 0, out.decode(), err.decode())


class Wire:
    """The test's own Kafka and MongoDB clients: it sees only what crosses the wire."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.bootstrap = settings.bootstrap
        # The operator's user: inspectors read every database.
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.operator_mongo_uri, tz_aware=True)
        self._producer: AIOKafkaProducer | None = None
        self.keys = KeyRing(settings.home)

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await self._producer.start()
        return self._producer

    async def send(self, topic: str, value: bytes | Event[Any], key: str = "test",
                   signer: str | None = AUTO, headers: dict[str, str] | None = None) -> None:
        """Publish as an agency would. A contact is signed by the owner of its
        source (``signer`` names another; None sends it unsigned), a command
        by the desk, as the desk alone may send one (None: unsigned);
        ``headers`` are added last, e.g. to forge a signature."""
        raw = value.to_bytes() if isinstance(value, Event) else value
        sent = {"content-type": CONTENT_TYPE}
        if topic in topics.lanes(topics.CONTACTS_SUBMITTED) and signer is not None:
            sent |= self.keys.headers(signer_of(raw) if signer == AUTO else signer, raw)
        if topic == topics.DECISION_COMMANDS and signer == AUTO:
            desk = load_private(service_key_file(self.settings.home, COMMAND_SIGNER))
            sent |= sign(desk, COMMAND_SIGNER, raw)
        sent |= headers or {}
        producer = await self.producer()
        await producer.send_and_wait(topic, raw, key=key.encode(),
                                     headers=[(k, v.encode()) for k, v in sent.items()])

    async def read(self, *topics: str) -> list[tuple[str, bytes]]:
        """Everything on these topics now, from the beginning: read up to each
        partition's end offset as it stood when the read began. (Stopping at
        the first quiet poll instead cut a deep partition short whenever a
        fetch took longer than the poll on a loaded machine, every time.)"""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()  # the metadata that names each topic's partitions
            parts = [TopicPartition(t, p) for t in topics
                     for p in sorted(consumer.partitions_for_topic(t) or ())]
            if not parts:
                return []
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            out: list[tuple[str, bytes]] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                behind = [tp for tp in parts if await consumer.position(tp) < ends[tp]]
                if not behind:
                    return out
                batch = await consumer.getmany(*behind, timeout_ms=500)
                for records in batch.values():
                    out += [(r.topic, r.value) for r in records]
            raise TimeoutError(f"could not read {', '.join(topics)} to its end in 120 s")
        finally:
            await consumer.stop()

    async def wait_for(self, topics: tuple[str, ...], found: Callable[[str, bytes], bool],
                       count: int = 1, timeout: float = 60) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while True:
            hits = [(t, v) for t, v in await self.read(*topics) if found(t, v)]
            if len(hits) >= count or time.monotonic() > deadline:
                return hits
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        await self.mongo.close()


def about(contact_id: str) -> Callable[[str, bytes], bool]:
    """Matches the events of one contact's flow, for `Wire.wait_for`."""
    return lambda _topic, value: json.loads(value).get("correlation_id") == contact_id
