"""What the gateway checks before a request reaches A2A: the bearer token, the request's
size and how many requests a client has open. Each refusal is a JSON-RPC error body with
the HTTP status that says why (401, 413, 429)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from typing import Any

Scope = dict[str, Any]
INVALID_REQUEST = -32600


class Guard:
    """A pure ASGI middleware around the gateway's routes.

    ``token``: the bearer token every JSON-RPC request must carry (None: no authentication;
    agent cards are always public, so clients can find out how to authenticate).
    ``max_bytes``: the largest request body. ``max_concurrent``: requests (streams
    included, until they close) one client may have open; a client is its token, or its
    address when the gateway has no token.
    """

    def __init__(self, app: Any, token: str | None, max_bytes: int, max_concurrent: int) -> None:
        self.app, self.token = app, token
        self.max_bytes, self.max_concurrent = max_bytes, max_concurrent
        self._open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] == "GET":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        authorization = headers.get("authorization", "")
        if self.token is not None and not _bearer_matches(authorization, self.token):
            why = "a bearer token" if not authorization else "the right bearer token"
            await _refuse(send, 401, f"this gateway needs {why} (Authorization: Bearer ...)")
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, 413, self._too_large())
            return
        body = await _read_body(receive, self.max_bytes)
        if body is None:
            await _refuse(send, 413, self._too_large())
            return
        client = _client(authorization, scope)
        if self._open[client] >= self.max_concurrent:
            await _refuse(
                send,
                429,
                f"this client already has {self.max_concurrent} requests open; retry later",
            )
            return
        self._open[client] += 1
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            self._open[client] -= 1
            if not self._open[client]:
                del self._open[client]

    def _too_large(self) -> str:
        return f"the request is larger than this gateway's limit of {self.max_bytes} bytes"


def _bearer_matches(authorization: str, token: str) -> bool:
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _client(authorization: str, scope: Scope) -> str:
    if authorization:
        return "token:" + hashlib.sha256(authorization.encode()).hexdigest()[:16]
    host = (scope.get("client") or ("unknown", 0))[0]
    return f"address:{host}"


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """The body read already, then the connection's own messages (a stream's disconnect)."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return replayed


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="flink-agents"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
