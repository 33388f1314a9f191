"""Reading what the reports count, over the wire, read-only.

Cases come from the decision service's database (``mash_decision.cases``):
each holds the contact that opened it (as intake normalised it, with the
person index ids of its children and adults), every contact that joined it,
the decisions, and every timescale with its due, met and breached times.
Rejections come from intake's (``mash_intake.rejections``), only to say how
many contacts could not be used. The workload report reads the desk's case
views (``mash_desk.case_views``, the ``contracts.caseview`` read model).

The operator's own database user, as `mash case` reads it: the embedded
stack's operator (from MASH_HOME) unless MASH_REPORT_MONGO_URI, or
MASH_CASE_MONGO_URI, says otherwise. Never MASH_MONGO_URI: that is a
service's own user, limited to its own database.
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import AsyncMongoClient

from contracts.caseview import COLLECTION, CaseView
from mash.case import CaseSettings
from mash.report.records import CaseDoc

DECISION = "mash_decision"
INTAKE = "mash_intake"
# Enough for every contact in a period whatever offset it was written with.
SLACK = timedelta(days=1)
# Never read: the referrer's narrative, each agency's findings, the history.
NOT_READ = {"findings": 0, "history": 0, "opened.contact.analysis": 0,
            "added.contact.analysis": 0, "recommendation": 0}


class ReportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    report_mongo_uri: str | None = None

    def mongo(self) -> str:
        return self.report_mongo_uri or CaseSettings().mongo()


def _client(uri: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000,
                            appname="mash-report")


def received_between(start: datetime, end: datetime) -> dict[str, Any]:
    """Cases with a contact (opening or joined) received in [start, end),
    widened by a day each side: the decision service stores ``received_at``
    as ISO text (UTC "Z", or the referrer's offset), so the database compares
    dates only; the reports then place each contact exactly. A datetime-typed
    field is matched too, should the store ever write BSON dates."""
    low, high = start - SLACK, end + SLACK
    text = {"$gte": f"{low:%Y-%m-%d}", "$lt": f"{high:%Y-%m-%d}~"}
    when = {"$gte": low, "$lt": high}
    fields = ("opened.contact.received_at", "added.contact.received_at")
    return {"opened": {"$exists": True},
            "$or": [{f: rng} for f in fields for rng in (text, when)]}


async def cases(uri: str, start: datetime, end: datetime) -> list[CaseDoc]:
    """Every opened case with a contact received in [start, end)."""
    client = _client(uri)
    try:
        cursor = client[DECISION].cases.find(received_between(start, end), NOT_READ)
        return [CaseDoc.model_validate(doc) async for doc in cursor]
    finally:
        await client.close()


async def rejected(uri: str, start: datetime, end: datetime) -> int:
    """Contacts intake rejected in [start, end): unreadable, incomplete or not
    authentic. Counted by when intake rejected them."""
    client = _client(uri)
    try:
        return int(await client[INTAKE].rejections.count_documents(
            {"at": {"$gte": start, "$lt": end}}))
    finally:
        await client.close()


# The desk's case views (contracts/caseview.py): the read model folded from
# the decision service's public events. The workload report reads these.
VIEWS = "mash_desk"
# Never read: what each agency disclosed and the rules' explanation.
VIEW_NOT_READ = {"agencies.items": 0, "proposal.explanation": 0}


def views_received_between(start: datetime, end: datetime) -> dict[str, Any]:
    """Case views whose first contact was received in [start, end), widened
    by a day each side: the view keeps times as ISO text (its JSON form)."""
    low, high = start - SLACK, end + SLACK
    return {"$or": [{"received_at": {"$gte": f"{low:%Y-%m-%d}", "$lt": f"{high:%Y-%m-%d}~"}},
                    {"received_at": {"$gte": low, "$lt": high}}]}


async def case_views(uri: str, start: datetime, end: datetime) -> list[CaseView]:
    """Every case view with its first contact received in [start, end)."""
    client = _client(uri)
    try:
        cursor = client[VIEWS][COLLECTION].find(views_received_between(start, end),
                                                VIEW_NOT_READ)
        return [CaseView.model_validate(doc) async for doc in cursor]
    finally:
        await client.close()
