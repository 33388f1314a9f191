"""One demo run for the e2e checks that read it: the operator's account of
every contact, and its verbose logs for personal data. Each check used to
start a stack of its own for the same run."""

import os
import subprocess
import sys

import pytest

from tests.embedded import free_port

CONTACTS, SEED = 50, 7


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """`mash demo` as an operator runs it, with every service's log lines shown."""
    where = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "MASH_HOME": str(where / "mash"), "MASH_LOG_LEVEL": "INFO",
           "MASH_KAFKA_PORT": str(free_port()), "MASH_MONGO_PORT": str(free_port())}
    return subprocess.run(
        [sys.executable, "-m", "mash.cli", "demo", "--contacts", str(CONTACTS),
         "--seed", str(SEED), "--timeout", "120", "--verbose"],
        cwd=where, env=env, capture_output=True, text=True, timeout=300)


