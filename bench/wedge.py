"""Can one bad message stop the hub? The relay's figures, on its own stack.

One signed police contact of about 2 MB (a valid notification whose
narrative is far too long) is sent, then ``--contacts`` valid contacts from
the demo's day. Printed: how long each valid contact took to its outcome (or
that it had none within ``--wait`` seconds), intake's outbox backlog each
second (events committed and not yet published) and what the sender of the
big contact got back. Before issue 13 the relay retried the big contact's
rejection for ever and nothing behind it was published.

    python -m bench.wedge [--contacts 4] [--wait 45]
"""

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import topics
from contracts.envelope import CONTENT_TYPE
from mash.demo import day_of_contacts
from mash.keys import KeyRing
from mash.settings import StackSettings
from mash.stack import Stack
from tests.embedded import free_port

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "contacts" / \
    "police-domestic-abuse.json"


def oversized_police_contact() -> tuple[str, bytes]:
    body: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    run = uuid.uuid4().hex[:8]
    body.update(id=f"big-{run}", time=datetime.now(UTC).isoformat(), subject=f"big-{run}",
                correlation_id=f"big-{run}")
    body["data"]["notification_reference"] = f"BIG-{run}"
    body["data"]["circumstances"] = "The officer wrote at length. " * 70_000  # ~2 MB
    return f"big-{run}", json.dumps(body).encode()


async def follow(bootstrap: str, seen: dict[str, float], stop: asyncio.Event) -> None:
    followed = [*topics.OUTCOME_TOPICS, topics.CONTACTS_REJECTED,
                *(topics.feedback(s) for s in ("police", "health", "education", "probation",
                                                "housing", "childrens-social-care"))]
    consumer = AIOKafkaConsumer(*followed, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await consumer.start()
    try:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    event = json.loads(record.value)
                    data = event.get("data", {})
                    for cid in [*data.get("contact_ids", []), event.get("correlation_id")]:
                        key = f"{record.topic}|{cid}" if "feedback" in record.topic or \
                            "rejected" in record.topic else str(cid)
                        seen.setdefault(key, time.monotonic())
                        if event.get("type") == "mash.contact.rejected":
                            seen.setdefault(f"rejected|{cid}|{record.topic}", time.monotonic())
    finally:
        await consumer.stop()


async def backlog(stack: Stack) -> int:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.settings.operator_mongo_uri)
    try:
        return await client["mash_intake"].outbox.count_documents({"sent_at": None})
    finally:
        await client.close()


async def run(contacts: int, wait: float) -> None:
    home = Path(tempfile.mkdtemp(prefix="mash-wedge-"))
    settings = StackSettings(home=home, kafka_port=free_port(), mongo_port=free_port(),
                             metrics_base_port=0, desk_port=0)
    stack = Stack(settings, quiet_services=True)
    await stack.start()
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(follow(settings.bootstrap, seen, stop))
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all",
                                max_request_size=8_000_000)
    await producer.start()
    keys = KeyRing(home)
    try:
        big_id, big = oversized_police_contact()
        began = time.monotonic()
        await producer.send_and_wait(topics.CONTACTS_SUBMITTED, big, key=big_id.encode(),
                                     headers=[("content-type", CONTENT_TYPE.encode()),
                                              *((k, v.encode()) for k, v in
                                                keys.headers("police", big).items())])
        print(f"sent a signed police contact of {len(big):,} bytes")
        valid = [(cid, raw) for cid, _agency, raw, ok in day_of_contacts(contacts * 3, seed=11)
                 if ok][:contacts]
        for cid, raw in valid:
            source = json.loads(raw)["source"].split("/")[2] if "/agency/" in \
                json.loads(raw)["source"] else "contact-centre"
            await producer.send_and_wait(topics.CONTACTS_SUBMITTED, raw, key=cid.encode(),
                                         headers=[("content-type", CONTENT_TYPE.encode()),
                                                  *((k, v.encode()) for k, v in
                                                    keys.headers(source, raw).items())])
        samples = []
        while time.monotonic() - began < wait:
            samples.append(await backlog(stack))
            if all(cid in seen for cid, _ in valid):
                break
            await asyncio.sleep(1.0)
        samples.append(await backlog(stack))
        print(f"{'contact':<26} time to outcome")
        for cid, _ in valid:
            took = seen.get(cid)
            print(f"{cid:<26} " + (f"{took - began:.2f} s" if took else f"none in {wait:g} s"))
        decided = sum(1 for cid, _ in valid if cid in seen)
        told = sorted(k.split("|")[2] for k in seen if k.startswith(f"rejected|{big_id}|"))
        print(f"intake outbox backlog each second: {samples}")
        print(f"the big contact's rejection went to: {told or 'nowhere'}")
        print(f"wedge: {decided} of {len(valid)} valid contacts decided within {wait:g} s, "
              f"outbox backlog at the end {samples[-1]}")
    finally:
        stop.set()
        await watcher
        await producer.stop()
        await stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=4)
    parser.add_argument("--wait", type=float, default=45.0)
    args = parser.parse_args()
    asyncio.run(run(args.contacts, args.wait))


if __name__ == "__main__":
    main()
