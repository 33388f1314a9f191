"""No personal data in logs: a demo run with every service's log lines shown
never prints a demo child's or adult's name or date of birth."""

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mash.demo import day_of_contacts
from tests.e2e.conftest import CONTACTS, SEED

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PERSONAL = {"given_name", "family_name", "date_of_birth", "expected_date_of_delivery"}


def personal_values(value: Any) -> Iterator[str]:
    """Every name and date of birth anywhere in a contact, in any agency's format."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PERSONAL and isinstance(item, str) and item:
                yield item
            else:
                yield from personal_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from personal_values(item)


def demo_people() -> set[str]:
    """The demo's people: the same seed makes the same day of contacts."""
    found: set[str] = set()
    for _, _, raw, valid in day_of_contacts(CONTACTS, SEED):
        if valid:
            found |= set(personal_values(json.loads(raw)))
    return found


def test_a_demo_run_logs_no_names_or_dates_of_birth(
        demo_run: subprocess.CompletedProcess[str]) -> None:
    people = demo_people()
    assert len(people) > 40, "the demo's contacts name people"
    run = demo_run
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-3000:]
    assert " intake | " in logs, "service log lines were shown"
    assert "case " in logs
    leaks = sorted(p for p in people
                   if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", logs))
    assert leaks == [], [line for line in logs.splitlines()
                         if any(p in line for p in leaks)][:20]
