"""The tray's in-memory index follows the case views it is refreshed from."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.desk import store, tray

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def doc(case_id: str, stage: str, rag: str, due_hours: float, written: datetime
        ) -> dict[str, Any]:
    return {"_id": case_id, "stage": stage, "rag": rag,
            "rag_order": {"RED": 0, "AMBER": 1, "GREEN": 2}[rag],
            "due_at": T0 + timedelta(hours=due_hours), "breached": False,
            "received_at": T0, "updated_at": written,
            "contacts": [{"contact": {"referrer": {"agency": "police"}}}],
            "agencies": [{"agency": "police", "answered_at": T0.isoformat(),
                          "answer_by": (T0 + timedelta(hours=1)).isoformat()},
                         {"agency": "health", "answered_at": None,
                          "answer_by": (T0 + timedelta(hours=1)).isoformat()}]}


class Views:
    """Stands in for the case views: written_since and tray_rows over a dict."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.asked: list[datetime | None] = []
        self.read: list[list[str]] = []
        monkeypatch.setattr(store, "written_since", self.written_since)
        monkeypatch.setattr(store, "tray_rows", self.tray_rows)

    def write(self, *docs: dict[str, Any]) -> None:
        self.docs.update({d["_id"]: d for d in docs})

    async def written_since(self, _db: Any, since: datetime | None) -> dict[str, datetime]:
        self.asked.append(since)
        return {k: d["updated_at"] for k, d in self.docs.items()
                if (d["stage"] != "decided" if since is None else d["updated_at"] >= since)}

    async def tray_rows(self, _db: Any, ids: list[str]) -> list[dict[str, Any]]:
        self.read.append(sorted(ids))
        return [self.docs[i] for i in ids]


async def test_rows_are_loaded_updated_and_dropped_when_decided(
        monkeypatch: pytest.MonkeyPatch) -> None:
    views = Views(monkeypatch)
    views.write(doc("g", "awaiting-decision", "GREEN", 1, T0),
                doc("r2", "recommended", "RED", 3, T0),
                doc("r1", "gathering", "RED", 2, T0 + timedelta(seconds=1)))
    index = tray.Tray(overlap=timedelta(seconds=30), reload_every=timedelta(hours=1))
    await index.refresh(None)  # type: ignore[arg-type]
    assert [r.case_id for r in index.open()] == ["r1", "r2", "g"]
    first = index.open()[0]
    assert (first.referrer, first.answered, len(first.agencies)) == ("police", 1, 2)
    views.write(doc("r1", "decided", "RED", 2, T0 + timedelta(seconds=5)),
                doc("a", "review", "AMBER", 9, T0 + timedelta(seconds=6)))
    await index.refresh(None)  # type: ignore[arg-type]
    assert [r.case_id for r in index.open()] == ["r2", "a", "g"]
    assert [r.case_id for r in index.open(stages=["review"])] == ["a"]
    assert [r.case_id for r in index.open(rag="GREEN")] == ["g"]
    # The first look reads every open case; later ones go back the overlap
    # before the newest write seen, for writes that committed late, and read
    # in full only the views written since they were read.
    assert views.asked == [None, T0 + timedelta(seconds=1) - timedelta(seconds=30)]
    assert views.read == [["g", "r1", "r2"], ["a", "r1"]]
    await index.refresh(None)  # type: ignore[arg-type]
    assert views.read[-1] == []


async def test_a_full_reload_drops_a_case_whose_closing_write_was_missed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    views = Views(monkeypatch)
    views.write(doc("r1", "gathering", "RED", 2, T0), doc("g", "gathering", "GREEN", 1, T0))
    index = tray.Tray(reload_every=timedelta(0))
    await index.refresh(None)  # type: ignore[arg-type]
    views.docs["r1"]["stage"] = "decided"  # as if its write were older than any look
    await index.refresh(None)  # type: ignore[arg-type]
    assert views.asked == [None, None]  # every look a full one
    assert [r.case_id for r in index.open()] == ["g"]


async def test_the_index_is_kept_only_while_someone_reads_the_tray(
        monkeypatch: pytest.MonkeyPatch) -> None:
    views = Views(monkeypatch)
    views.write(doc("r1", "gathering", "RED", 2, T0))
    index = tray.Tray()
    await index.keep_current(None)  # type: ignore[arg-type]
    assert views.asked == []  # nobody has looked: no reads
    index.wanted()
    await index.keep_current(None)  # type: ignore[arg-type]
    assert [r.case_id for r in index.open()] == ["r1"]
    await index.keep_current(None, idle=timedelta(seconds=-1))  # type: ignore[arg-type]
    assert not index.loaded.is_set()
    assert index.open() == []
