"""The demo flow, as an operator runs it: every contact ends in exactly one
outcome or a rejection, and none is lost."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import CONTACTS

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_mash_demo_accounts_for_every_contact(
        demo_run: subprocess.CompletedProcess[str]) -> None:
    run = demo_run
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    last = re.fullmatch(r"demo: (\d+) contacts, (\d+) outcomes, (\d+) rejected, (\d+) lost",
                        lines[-1])
    assert last, lines[-1]
    contacts, outcomes, rejected, lost = map(int, last.groups())
    assert (contacts, lost) == (CONTACTS, 0)
    assert outcomes + rejected == contacts
    assert rejected == 2  # the demo's two deliberately unusable contacts
    assert "duplicate outcome" not in run.stdout
    assert any(line.startswith("time to decision: p50") for line in lines)
