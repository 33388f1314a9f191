"""Write one JSON Schema per event to contracts/schemas/.

`python -m contracts.export [DIR]`; a test regenerates them and fails when
the committed files drift from the models.
"""

import json
import sys
from pathlib import Path

from contracts.events import ALL_EVENTS

SCHEMAS = Path(__file__).parent / "schemas"


def render() -> dict[str, str]:
    return {
        f"{event.event_type}.json": json.dumps(event.json_schema(), indent=2, sort_keys=True) + "\n"
        for event in ALL_EVENTS
    }


def main(out: Path = SCHEMAS) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (out / name).write_text(text, encoding="utf-8")
    print(f"{len(ALL_EVENTS)} schemas written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMAS)
