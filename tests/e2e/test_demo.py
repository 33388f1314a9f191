"""The demo flow, as an operator runs it: every contact ends in exactly one
outcome or a rejection, and none is lost."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.embedded import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_mash_demo_accounts_for_every_contact(tmp_path: Path) -> None:
    env = {**os.environ, "MASH_HOME": str(tmp_path / "mash"),
           "MASH_KAFKA_PORT": str(free_port()), "MASH_MONGO_PORT": str(free_port())}
    run = subprocess.run(
        [sys.executable, "-m", "mash.cli", "demo", "--contacts", "50", "--timeout", "120"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    last = re.fullmatch(r"demo: (\d+) contacts, (\d+) outcomes, (\d+) rejected, (\d+) lost",
                        lines[-1])
    assert last, lines[-1]
    contacts, outcomes, rejected, lost = map(int, last.groups())
    assert (contacts, lost) == (50, 0)
    assert outcomes + rejected == contacts
    assert rejected == 2  # the demo's two deliberately unusable contacts
    assert "duplicate outcome" not in run.stdout
    assert any(line.startswith("time to decision: p50") for line in lines)
