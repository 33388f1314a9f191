"""Write one JSON Schema per event to contracts/schemas/, and one per agency
contact format to contracts/schemas/formats/.

`python -m contracts.export [DIR]`; a test regenerates them and fails when
the committed files drift from the models.
"""

import json
import sys
from pathlib import Path

from contracts.events import ALL_EVENTS
from contracts.formats import AGENCY_FORMATS

SCHEMAS = Path(__file__).parent / "schemas"
FORMAT_SCHEMAS = SCHEMAS / "formats"


def render() -> dict[str, str]:
    return {
        f"{event.event_type}.json": json.dumps(event.json_schema(), indent=2, sort_keys=True) + "\n"
        for event in ALL_EVENTS
    }


def render_formats() -> dict[str, str]:
    """The formats agencies publish contacts in (canonical: mash.contact.submitted.json)."""
    return {
        f"{fmt.event_type}.json": json.dumps(fmt.json_schema(), indent=2, sort_keys=True) + "\n"
        for fmt in AGENCY_FORMATS
    }


def main(out: Path = SCHEMAS) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (out / name).write_text(text, encoding="utf-8")
    formats = out / "formats"
    formats.mkdir(exist_ok=True)
    for name, text in render_formats().items():
        (formats / name).write_text(text, encoding="utf-8")
    print(f"{len(ALL_EVENTS)} schemas and {len(AGENCY_FORMATS)} agency formats written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMAS)
