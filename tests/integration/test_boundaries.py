"""Each agency's research service sees its own database and nothing else."""

from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from mash.credentials import mongo_uri, passwords, principals
from mash.stack import Stack

pytestmark = pytest.mark.integration


def client_as(stack: Stack, service: str) -> AsyncMongoClient[dict[str, Any]]:
    secret = passwords(stack.settings.home)[service]
    return AsyncMongoClient(mongo_uri(stack.settings.mongo_port, service, secret),
                            serverSelectionTimeoutMS=5000)


async def test_an_agency_reads_its_own_records_and_not_another_agencys(stack: Stack) -> None:
    police = client_as(stack, "research-police")
    try:
        assert await police["mash_research_police"].records.count_documents({}) > 0
        with pytest.raises(OperationFailure, match="not authorized") as caught:
            await police["mash_research_health"].records.find_one()
        assert caught.value.code == 13
        with pytest.raises(OperationFailure, match="not authorized"):
            await police["mash_decision"].cases.find_one()
    finally:
        await police.close()


async def test_every_service_is_confined_to_its_own_database(stack: Stack) -> None:
    confined = {n: p for n, p in principals().items() if p.database is not None}
    assert len(confined) == 4 + 6  # intake, decision, notify, desk; six research
    for name, principal in confined.items():
        client = client_as(stack, name)
        try:
            await client[principal.database].probe.find_one()  # type: ignore[index]
            other = next(p.database for n, p in confined.items() if n != name)
            with pytest.raises(OperationFailure, match="not authorized"):
                await client[other].probe.find_one()  # type: ignore[index]
        finally:
            await client.close()


async def test_no_credentials_no_access(stack: Stack) -> None:
    anonymous: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri(stack.settings.mongo_port), serverSelectionTimeoutMS=5000)
    try:
        with pytest.raises(OperationFailure, match="requires authentication"):
            await anonymous["mash_research_police"].records.find_one()
    finally:
        await anonymous.close()
