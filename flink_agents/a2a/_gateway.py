"""``flink-agents a2a serve``: the A2A 1.0 HTTP gateway in front of agents running in Flink.

Each agent with a card in ``a2a.cards`` is served at ``<url>/agents/<name>``: its card at
``/agents/<name>/.well-known/agent-card.json`` (with this gateway as its JSON-RPC
interface) and the JSON-RPC binding at ``/agents/<name>``. Requests go to the agent's
Kafka inbox and are answered on the gateway's reply topic; tasks live in ``a2a.tasks``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format

from flink_agents.a2a._guard import Guard
from flink_agents.a2a._handler import GatewayHandler
from flink_agents.a2a._kafka import AsyncProducer, CompactedReader, ensure_topic
from flink_agents.a2a._registry import CARDS_TOPIC, ensure_cards_topic
from flink_agents.a2a._replies import REPLIES_TOPIC, ReplyReader
from flink_agents.a2a._tasks import TaskBook


@dataclass(frozen=True)
class GatewayOptions:
    """How a gateway serves: where Kafka is, its public URL, and its limits."""

    bootstrap_servers: str
    #: The URL clients reach this gateway at (written into the cards it serves).
    url: str
    #: The bearer token requests must carry; None: no authentication.
    token: str | None = None
    #: The name agents see as the caller of the gateway's requests (``callers``).
    caller: str = "a2a-gateway"
    max_request_bytes: int = 1_048_576
    max_concurrent: int = 16
    #: How long a blocking SendMessage or a CancelTask waits for the task, in seconds.
    wait: float = 300.0
    #: The agents served; empty: every agent with a card.
    agents: tuple[str, ...] = ()

    def serves(self, name: str) -> bool:
        return not self.agents or name in self.agents


class Cards:
    """The newest card of each agent in the registry, kept current by a reader thread."""

    def __init__(self, bootstrap_servers: str) -> None:
        ensure_cards_topic(bootstrap_servers)
        self._lock = threading.Lock()
        self._cards: dict[str, Any] = {}
        self._reader = CompactedReader(bootstrap_servers, CARDS_TOPIC, self._on_record)

    def start(self, timeout: float = 60.0) -> Cards:
        self._reader.start().wait_caught_up(timeout)
        return self

    def stop(self) -> None:
        self._reader.stop()

    def get(self, name: str) -> Any | None:
        with self._lock:
            return self._cards.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._cards)

    def _on_record(self, key: str, value: bytes | None) -> None:
        from a2a.types import AgentCard

        with self._lock:
            if value is None:
                self._cards.pop(key, None)
                return
            try:
                self._cards[key] = json_format.Parse(value, AgentCard(), ignore_unknown_fields=True)
            except json_format.ParseError:
                return


def served_card(card: Any, options: GatewayOptions) -> Any:
    """The card as this gateway serves it: its JSON-RPC interface first, streaming on."""
    from a2a.types import (
        AgentCard,
        AgentInterface,
        HTTPAuthSecurityScheme,
        SecurityRequirement,
        SecurityScheme,
    )

    served = AgentCard()
    served.CopyFrom(card)
    url = f"{options.url.rstrip('/')}/agents/{card.name}"
    others = [i for i in card.supported_interfaces if i.protocol_binding != "JSONRPC"]
    del served.supported_interfaces[:]
    served.supported_interfaces.append(
        AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")
    )
    served.supported_interfaces.extend(others)
    served.capabilities.streaming = True
    served.capabilities.push_notifications = False
    if options.token is not None:
        served.security_schemes["bearer"].CopyFrom(
            SecurityScheme(http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer"))
        )
        requirement = SecurityRequirement()
        requirement.schemes["bearer"].SetInParent()
        served.security_requirements.append(requirement)
    return served


def gateway_app(options: GatewayOptions) -> Any:
    """The gateway as an ASGI app; Kafka readers start and stop with the app's lifespan."""
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict
    from a2a.server.routes import DefaultServerCallContextBuilder
    from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    state: dict[str, Any] = {}

    class AgentContext(DefaultServerCallContextBuilder):
        def build(self, request: Request) -> Any:
            context = super().build(request)
            context.state["agent"] = request.path_params["name"]
            return context

    def served(name: str) -> Any | None:
        return state["cards"].get(name) if options.serves(name) else None

    def served_names() -> list[str]:
        return [n for n in state["cards"].names() if options.serves(n)]

    def unknown(name: str) -> Response:
        known = ", ".join(served_names()) or "none"
        if options.serves(name):
            message = f"no agent {name!r} has a card in {CARDS_TOPIC} (served: {known})"
        else:
            message = (
                f"agent {name!r} is not served by this gateway (served: {known}; the "
                "gateway's --agent options or gateway.agents setting choose them)"
            )
        body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32601, "message": message}}
        return JSONResponse(body, status_code=404)

    async def card(request: Request) -> Response:
        name = request.path_params["name"]
        found = served(name)
        if found is None:
            return unknown(name)
        return JSONResponse(agent_card_to_dict(served_card(found, options)))

    async def rpc(request: Request) -> Response:
        name = request.path_params["name"]
        if served(name) is None:
            return unknown(name)
        response: Response = await state["dispatcher"].handle_requests(request)
        return response

    async def agents(request: Request) -> Response:
        base = options.url.rstrip("/")
        return JSONResponse({"agents": [f"{base}/agents/{n}" for n in served_names()]})

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        servers = options.bootstrap_servers
        ensure_topic(servers, REPLIES_TOPIC, compacted=False)
        producer = AsyncProducer(servers, "flink-agents-a2a-gateway")
        book = TaskBook(servers, producer).start()
        cards = Cards(servers).start()
        replies = ReplyReader(servers, book).start()
        handler = GatewayHandler(book, producer, options.caller, options.wait)
        state.update(
            cards=cards,
            book=book,
            dispatcher=JsonRpcDispatcher(handler, context_builder=AgentContext()),
        )
        try:
            yield
        finally:
            replies.stop()
            cards.stop()
            book.stop()
            producer.close()

    routes = [
        Route("/agents", agents, methods=["GET"]),
        Route("/agents/{name}/.well-known/agent-card.json", card, methods=["GET"]),
        Route("/agents/{name}", rpc, methods=["POST"]),
        Route("/agents/{name}/", rpc, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    return Guard(app, options.token, options.max_request_bytes, options.max_concurrent)


def serve(options: GatewayOptions, host: str, port: int) -> None:
    """Run the gateway until interrupted; a Kafka that does not answer is a ``ConfigError``."""
    import uvicorn

    ensure_topic(options.bootstrap_servers, REPLIES_TOPIC, compacted=False)
    uvicorn.run(gateway_app(options), host=host, port=port, log_level="warning")
