"""A stack of a test module's own, for settings the session stack cannot have
(a seventh agency, short timescales, auto-authorise off)."""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from contracts.agencies import agencies
from mash.stack import Stack
from tests.embedded import Wire, stack_settings


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Settings seen by this process (e.g. the agencies topics are made for)
    and by the services it starts, restored afterwards."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    agencies.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        agencies.cache_clear()


@asynccontextmanager
async def own_stack(home: Path, services: list[str], env: dict[str, str]) -> AsyncIterator[Stack]:
    with environment(env):
        running = Stack(stack_settings(home), quiet_services=True, auto_authorise=True)
        try:
            await running.start_servers()
            await running.start_services(only=services, env=env)
            yield running
        finally:
            await running.stop()


@asynccontextmanager
async def wire_to(stack: Stack) -> AsyncIterator[Wire]:
    client = Wire(stack.settings)
    try:
        yield client
    finally:
        await client.close()
