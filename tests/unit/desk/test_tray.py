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


async def test_rows_are_loaded_updated_and_dropped_when_decided(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[datetime | None] = []
    batches = [
        [doc("g", "awaiting-decision", "GREEN", 1, T0), doc("r2", "recommended", "RED", 3, T0),
         doc("r1", "gathering", "RED", 2, T0 + timedelta(seconds=1))],
        [doc("r1", "decided", "RED", 2, T0 + timedelta(seconds=5)),
         doc("a", "review", "AMBER", 9, T0 + timedelta(seconds=6))],
    ]

    async def changed_since(_db: Any, since: datetime | None) -> list[dict[str, Any]]:
        asked.append(since)
        return batches.pop(0) if batches else []

    monkeypatch.setattr(store, "changed_since", changed_since)
    index = tray.Tray(overlap=timedelta(seconds=30), reload_every=timedelta(hours=1))
    await index.refresh(None)  # type: ignore[arg-type]
    assert [r.case_id for r in index.open()] == ["r1", "r2", "g"]
    first = index.open()[0]
    assert (first.referrer, first.answered, len(first.agencies)) == ("police", 1, 2)
    await index.refresh(None)  # type: ignore[arg-type]
    assert [r.case_id for r in index.open()] == ["r2", "a", "g"]
    assert [r.case_id for r in index.open(stages=["review"])] == ["a"]
    assert [r.case_id for r in index.open(rag="GREEN")] == ["g"]
    # The first look reads every open case; later ones go back the overlap
    # before the newest write seen, for writes that committed late.
    assert asked == [None, T0 + timedelta(seconds=1) - timedelta(seconds=30)]


async def test_a_full_reload_forgets_what_was_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    batches = [[doc("r1", "gathering", "RED", 2, T0)], [doc("g", "gathering", "GREEN", 1, T0)]]

    async def changed_since(_db: Any, since: datetime | None) -> list[dict[str, Any]]:
        assert since is None  # every look a full one
        return batches.pop(0)

    monkeypatch.setattr(store, "changed_since", changed_since)
    index = tray.Tray(reload_every=timedelta(0))
    await index.refresh(None)  # type: ignore[arg-type]
    await index.refresh(None)  # type: ignore[arg-type]
    assert [r.case_id for r in index.open()] == ["g"]  # r1 closed without a write seen
