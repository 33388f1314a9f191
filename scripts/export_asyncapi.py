"""Write an AsyncAPI 3 document per service to contracts/asyncapi/ with
`faststream docs gen`, one research document per agency.

`python scripts/export_asyncapi.py [DIR]`. Each app is generated in its own
process: a service's ``app()`` factory builds it from the environment (the
agency of a research service).
"""

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "contracts" / "asyncapi"
sys.path.insert(0, str(ROOT))

from contracts.agencies import agencies  # noqa: E402


def targets() -> list[tuple[str, str, dict[str, str]]]:
    apps = [(name, f"services.{name}.app:app", {}) for name in ("intake", "decision", "notify")]
    apps.append(("desk", "services.desk.app:streams", {}))
    apps += [(f"research-{a}", "services.research.app:app", {"MASH_AGENCY": a})
             for a in agencies()]
    return apps


def _document(name: str, app: str, env: dict[str, str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "asyncapi.json"
        # The pipeline's services are built by a factory (bootstrap); the
        # desk's module holds its app.
        factory = [] if app.endswith(":streams") else ["--factory"]
        subprocess.run(
            [sys.executable, "-m", "faststream", "docs", "gen", app, *factory, "--out", str(raw)],
            cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True,
        )
        loaded: dict[str, object] = json.loads(raw.read_text(encoding="utf-8"))
        return loaded


def generate(out: Path) -> list[Path]:
    """Two at a time: each is a process of its own that mostly imports."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = targets()
    with ThreadPoolExecutor(max_workers=2) as pool:
        docs = list(pool.map(lambda t: _document(*t), wanted))
    written = []
    for (name, _, _), doc in zip(wanted, docs, strict=True):
        target = out / f"{name}.json"
        # Stable bytes: sorted keys, so a diff shows only real changes.
        target.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    paths = generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"{len(paths)} AsyncAPI documents written")
