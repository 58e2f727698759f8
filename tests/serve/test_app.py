"""``BodyLimitMiddleware`` driven as the ASGI server drives it: what it reads, and when."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mlward.serve.app import BodyLimitMiddleware


def _call(content_length: bytes, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
    """Send one request declaring ``content_length`` with a 5-byte body; return what happened."""
    sent: list[dict[str, Any]] = []
    received = 0
    reached_app = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"rows!", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal reached_app
        reached_app = True
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/models/m/predict",
        "headers": [(b"content-length", content_length)],
    }
    asyncio.run(BodyLimitMiddleware(app, limit)(scope, receive, send))
    return sent, received, reached_app


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read():
    # The client announces more than the limit: 413 from the header alone. Neither the
    # application nor the body stream is touched, so nothing is buffered or parsed.
    sent, received, reached_app = _call(b"1048577", limit=1 << 20)
    assert sent[0]["status"] == 413
    assert json.loads(sent[-1]["body"])["status"] == 413
    assert received == 0 and not reached_app


def test_a_declared_length_within_the_limit_reaches_the_app():
    sent, received, reached_app = _call(b"5", limit=1 << 20)
    assert sent[0]["status"] == 200 and received == 1 and reached_app
