"""How long a RED enquiry waits behind a GREEN backlog, against how long the
backlog takes to drain: both measured in one run on the embedded stack.

    python bench/research_priority.py [--backlog 5000]

Prints a table and writes bench/results/research_priority.json.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mash.stack import Stack  # noqa: E402
from tests.embedded import Wire, stack_settings  # noqa: E402
from tests.research_backlog import red_behind_green  # noqa: E402


async def measure(backlog: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        stack = Stack(stack_settings(Path(home)), quiet_services=True, echo=lambda _: None)
        await stack.start_servers()
        await stack.start_services(only=["research-police"])
        wire = Wire(stack.settings)
        try:
            began = time.monotonic()
            red_seconds, green_before, green_waiting, overtook, _ = \
                await red_behind_green(wire, backlog)
            queue = wire.mongo["mash_research_police"].enquiries
            while await queue.count_documents({"state": {"$ne": "answered"}}) or \
                    await queue.count_documents({}) < backlog + 1:
                await asyncio.sleep(0.5)
            drained = time.monotonic() - began
        finally:
            await wire.close()
            await stack.stop()
    return {"backlog_green": backlog, "red_answered_s": round(red_seconds, 2),
            "green_answered_before_red": green_before,
            "green_still_waiting_when_red_answered": green_waiting,
            "green_answered_while_red_waited": overtook,
            "backlog_drained_s": round(drained, 2),
            "red_over_drain": round(red_seconds / drained, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=5000)
    figures = asyncio.run(measure(parser.parse_args().backlog))
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "research_priority.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
