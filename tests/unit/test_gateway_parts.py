"""The gateway's parts that need no services: the guard in front of it and the cards it serves."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from flink_agents.a2a._card import agent_card
from flink_agents.a2a._gateway import GatewayOptions, served_card
from flink_agents.a2a._guard import Guard
from flink_agents.api import Agent, OpenAIModel


class Blocking:
    """An ASGI app that answers 200 once ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        self.entered.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def call(guard: Guard, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    chunks = [body[:5], body[5:]]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
    }
    await guard(scope, receive, send)
    status = sent[0]["status"]
    body_sent = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(body_sent) if body_sent.strip() else {}


def test_the_guard_refuses_a_missing_or_wrong_token_and_passes_the_right_one():
    async def run() -> None:
        app = Blocking()
        app.release.set()
        guard = Guard(app, "t0k", max_bytes=100, max_concurrent=2)
        status, body = await call(guard, b'{"a": 1}', {})
        assert status == 401 and "needs a bearer token" in body["error"]["message"]
        status, body = await call(guard, b'{"a": 1}', {"Authorization": "Bearer nope"})
        assert status == 401 and "the right bearer token" in body["error"]["message"]
        status, _ = await call(guard, b'{"a": 1}', {"Authorization": "Bearer t0k"})
        assert status == 200 and app.bodies == [b'{"a": 1}']  # the body reaches the app whole

    asyncio.run(run())


def test_the_guard_refuses_a_body_over_the_limit_even_without_a_content_length():
    async def run() -> None:
        guard = Guard(Blocking(), None, max_bytes=10, max_concurrent=2)
        status, body = await call(guard, b"x" * 11, {})
        assert status == 413 and "limit of 10 bytes" in body["error"]["message"]
        status, _ = await call(guard, b"x" * 11, {"Content-Length": "11"})
        assert status == 413

    asyncio.run(run())


def test_the_guard_refuses_a_client_over_its_concurrency_limit_until_one_finishes():
    async def run() -> None:
        app = Blocking()
        guard = Guard(app, None, max_bytes=100, max_concurrent=1)
        first = asyncio.create_task(call(guard, b"{}", {}))
        await app.entered.wait()
        status, body = await call(guard, b"{}", {})
        assert status == 429 and "1 requests open" in body["error"]["message"]
        app.release.set()
        assert (await first)[0] == 200
        assert (await call(guard, b"{}", {}))[0] == 200

    asyncio.run(run())


def test_a_served_card_names_the_gateway_first_and_its_bearer_scheme():
    spec = Agent(name="review", instructions="Review.", model=OpenAIModel(model="m"), callers=["*"])
    card = agent_card(spec, "127.0.0.1:9092")
    options = GatewayOptions(bootstrap_servers="k:9", url="http://gw:8100/", token="t")
    served = served_card(card, options)
    first, second = served.supported_interfaces
    assert (first.url, first.protocol_binding) == ("http://gw:8100/agents/review", "JSONRPC")
    assert second.protocol_binding == "urn:flink-agents:a2a:kafka:1"
    assert served.capabilities.streaming and not served.capabilities.push_notifications
    assert served.security_schemes["bearer"].http_auth_security_scheme.scheme == "Bearer"
    assert list(served.security_requirements[0].schemes) == ["bearer"]
    assert len(card.supported_interfaces) == 1  # the registry's card is left as it was
