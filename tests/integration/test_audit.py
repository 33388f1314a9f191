"""On the real stack: every service's audit chains (one a partition it
consumes, or a job) are whole after a flow, answer "who decided this RAG, on
what, when", and `mash audit verify` names the chain and the entry an operator
edited or deleted, even one who recomputed the chain after it without the
service's audit key."""

import asyncio
import hashlib
import uuid
from pathlib import Path

import pytest

from contracts import topics
from contracts.events import OutcomeRouted
from mash.credentials import audit_key_dir
from mash.stack import Stack
from plumbing import audit
from plumbing.unit_of_work import UnitOfWork
from tests.embedded import Wire, about, mash_cli
from tests.integration.test_pipeline import known_child_contact


async def mash(stack: Stack, *args: str) -> tuple[int, str]:
    done = await mash_cli(stack.settings, *args)
    return done.returncode, done.stdout + done.stderr


def said(out: str, service: str, chain: str) -> str:
    """What `mash audit verify` said of one chain of one service."""
    [line] = [line for line in out.splitlines() if line.split()[:2] == [service, chain]]
    return line


async def test_the_audit_trail_answers_inspectors_and_reveals_tampering(
        stack: Stack, wire: Wire, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cid = f"audit-{uuid.uuid4().hex[:8]}"
    await wire.send(topics.CONTACTS_SUBMITTED, known_child_contact(cid), key=cid)
    [(_, raw)] = await wire.wait_for(topics.OUTCOME_TOPICS, about(cid))
    case_id = OutcomeRouted.model_validate_json(raw).data.case_id

    code, out = await mash(stack, "audit", "verify")
    assert code == 0, out
    assert "TAMPERED" not in out
    assert "decision" in out
    assert "research-police" in out
    assert out.splitlines()[-1].endswith(": all whole"), out

    # Who decided this RAG, on what, when: every service's part, in order.
    code, shown = await mash(stack, "audit", "show", case_id)
    assert code == 0, shown
    actions = [line.split()[3:5] for line in shown.splitlines()]
    assert ["intake", "case"] in actions  # "case opened", by intake's triage
    assert any(a[1] == "disclosed" for a in actions)
    assert any(a == ["rules", "authorised"] for a in actions)  # auto-authorise on the stack
    assert any(a[0] == "notify" for a in actions)
    assert "lawful_basis=" in shown
    assert "rule_ids=" in shown

    # An operator with write access edits who authorised it: found at that entry.
    chain = wire.mongo["mash_decision"][audit.AUDIT]
    entry = await chain.find_one({"case_id": case_id, "action": "authorised"})
    assert entry is not None
    assert entry["_id"] == f"{entry['chain']}/{entry['seq']}"
    await chain.update_one({"_id": entry["_id"]}, {"$set": {"actor": "mgr-someone-else"}})
    try:
        code, out = await mash(stack, "audit", "verify", "--service", "decision")
        assert code == 1, out
        assert f"TAMPERED: entry {entry['seq']} was changed" in said(out, "decision",
                                                                     entry["chain"]), out
    finally:
        await chain.update_one({"_id": entry["_id"]}, {"$set": {"actor": entry["actor"]}})

    # Deleting an entry (a research disclosure) is found too.
    disclosures = wire.mongo["mash_research_police"][audit.AUDIT]
    gone = await disclosures.find_one({"case_id": case_id})
    assert gone is not None
    await disclosures.delete_one({"_id": gone["_id"]})
    try:
        code, out = await mash(stack, "audit", "verify", "--service", "research-police")
        assert code == 1, out
        assert f"TAMPERED: entry {gone['seq']} is missing" in said(out, "research-police",
                                                                   gone["chain"]), out
    finally:
        await disclosures.insert_one(gone)

    # An operator who can write intake's database but does not hold its key
    # edits an entry and recomputes it and every later hash on its chain, and
    # the chain's head, as the chain was once made (plain sha256): the chain
    # links up, and is found.
    intake = wire.mongo["mash_intake"]
    opened = await intake[audit.AUDIT].find_one({"case_id": case_id, "action": "case opened"})
    assert opened is not None
    on = opened["chain"]
    originals = await intake[audit.AUDIT].find(
        {"chain": on, "seq": {"$gte": opened["seq"]}}).sort("seq", 1).to_list()
    head = await intake[audit.HEAD].find_one({"_id": on})
    assert head is not None
    assert head["seq"] == originals[-1]["seq"], "intake is still appending"
    prev = opened["prev_hash"]
    for original in originals:
        body = {k: v for k, v in original.items() if k not in ("_id", "hash")}
        body |= {"prev_hash": prev} | ({"actor": "someone-else"} if original is originals[0]
                                       else {})
        prev = hashlib.sha256((prev + audit.canonical(body)).encode()).hexdigest()
        await intake[audit.AUDIT].replace_one({"_id": original["_id"]},
                                              {"_id": original["_id"], **body, "hash": prev})
    await intake[audit.HEAD].update_one({"_id": on}, {"$set": {"hash": prev}})
    try:
        code, out = await mash(stack, "audit", "verify", "--service", "intake")
        assert code == 1, out
        assert f"TAMPERED: entry {opened['seq']} was changed" in said(out, "intake", on), out
    finally:
        for original in originals:
            await intake[audit.AUDIT].replace_one({"_id": original["_id"]}, original)
        await intake[audit.HEAD].update_one({"_id": on}, {"$set": {"hash": head["hash"]}})

    # Verified with keys that are not intake's, or none: the key it needs is named.
    intake_key = audit.read_key(audit_key_dir(stack.settings.home) / "intake.key")
    (tmp_path / "intake.key").write_text(audit.key_text(audit.new_key()), "ascii")
    monkeypatch.setenv("MASH_AUDIT_KEYS_DIR", str(tmp_path))
    code, out = await mash(stack, "audit", "verify", "--service", "intake")
    assert code == 1, out
    assert f"TAMPERED: entry 1 was made with a key we do not hold (key id {intake_key.id})" in said(
        out, "intake", on), out
    code, out = await mash(stack, "audit", "verify", "--service", "decision")
    assert code == 1, out
    assert f"NO KEY: {tmp_path / 'decision.key'} is missing" in out
    monkeypatch.delenv("MASH_AUDIT_KEYS_DIR")

    code, out = await mash(stack, "audit", "verify")
    assert code == 0, out
    assert "TAMPERED" not in out
    assert "NO KEY" not in out
    assert out.splitlines()[-1].endswith(": all whole"), out


async def test_verifying_a_live_chain_while_it_grows_finds_nothing_wrong(wire: Wire) -> None:
    """Appends commit while an inspector verifies: a consistent view, no false alarm."""
    db = wire.mongo[f"mash_audit_race_{uuid.uuid4().hex[:6]}"]
    key = audit.new_key()
    uow = UnitOfWork(wire.mongo, db, "race", asyncio.Event(), audit_key=key)

    async def append_many() -> None:
        for n in range(150):
            async with uow.transaction() as tx:
                tx.audit(actor="test", action="appended", what={"n": n})

    writer = asyncio.create_task(append_many())
    checks = []
    while not writer.done():
        checks.append(await audit.check(db, audit.keyring(key)))
    await writer
    checks.append(await audit.check(db, audit.keyring(key)))
    broken = [c for chains in checks for c in chains if c.broken is not None]
    assert not broken, broken[:3]
    assert len(checks[-1]) == 1, checks[-1]
    assert checks[-1][0].entries == 150
    assert len(checks) > 5, "verification never overlapped the appends"
