"""An agent's tools on one worker: its Python functions and the MCP servers it may use.

Every failure becomes a tool result the model can read (``is_error``): bad arguments, an
unknown tool, an exception in the tool, a timeout, an MCP server that stays unreachable
after retries or whose configuration broke. The task goes on; the model decides what to do.

One retry rule holds for Python and MCP tools alike (``Limits.max_retries``): an attempt
that timed out, or whose connection was lost while it ran, is made again after a backoff
unless the tool is marked not safe to retry; an MCP call that never reached its server is
always made again; a tool's own error is never retried.

Synchronous Python tools run on a thread pool the toolbox owns, and one tool may hold at
most half of its threads: a tool that hangs cannot starve the others.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flink_agents._redact import redact
from flink_agents.a2a._tool import ask_tool_schema, peer_tool_schema
from flink_agents.api import Agent, FunctionTool, ToolContext, ToolInputError, render_result
from flink_agents.core import ASK_TOOL, peer_tool_name
from flink_agents.errors import SpecError
from flink_agents.mcp import McpConfigError, McpError, McpPool

#: Threads for an agent's synchronous tools on one worker: enough for ``max_in_flight``
#: concurrent calls, within what a 2-core TaskManager can usefully hold.
MAX_TOOL_THREADS = 64


@dataclass(frozen=True)
class ToolOutcome:
    content: str
    is_error: bool
    latency_ms: float
    attempts: int = 1


class _Retry(Exception):
    """An attempt failed in a way that allows another one."""

    def __init__(self, reason: str, *, safe: bool) -> None:
        super().__init__(reason)
        #: Whether another attempt is safe whatever the tool (the call never ran).
        self.safe = safe


class Toolbox:
    """Start once per worker (MCP sessions open, tools are listed), then call concurrently."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.functions = {t.name: t for t in agent.function_tools}
        self._pool: McpPool | None = None
        threads = min(agent.limits.max_in_flight, MAX_TOOL_THREADS)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix=f"tools-{agent.name}")
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._per_tool = max(1, threads // 2)
        #: Every tool as an OpenAI function-tool schema, Python tools first (MCP tools join
        #: once ``start`` has listed them), and their names.
        self.schemas: list[dict[str, Any]] = [t.schema() for t in self.functions.values()]
        self.names: tuple[str, ...] = tuple(self.functions)
        self.add_peers({peer_tool_name(peer): ("", []) for peer in agent.peers})
        if agent.human_input:  # answered by the state machine, never called here
            self.schemas.append(ask_tool_schema())
            self.names = (*self.names, ASK_TOOL)

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
        self._slots = {
            name: asyncio.Semaphore(self._per_tool)
            for name, function in self.functions.items()
            if not function.is_async
        }
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

    async def call(
        self, name: str, arguments: str, timeout: float, context: ToolContext
    ) -> ToolOutcome:
        """Call a tool with retries by the rule above; every failure is an error outcome."""
        started = time.monotonic()
        try:
            args = json.loads(arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return _error(f"arguments of {name} are not a JSON object: {exc}", started)
        if name not in self.functions and (self._pool is None or not self._pool.has_tool(name)):
            return _error(f"unknown tool {name!r}; the tools are: {', '.join(self.names)}", started)
        limits = self.agent.limits
        retry_safe = self._retry_safe(name)
        for attempt in range(1, limits.max_retries + 2):
            ctx = ToolContext(context.agent, context.key, context.task_id, context.call_id, attempt)
            try:
                content, is_error = await self._attempt(name, args, timeout, ctx)
                return ToolOutcome(content, is_error, _ms(started), attempt)
            except _Retry as failure:
                if not (failure.safe or retry_safe):
                    note = f"{failure} (not retried: tool {name} is marked not safe to retry)"
                    return _error(note, started, attempt)
                if attempt > limits.max_retries:
                    return _error(f"{failure} (after {attempt} attempts)", started, attempt)
            await asyncio.sleep(limits.backoff_after(attempt).total_seconds())
        raise AssertionError("unreachable")

    def _secrets(self) -> list[str]:
        """This worker's credentials of the agent, which no tool message may carry."""
        key = os.environ.get(self.agent.model.api_key_env, "")
        return [key, *(v for s in self.agent.mcp_servers for v in s.secret_values())]

    async def close(self) -> None:
        try:
            if self._pool is not None:
                await self._pool.close()
        finally:
            # Threads of hung tools cannot be stopped; do not wait for them.
            self._threads.shutdown(wait=False, cancel_futures=True)

    def _retry_safe(self, name: str) -> bool:
        if name in self.functions:
            return self.functions[name].retry
        return self._pool is not None and self._pool.retry_safe(name)

    async def _attempt(
        self, name: str, args: dict[str, Any], timeout: float, ctx: ToolContext
    ) -> tuple[str, bool]:
        """One attempt: the content and whether it is the tool's error; raises ``_Retry``."""
        if name in self.functions:
            return await self._call_function(self.functions[name], args, timeout, ctx)
        assert self._pool is not None  # call() only comes here when the pool has the tool
        try:
            outcome = await self._pool.call_tool(name, args, timeout=timeout, meta=ctx.meta())
        except McpConfigError as exc:
            return f"tool {name} cannot be called: {exc}", True
        except McpError as exc:
            raise _Retry(str(exc), safe=not exc.sent) from None
        return outcome.text, outcome.is_error

    async def _call_function(
        self, function: FunctionTool, args: dict[str, Any], timeout: float, ctx: ToolContext
    ) -> tuple[str, bool]:
        waiting = [False]
        try:
            async with asyncio.timeout(timeout):
                if function.is_async:
                    return await function.invoke(args, ctx), False
                return await self._run_in_thread(function, args, ctx, waiting), False
        except ToolInputError as exc:
            return str(exc), True
        except TimeoutError:
            if waiting[0]:
                busy = (
                    f"tool {function.name} did not start within {timeout:g}s: "
                    f"{self._per_tool} earlier calls of it are still running"
                )
                raise _Retry(busy, safe=True) from None
            raise _Retry(f"tool {function.name} timed out after {timeout:g}s", safe=False) from None
        except Exception as exc:  # noqa: BLE001 - any failure of user code is the model's to see
            message = f"tool {function.name} failed: {type(exc).__name__}: {exc}"
            return redact(message, self._secrets()), True

    async def _run_in_thread(
        self, function: FunctionTool, args: dict[str, Any], ctx: ToolContext, waiting: list[bool]
    ) -> str:
        """Run on the toolbox's threads; a slot is held until the thread ends, not the wait."""
        kwargs = function.bind(args, ctx)
        slots = self._slots[function.name]
        waiting[0] = True
        await slots.acquire()
        waiting[0] = False
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self._threads, lambda: function.func(**kwargs)
            )
        except BaseException:
            slots.release()
            raise
        future.add_done_callback(lambda f: _release(slots, f))
        # Shielded: a timeout stops the wait, while the thread runs on and keeps its slot.
        return render_result(await asyncio.shield(future))


def _release(slots: asyncio.Semaphore, future: asyncio.Future[Any]) -> None:
    slots.release()
    if not future.cancelled():
        future.exception()  # retrieved: a call that timed out no longer awaits it


def _error(message: str, started: float, attempts: int = 1) -> ToolOutcome:
    return ToolOutcome(message, True, _ms(started), attempts)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
