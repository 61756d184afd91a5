"""Remote A2A agents over HTTP as peers: asked through the ``a2a-sdk`` client.

Runs on the call executor's loop. A remote peer's answer is written to the events topic as
the same ``a2a.reply`` record an agent of this framework writes, so it re-enters through
the same result loop. Failures become an answer in ``TASK_STATE_FAILED`` with the reason:
the caller's model reads it, and the task goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flink_agents.a2a._wire import to_json
from flink_agents.core import FAILED, Delegation

log = logging.getLogger(__name__)


class RemotePeers:
    """One ``a2a-sdk`` client per remote peer URL, opened on first use."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    async def card(self, url: str, timeout: float) -> Any | None:
        """The peer's agent card, or None (logged) when it cannot be read."""
        from a2a.client import A2ACardResolver, AgentCardResolutionError
        from httpx import AsyncClient, HTTPError

        try:
            async with AsyncClient(timeout=timeout) as http:
                return await A2ACardResolver(http, url).get_agent_card()
        except (AgentCardResolutionError, HTTPError, ValueError) as exc:
            log.warning("could not read the agent card of %s: %s", url, exc)
            return None

    async def ask(
        self, delegation: Delegation, timeout: float, retries: int, backoff: float
    ) -> str:
        """Send the delegation's message; return the answer as ``StreamResponse`` JSON."""
        from a2a.client import A2AClientError

        attempt = 0
        while True:
            attempt += 1
            try:
                return await asyncio.wait_for(self._send(delegation, timeout), timeout)
            except (A2AClientError, TimeoutError, OSError) as exc:
                if attempt > retries:
                    reason = (
                        f"{type(exc).__name__}: {exc or 'no answer'} (after {attempt} attempts)"
                    )
                    return failed(delegation, f"could not reach {delegation.peer}: {reason}")
                await asyncio.sleep(backoff * 2 ** (attempt - 1))

    async def _send(self, delegation: Delegation, timeout: float) -> str:
        from a2a.types import Message, Part, Role, SendMessageRequest, StreamResponse

        client = await self._client(delegation.peer, timeout)
        request = SendMessageRequest(
            message=Message(
                message_id=delegation.message_id,
                context_id=delegation.context_id,
                role=Role.ROLE_USER,
                parts=[Part(text=delegation.text)],
            )
        )
        last: Any = None
        async for response in client.send_message(request):
            last = response
        if last is None:
            return failed(delegation, f"{delegation.peer} sent no answer")
        if not isinstance(last, StreamResponse):
            last = StreamResponse(task=last) if hasattr(last, "status") else last
        return to_json(last)

    async def _client(self, url: str, timeout: float) -> Any:
        from a2a.client import ClientConfig, create_client
        from httpx import AsyncClient

        client = self._clients.get(url)
        if client is None:
            config = ClientConfig(streaming=False, httpx_client=AsyncClient(timeout=timeout))
            client = await create_client(url, client_config=config)
            self._clients[url] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def failed(delegation: Delegation, reason: str) -> str:
    """An answer in ``TASK_STATE_FAILED`` with ``reason``, as ``StreamResponse`` JSON."""
    from a2a.types import Message, Part, Role, StreamResponse, Task, TaskStatus

    status = TaskStatus(
        state=FAILED,
        message=Message(
            message_id=f"{delegation.message_id}/failed",
            context_id=delegation.context_id,
            role=Role.ROLE_AGENT,
            parts=[Part(text=reason)],
        ),
    )
    return to_json(StreamResponse(task=Task(context_id=delegation.context_id, status=status)))
