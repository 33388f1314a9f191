"""`GET /health`: ok, degraded (running, not doing its work: someone must
look) or down (a dependency does not answer), with the reason in the body."""

import json
from typing import Any

from plumbing.metrics import health_route


async def call(app: Any) -> tuple[int, dict[str, str]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/health", "headers": [],
               "query_string": b""}, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


async def up() -> bool:
    return True


async def down() -> bool:
    raise ConnectionError("no route")


async def moving() -> str | None:
    return None


async def stuck() -> str:
    return "the oldest unsent event has waited 75s: e1 to mash.findings (1,024 bytes, 3 failed " \
           "attempt(s)): KafkaConnectionError"


async def test_all_well_is_ok() -> None:
    assert await call(health_route({"broker": up, "database": up}, {"outbox": moving})) == \
        (200, {"status": "ok", "broker": "ok", "database": "ok", "outbox": "ok"})


async def test_a_stalled_outbox_is_degraded_and_says_why() -> None:
    status, body = await call(health_route({"broker": up, "database": up}, {"outbox": stuck}))
    assert status == 200
    assert body["status"] == "degraded"
    assert body["outbox"].startswith("the oldest unsent event has waited 75s: e1 to mash.findings")


async def test_a_dependency_down_is_503_naming_it() -> None:
    status, body = await call(health_route({"broker": up, "database": down}, {"outbox": stuck}))
    assert status == 503
    assert body == {"status": "down", "broker": "ok", "database": "down",
                    "outbox": "not checked"}
