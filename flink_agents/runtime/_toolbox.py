"""An agent's tools on one worker: its Python functions and the MCP servers it may use.

Every failure becomes a tool result the model can read (``is_error``): bad arguments, an
unknown tool, an exception in the tool, a timeout, an MCP server that stays unreachable
after retries. The task goes on; the model decides what to do.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from flink_agents.a2a._tool import peer_tool_schema
from flink_agents.api._agent import Agent
from flink_agents.api._tools import ToolInputError
from flink_agents.core._peers import peer_tool_name
from flink_agents.errors import SpecError
from flink_agents.mcp import McpPool, McpTimeout, McpUnavailable


@dataclass(frozen=True)
class ToolOutcome:
    content: str
    is_error: bool
    latency_ms: float
    attempts: int = 1


class Toolbox:
    """Start once per worker (MCP sessions open, tools are listed), then call concurrently."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.functions = {t.name: t for t in agent.function_tools}
        self._pool: McpPool | None = None
        #: Every tool as an OpenAI function-tool schema, Python tools first (MCP tools join
        #: once ``start`` has listed them), and their names.
        self.schemas: list[dict[str, Any]] = [t.schema() for t in self.functions.values()]
        self.names: tuple[str, ...] = tuple(self.functions)
        self.add_peers({peer_tool_name(peer): ("", []) for peer in agent.peers})

    def add_peers(self, peers: dict[str, tuple[str, list[str]]]) -> None:
        """Offer peer agents as tools: name to (description, skills) from their cards."""
        offered = set(self.names)
        fresh = [p for p in peers if p not in offered]
        self.schemas = [
            *[s for s in self.schemas if s["function"]["name"] not in peers],
            *[peer_tool_schema(p, *peers[p]) for p in peers],
        ]
        self.names = (*self.names, *fresh)

    async def start(self) -> None:
        if not self.agent.mcp_servers:
            return
        self._pool = McpPool(list(self.agent.mcp_servers))
        await self._pool.start()
        clashes = sorted(n for n in self.functions if self._pool.has_tool(n))
        if clashes:
            raise SpecError(
                f"agent {self.agent.name}: tools {', '.join(clashes)} are both Python tools and "
                "MCP tools; rename one or leave it out of allowed_tools"
            )
        self.schemas = [*self.schemas, *self._pool.tool_schemas()]
        self.names = tuple(schema["function"]["name"] for schema in self.schemas)
        peers = {peer_tool_name(p) for p in self.agent.peers}
        clashes = sorted(peers & set(self._pool_names()))
        if clashes:
            raise SpecError(
                f"agent {self.agent.name}: {', '.join(clashes)} are both peers and MCP tools; "
                "rename one or leave it out of allowed_tools"
            )

    def _pool_names(self) -> list[str]:
        assert self._pool is not None
        return [schema["function"]["name"] for schema in self._pool.tool_schemas()]

    async def call(self, name: str, arguments: str, timeout: float) -> ToolOutcome:
        started = time.monotonic()
        try:
            args = json.loads(arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return _error(f"arguments of {name} are not a JSON object: {exc}", started)
        if name in self.functions:
            return await self._call_function(name, args, timeout, started)
        if self._pool is not None and self._pool.has_tool(name):
            return await self._call_mcp(name, args, timeout, started)
        return _error(f"unknown tool {name!r}; the tools are: {', '.join(self.names)}", started)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def _call_function(
        self, name: str, args: dict[str, Any], timeout: float, started: float
    ) -> ToolOutcome:
        try:
            content = await asyncio.wait_for(self.functions[name].invoke(args), timeout)
        except ToolInputError as exc:
            return _error(str(exc), started)
        except TimeoutError:
            return _error(f"tool {name} timed out after {timeout:g}s", started)
        except Exception as exc:  # noqa: BLE001 - any failure of user code is the model's to see
            return _error(f"tool {name} failed: {type(exc).__name__}: {exc}", started)
        return ToolOutcome(content, False, _ms(started))

    async def _call_mcp(
        self, name: str, args: dict[str, Any], timeout: float, started: float
    ) -> ToolOutcome:
        assert self._pool is not None  # call() only comes here when the pool has the tool
        limits = self.agent.limits
        for attempt in range(1, limits.max_retries + 2):
            try:
                outcome = await self._pool.call_tool(name, args, timeout=timeout)
                return ToolOutcome(outcome.text, outcome.is_error, _ms(started), attempt)
            except (McpUnavailable, McpTimeout) as exc:
                if attempt > limits.max_retries:
                    return _error(f"{exc} (after {attempt} attempts)", started, attempt)
                await asyncio.sleep(limits.backoff_after(attempt).total_seconds())
        raise AssertionError("unreachable")


def _error(message: str, started: float, attempts: int = 1) -> ToolOutcome:
    return ToolOutcome(message, True, _ms(started), attempts)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
