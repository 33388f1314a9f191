"""`mash rules replay` on the real stack: the decision service's own case
documents, read over the wire and re-decided with a rule set, nothing emitted."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts import topics
from contracts.events import OutcomeRouted
from mash.stack import Stack
from tests.embedded import Wire, about, mash_cli
from tests.factories import contact_about_a_new_family

pytestmark = pytest.mark.integration


async def test_replay_re_decides_the_recorded_cases_and_accounts_for_every_one(
        stack: Stack, wire: Wire) -> None:
    cids = [f"rp-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for cid in cids:
        await wire.send(topics.CONTACTS_SUBMITTED, contact_about_a_new_family(cid), key=cid)
    cases = set()
    for cid in cids:
        [(_, raw)] = await wire.wait_for(topics.OUTCOME_TOPICS, about(cid), timeout=30)
        cases.add(OutcomeRouted.model_validate_json(raw).data.case_id)

    # The rule set that decided them re-decides them the same; only cases
    # opened since yesterday, ours among them.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    done = await mash_cli(stack.settings, "rules", "replay", "--rules", "2026.12-1", "--json",
                          "--since", yesterday, timeout=60)
    assert done.returncode == 0, done.stderr
    same = json.loads(done.stdout)
    assert same["read"] >= len(cases)
    assert same["read"] == same["replayed"] + same["not_proposed"] + len(same["unreadable"])
    assert sum(same["directions"].values()) == same["replayed"]
    assert same["recorded_versions"].get("2026.12-1", 0) >= len(cases)
    assert not cases & {c["case_id"] for c in same["changes"]}

    # The old rule list, by version name, as an operator reads it.
    done = await mash_cli(stack.settings, "rules", "replay", "--rules", "2026.11-1", timeout=60)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("replay of rule set 2026.11-1 on cases recorded under 2026.12-1 (")
    header = re.search(r"cases read (\d+): replayed (\d+), not yet proposed (\d+), "
                       r"unreadable (\d+)", text)
    assert header is not None, text
    read, replayed, not_proposed, unreadable = map(int, header.groups())
    assert read >= len(cases)
    assert read == replayed + not_proposed + unreadable
    counts = re.search(r"RAG up (\d+), RAG down (\d+), RAG same (\d+); outcome changed (\d+)",
                       text)
    assert counts is not None, text
    up, down, unchanged, _ = map(int, counts.groups())
    assert up + down + unchanged == replayed
    changed = re.search(r"changed \((\d+)\)", text)
    assert changed is not None
    lines = [line for line in text.splitlines() if " -> " in line]
    assert len(lines) == int(changed.group(1))
    assert all(line.split()[0].startswith("CASE-") for line in lines), lines

    # None opened in the future.
    done = await mash_cli(stack.settings, "rules", "replay", "--rules", "2026.11-1",
                          "--since", "2099-01-01", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["read"] == 0
