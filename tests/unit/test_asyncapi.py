"""The committed AsyncAPI documents are what `faststream docs gen` makes now."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "contracts" / "asyncapi"


def test_asyncapi_documents_match_the_services(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "export_asyncapi.py"), str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    fresh = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED.glob("*.json")}
    assert set(fresh) == set(committed), "run `make contracts` to regenerate"
    for name, text in fresh.items():
        assert committed[name] == text, f"{name} drifted from the service: run `make contracts`"


def test_every_service_documents_what_it_consumes_and_emits() -> None:
    intake = json.loads((COMMITTED / "intake.json").read_text(encoding="utf-8"))
    assert intake["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in intake["channels"].values()}
    assert {"mash.contacts.submitted", "mash.contacts.rejected", "mash.cases.opened",
            "mash.enquiries.police"} <= addresses
    notify = json.loads((COMMITTED / "notify.json").read_text(encoding="utf-8"))
    assert {"mash.outcomes.social-care", "mash.outcomes.early-help", "mash.outcomes.nfa",
            "mash.decisions"} <= {c["address"] for c in notify["channels"].values()}
    assert "OutcomeRouted" in notify["components"]["schemas"]
