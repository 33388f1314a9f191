"""One real stack for the integration tests: tansu, SecantusDB and every
service as its own process, started once per session."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mash.stack import Stack
from tests.embedded import Wire, stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    home: Path = tmp_path_factory.mktemp("mash")
    running = Stack(stack_settings(home), quiet_services=True, auto_authorise=True)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="session")
async def wire(stack: Stack) -> AsyncIterator[Wire]:
    client = Wire(stack.settings)
    yield client
    await client.close()
