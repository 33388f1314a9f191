"""A backlog of enquiries for one agency, for the priority test and bench."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from contracts import topics
from contracts.contact import ConsentState, Rag
from contracts.events import EnquiryData, EnquiryRequested, Subject
from tests.embedded import Wire


def enquiry(run: str, n: int, rag: Rag) -> EnquiryRequested:
    now = datetime.now(UTC)
    case = f"CASE-{run}-{n:05d}"
    return EnquiryRequested.new(
        EnquiryData(enquiry_id=f"enq-{run}-{n}", case_id=case, agency="police",
                    subjects=[Subject(person_ref="child-0", role="child", given_name="Ava",
                                      family_name=f"Nobody{n}")],
                    rag=rag, consent=ConsentState.NOT_SOUGHT, purpose="test",
                    lawful_basis="DPA 2018 Sch.1 para 18", concerns=["16A"], requested_at=now,
                    answer_by=now + timedelta(hours=24 if rag is Rag.GREEN else 2)),
        source="/mash/intake", subject=case, correlation_id=case)


class RedBehindGreen(NamedTuple):
    took: float  # seconds from sending RED to its answer
    before: int  # GREEN answered before it
    left: int  # GREEN still waiting (or not yet read) then
    # GREEN answered after RED was filed and before it was answered: what
    # the worker had in hand when RED arrived, never the queue.
    overtook: int
    filed_first: int  # GREEN filed before RED (FIFO would answer them first)


async def red_behind_green(wire: Wire, backlog: int) -> RedBehindGreen:
    """Send `backlog` GREEN enquiries then one RED on one partition; how RED
    fared."""
    run = uuid.uuid4().hex[:6]
    producer = await wire.producer()
    topic = topics.enquiries("police")
    # One key: one partition, strict FIFO on the broker.
    sends = [await producer.send(topic, enquiry(run, n, Rag.GREEN).to_bytes(), key=b"backlog")
             for n in range(backlog)]
    await asyncio.gather(*sends)
    red = enquiry(run, backlog, Rag.RED)
    sent = time.monotonic()
    await producer.send_and_wait(topic, red.to_bytes(), key=b"backlog")
    queue = wire.mongo["mash_research_police"].enquiries
    mine = {"case_id": {"$regex": f"^CASE-{run}-"}}
    while True:
        done = await queue.find_one({"_id": red.id, "state": "answered"})
        if done is not None:
            took = time.monotonic() - sent
            before = await queue.count_documents({**mine, "state": "answered",
                                                  "answered_at": {"$lt": done["answered_at"]}})
            waiting = await queue.count_documents({**mine, "state": "pending"})
            not_yet_read = backlog - await queue.count_documents(mine) + 1
            overtook = await queue.count_documents({
                **mine, "_id": {"$ne": red.id},
                "answered_at": {"$gt": done["queued_at"], "$lt": done["answered_at"]}})
            filed_first = await queue.count_documents({
                **mine, "_id": {"$ne": red.id}, "queued_at": {"$lt": done["queued_at"]}})
            return RedBehindGreen(took, before, waiting + not_yet_read, overtook, filed_first)
        assert time.monotonic() - sent < 180, "the RED enquiry was never answered"
        await asyncio.sleep(0.2)



