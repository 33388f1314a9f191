"""A transaction's staged documents: a batch that names one case seven times
reads it once and writes it once, and sees its own changes in between."""

from typing import Any

from pymongo import ReplaceOne

from plumbing.unit_of_work import Staged


class Collection:
    """Counts what reaches the database."""

    def __init__(self, **docs: dict[str, Any]) -> None:
        self.docs = docs
        self.finds = 0
        self.bulk: list[list[ReplaceOne]] = []

    async def find_one(self, query: dict[str, Any], session: Any = None) -> dict[str, Any] | None:
        self.finds += 1
        doc = self.docs.get(query["_id"])
        return dict(doc) if doc is not None else None

    async def bulk_write(self, requests: list[ReplaceOne], session: Any = None) -> None:
        self.bulk.append(requests)


async def test_each_document_is_read_once_and_all_are_written_in_one_statement() -> None:
    cases = Collection(a={"_id": "a", "n": 0})
    staged = Staged(cases, None)
    for _ in range(7):
        doc = await staged.find("a")
        assert doc is not None
        staged.replace({**doc, "n": doc["n"] + 1})
    assert await staged.find("b") is None
    assert await staged.find("b") is None
    staged.replace({"_id": "b", "n": 1})
    assert (await staged.find("a"), await staged.find("b")) == ({"_id": "a", "n": 7},
                                                               {"_id": "b", "n": 1})
    assert cases.finds == 2
    assert cases.bulk == []  # nothing written before the commit
    await staged.write()
    [requests] = cases.bulk
    assert requests == [ReplaceOne({"_id": "a"}, {"_id": "a", "n": 7}, upsert=True),
                        ReplaceOne({"_id": "b"}, {"_id": "b", "n": 1}, upsert=True)]


async def test_a_reader_changing_its_copy_changes_nothing_staged() -> None:
    staged = Staged(Collection(a={"_id": "a", "n": 0}), None)
    doc = await staged.find("a")
    assert doc is not None
    doc["n"] = 99
    assert await staged.find("a") == {"_id": "a", "n": 0}
    assert not staged.changed


async def test_nothing_staged_writes_nothing() -> None:
    cases = Collection()
    await Staged(cases, None).write()
    assert cases.bulk == []
