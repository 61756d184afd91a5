"""The gateway's A2A operations: JSON-RPC calls become inbox records, tasks come from Kafka.

An ``a2a-sdk`` ``RequestHandler``: the SDK's JSON-RPC dispatcher parses requests, checks
``A2A-Version`` and writes responses and SSE streams; this class does what each method
means for an agent running in Flink. The agent a request is for is the ``agent`` of the
call context (its URL path).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from a2a.server.request_handlers.request_handler import RequestHandler

from flink_agents.a2a import _binding as b
from flink_agents.a2a._kafka import AsyncProducer
from flink_agents.a2a._replies import REPLIES_TOPIC
from flink_agents.a2a._tasks import TaskBook, is_final, state_name
from flink_agents.a2a._wire import cancel_record, to_json
from flink_agents.api.events import task_id_for_request
from flink_agents.core import INPUT_REQUIRED, TERMINAL

#: ListTasks' page size when the request names none, and the most it may ask for.
PAGE_SIZE, MAX_PAGE_SIZE = 50, 100


class GatewayHandler(RequestHandler):
    """Serves A2A 1.0 for every agent with a card, over the agents' Kafka inboxes."""

    def __init__(self, book: TaskBook, producer: AsyncProducer, caller: str, wait: float) -> None:
        self.book, self.producer, self.caller, self.wait = book, producer, caller, wait

    # -- messages ----------------------------------------------------------------------

    async def on_message_send(self, params: Any, context: Any) -> Any:
        task = await self._submit(params, context)
        if params.configuration.return_immediately:
            return _trimmed(task, params.configuration)
        with self.book.watch(task.id) as changes:
            task = self.book.get(task.id) or task
            try:
                async with asyncio.timeout(self.wait):
                    while not is_final(task):
                        task = await changes.get()
            except TimeoutError:
                pass  # the task goes on: the client has it and may GetTask or SubscribeToTask
        return _trimmed(task, params.configuration)

    async def on_message_send_stream(self, params: Any, context: Any) -> AsyncGenerator[Any]:
        task = await self._submit(params, context)
        async for event in self._follow(task):
            yield event

    async def _submit(self, params: Any, context: Any) -> Any:
        from a2a.types import Message, Task, TaskState, TaskStatus
        from a2a.utils.errors import (
            InvalidParamsError,
        )

        agent = _agent(context)
        message = params.message
        if not message.parts:
            raise InvalidParamsError(message="the message has no parts: send at least one")
        if message.task_id:
            return await self._answer(agent, message)
        request_id = uuid.uuid4().hex
        context_id = message.context_id or uuid.uuid4().hex
        sent = Message()
        sent.CopyFrom(message)
        sent.context_id = context_id
        sent.task_id = task_id_for_request(agent, request_id)
        task = Task(
            id=sent.task_id,
            context_id=context_id,
            status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
            history=[sent],
        )
        task.metadata.update({"agent": agent, "requestMessageId": request_id})
        await self.book.put(task)  # before the request: an answer must find its task
        inbox = Message()
        inbox.CopyFrom(sent)
        inbox.message_id, inbox.task_id = request_id, ""
        await self.producer.send(*_request(agent, inbox, self.caller))
        return task

    async def _answer(self, agent: str, message: Any) -> Any:
        """A message naming a task: the answer to the question the task waits on."""
        from a2a.types import Message, TaskState
        from a2a.utils.errors import (
            InvalidParamsError,
            TaskNotFoundError,
            UnsupportedOperationError,
        )

        task = self._task(agent, message.task_id)
        if task is None:
            raise TaskNotFoundError(message=f"agent {agent} has no task {message.task_id}")
        if message.context_id and message.context_id != task.context_id:
            raise InvalidParamsError(
                message=f"task {task.id} belongs to contextId {task.context_id}, not "
                f"{message.context_id}: send the task's contextId, or none"
            )
        state = state_name(task)
        if state in TERMINAL:
            raise UnsupportedOperationError(
                message=f"task {task.id} already ended {state}: send a new message without "
                "taskId (same contextId to continue the conversation)"
            )
        if state != INPUT_REQUIRED:
            raise UnsupportedOperationError(
                message=f"task {task.id} is {state}: a message naming a task is taken only while "
                "the task waits for input (TASK_STATE_INPUT_REQUIRED); wait for it, or send a "
                "new message without taskId"
            )
        sent = Message()
        sent.CopyFrom(message)
        sent.context_id, sent.task_id = task.context_id, task.id
        sent.message_id = sent.message_id or uuid.uuid4().hex
        task.history.append(sent)
        task.status.Clear()
        task.status.state = TaskState.TASK_STATE_WORKING
        await self.book.put(task)
        inbox = Message()
        inbox.CopyFrom(sent)
        inbox.message_id = uuid.uuid4().hex  # the client's id may repeat; the inbox's must not
        await self.producer.send(*_request(agent, inbox, self.caller))
        return task

    async def _follow(self, task: Any) -> AsyncGenerator[Any]:
        """The task, then an update per change, until it ends or waits for its client."""
        from a2a.types import TaskArtifactUpdateEvent, TaskStatusUpdateEvent

        with self.book.watch(task.id) as changes:
            task = self.book.get(task.id) or task
            yield task
            artifacts = len(task.artifacts)
            while not is_final(task):
                task = await changes.get()
                for artifact in task.artifacts[artifacts:]:
                    yield TaskArtifactUpdateEvent(
                        task_id=task.id,
                        context_id=task.context_id,
                        artifact=artifact,
                        last_chunk=True,
                    )
                artifacts = len(task.artifacts)
                yield TaskStatusUpdateEvent(
                    task_id=task.id, context_id=task.context_id, status=task.status
                )

    # -- tasks -------------------------------------------------------------------------

    async def on_get_task(self, params: Any, context: Any) -> Any:
        task = self._task(_agent(context), params.id)
        if task is None:
            return None
        if params.HasField("history_length"):
            _keep_history(task, params.history_length)
        return task

    async def on_list_tasks(self, params: Any, context: Any) -> Any:
        from a2a.types import ListTasksResponse
        from a2a.utils.errors import InvalidParamsError

        tasks = self.book.of_agent(_agent(context))
        if params.context_id:
            tasks = [t for t in tasks if t.context_id == params.context_id]
        if params.status:
            tasks = [t for t in tasks if t.status.state == params.status]
        if params.HasField("status_timestamp_after"):
            after = params.status_timestamp_after.ToNanoseconds()
            tasks = [t for t in tasks if t.status.timestamp.ToNanoseconds() > after]
        size = params.page_size if params.HasField("page_size") else PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidParamsError(message=f"pageSize must be 1 to {MAX_PAGE_SIZE}, not {size}")
        start = _page_start(params.page_token)
        page = tasks[start : start + size]
        for task in page:
            if params.HasField("history_length"):
                _keep_history(task, params.history_length)
        more = start + size < len(tasks)
        return ListTasksResponse(
            tasks=page,
            next_page_token=str(start + size) if more else "",
            page_size=size,
            total_size=len(tasks),
        )

    async def on_cancel_task(self, params: Any, context: Any) -> Any:
        from a2a.utils.errors import TaskNotCancelableError

        agent = _agent(context)
        task = self._task(agent, params.id)
        if task is None:
            return None
        if state_name(task) in TERMINAL:
            raise TaskNotCancelableError(
                message=f"task {task.id} already ended {state_name(task)}: it cannot be cancelled"
            )
        if "requester" in task.metadata:
            raise TaskNotCancelableError(
                message=f"task {task.id} was asked for by {task.metadata['requester']}, which "
                "alone may cancel it; the gateway shows it and may answer its questions"
            )
        with self.book.watch(task.id) as changes:
            await self.producer.send(
                *_inbox(agent, cancel_record(task.context_id, task.id, self.caller))
            )
            task = self.book.get(task.id) or task
            try:
                async with asyncio.timeout(self.wait):
                    while state_name(task) not in TERMINAL:
                        task = await changes.get()
            except TimeoutError:
                raise TaskNotCancelableError(
                    message=f"task {task.id} did not end within {self.wait:.0f}s of the cancel"
                ) from None
        return task

    async def on_subscribe_to_task(self, params: Any, context: Any) -> AsyncGenerator[Any]:
        from a2a.utils.errors import TaskNotFoundError, UnsupportedOperationError

        task = self._task(_agent(context), params.id)
        if task is None:
            raise TaskNotFoundError(message=f"no task {params.id}")
        if state_name(task) in TERMINAL:
            raise UnsupportedOperationError(
                message=f"task {task.id} already ended {state_name(task)}: use GetTask"
            )
        async for event in self._follow(task):
            yield event

    def _task(self, agent: str, task_id: str) -> Any | None:
        task = self.book.get(task_id)
        if task is None or task.metadata["agent"] != agent:
            return None
        return task

    # -- what this gateway does not offer ----------------------------------------------

    async def on_create_task_push_notification_config(self, params: Any, context: Any) -> Any:
        raise _no_push()

    async def on_get_task_push_notification_config(self, params: Any, context: Any) -> Any:
        raise _no_push()

    async def on_list_task_push_notification_configs(self, params: Any, context: Any) -> Any:
        raise _no_push()

    async def on_delete_task_push_notification_config(self, params: Any, context: Any) -> None:
        raise _no_push()

    async def on_get_extended_agent_card(self, params: Any, context: Any) -> Any:
        from a2a.utils.errors import ExtendedAgentCardNotConfiguredError

        raise ExtendedAgentCardNotConfiguredError(
            message="this gateway serves only the public card at /.well-known/agent-card.json"
        )


def _agent(context: Any) -> str:
    return str(context.state["agent"])


def _request(agent: str, message: Any, caller: str) -> tuple[str, str, str, dict[str, bytes]]:
    """The inbox record of a client's message: the binding's request, answered to us."""
    from a2a.types import SendMessageRequest

    headers = {
        b.KIND: b.REQUEST_KIND.encode(),
        b.VERSION: b.PROTOCOL_VERSION.encode(),
        b.METHOD: b.SEND_MESSAGE.encode(),
        b.MESSAGE_ID: message.message_id.encode(),
        b.CORRELATION_ID: message.message_id.encode(),
        b.REPLY_TO: REPLIES_TOPIC.encode(),
        b.CALLER: caller.encode(),
        b.DEPTH: b"1",
        b.CHAIN: caller.encode(),
    }
    request = SendMessageRequest(message=message)
    request.metadata.update({b.STATUS_UPDATES: True})  # the gateway follows the task
    return b.inbox_topic(agent), message.context_id, to_json(request), headers


def _inbox(
    agent: str, record: tuple[str, str, dict[str, bytes]]
) -> tuple[str, str, str, dict[str, bytes]]:
    key, value, headers = record
    return b.inbox_topic(agent), key, value, headers


def _trimmed(task: Any, configuration: Any) -> Any:
    if configuration.HasField("history_length"):
        _keep_history(task, configuration.history_length)
    return task


def _keep_history(task: Any, length: int) -> None:
    """Keep the newest ``length`` messages of the history (0: none)."""
    keep = list(task.history)[-length:] if length > 0 else []
    del task.history[:]
    task.history.extend(keep)


def _page_start(token: str) -> int:
    from a2a.utils.errors import InvalidParamsError

    if not token:
        return 0
    if not token.isdigit():
        raise InvalidParamsError(message=f"pageToken {token!r} is not one this gateway gave")
    return int(token)


def _no_push() -> Exception:
    from a2a.utils.errors import PushNotificationNotSupportedError

    return PushNotificationNotSupportedError(
        message="this gateway does not send push notifications"
    )
