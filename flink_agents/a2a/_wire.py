"""A2A 1.0 records of the Kafka binding, built and read with the ``a2a-sdk`` types.

A delegation becomes a ``SendMessageRequest`` (JSON, camelCase as the spec's JSON binding
writes it); an answer becomes a ``StreamResponse`` holding the peer's ``Task``. Reading
checks the shape with the same types, so a record that is not A2A is refused with the
reason.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message as ProtoMessage

from flink_agents.a2a import _binding as b
from flink_agents.core import FAILED, Cancel, Delegation, PeerAnswer, Reply, ReplyTo

Headers = dict[str, bytes]


def to_json(message: ProtoMessage) -> str:
    """A protobuf message of the SDK as the spec's JSON (camelCase, enum names)."""
    return json.dumps(json_format.MessageToDict(message), ensure_ascii=False)


def request_record(delegation: Delegation, reply_to: str) -> tuple[str, str, Headers]:
    """The inbox record of a delegation: key (contextId), value and headers.

    >>> d = Delegation(caller="triage", peer="review", context_id="triage/card-1",
    ...                message_id="t/1.0/a2a.request", text="Check it.", chain=("triage",))
    >>> key, value, headers = request_record(d, "fraud.events")
    >>> key, json.loads(value)["message"]["parts"], headers["a2a-reply-to"]
    ('triage/card-1', [{'text': 'Check it.'}], b'fraud.events')
    """
    from a2a.types import Message, Part, Role, SendMessageRequest

    request = SendMessageRequest(
        message=Message(
            message_id=delegation.message_id,
            context_id=delegation.context_id,
            role=Role.ROLE_USER,
            parts=[Part(text=delegation.text)],
        )
    )
    headers = {
        b.KIND: b.REQUEST_KIND.encode(),
        b.VERSION: b.PROTOCOL_VERSION.encode(),
        b.MESSAGE_ID: delegation.message_id.encode(),
        b.CORRELATION_ID: delegation.message_id.encode(),
        b.REPLY_TO: reply_to.encode(),
        b.CALLER: delegation.caller.encode(),
        b.DEPTH: str(delegation.depth).encode(),
        b.CHAIN: ",".join(delegation.chain).encode(),
        b.TRACEPARENT: traceparent(delegation.task_id, delegation.step).encode(),
    }
    return delegation.context_id, to_json(request), headers


def cancel_record(context_id: str, task_id: str, caller: str) -> tuple[str, str, Headers]:
    """The inbox record asking an agent to cancel its task ``task_id``: key, value, headers.

    It goes to the inbox with the task's ``contextId`` as key, so it reaches the key (and
    the Flink state) that runs the task, after the request that started it.

    >>> key, value, headers = cancel_record("ctx-1", "t9", "a2a-gateway")
    >>> key, json.loads(value), headers["a2a-method"]
    ('ctx-1', {'id': 't9'}, b'CancelTask')
    """
    from a2a.types import CancelTaskRequest

    headers = {
        b.KIND: b.REQUEST_KIND.encode(),
        b.VERSION: b.PROTOCOL_VERSION.encode(),
        b.METHOD: b.CANCEL_TASK.encode(),
        b.CALLER: caller.encode(),
    }
    return context_id, to_json(CancelTaskRequest(id=task_id)), headers


def is_cancel(envelope: dict[str, Any]) -> bool:
    """Whether an inbox record (as the inbox query hands it over) asks to cancel a task."""
    headers = envelope.get("headers") or {}
    return bool(headers.get(b.METHOD) == b.CANCEL_TASK)


def parse_cancel(envelope: dict[str, Any]) -> Cancel:
    """A ``CancelTask`` record of an inbox; raises ``ValueError`` when it is not one.

    >>> parse_cancel({"headers": {"a2a-method": "CancelTask", "a2a-version": "1.0",
    ...               "a2a-caller": "gw"}, "request": {"id": "t9"}})
    Cancel(task_id='t9', caller='gw')
    """
    from a2a.types import CancelTaskRequest

    headers = envelope.get("headers") or {}
    _check_version(headers)
    try:
        request = json_format.ParseDict(
            envelope.get("request"), CancelTaskRequest(), ignore_unknown_fields=True
        )
    except json_format.ParseError as exc:
        raise ValueError(f"not an A2A CancelTaskRequest: {exc}") from None
    if not request.id:
        raise ValueError("an A2A CancelTaskRequest needs the id of the task to cancel")
    return Cancel(task_id=request.id, caller=headers.get(b.CALLER) or "anonymous")


def _check_version(headers: dict[str, Any]) -> None:
    version = headers.get(b.VERSION) or "0.3"
    if version.split(".")[0] != b.PROTOCOL_VERSION.split(".")[0]:
        raise ValueError(f"A2A version {version} is not supported (supported: 1.0)")


def parse_request(envelope: dict[str, Any]) -> tuple[Any, ReplyTo]:
    """A request as the inbox query hands it over: the input payload and whom to answer.

    Raises ``ValueError`` saying what is missing or malformed.
    """
    from a2a.types import SendMessageRequest

    headers = envelope.get("headers") or {}
    try:
        request = json_format.ParseDict(
            envelope.get("request"), SendMessageRequest(), ignore_unknown_fields=True
        )
    except json_format.ParseError as exc:
        raise ValueError(f"not an A2A SendMessageRequest: {exc}") from None
    _check_version(headers)
    message = request.message
    message_id = message.message_id or headers.get(b.MESSAGE_ID)
    reply_to = headers.get(b.REPLY_TO)
    if not message_id or not reply_to:
        raise ValueError("an A2A request needs a message id and the a2a-reply-to header")
    if not message.parts:
        raise ValueError(f"A2A message {message_id} has no parts")
    chain = tuple(c for c in (headers.get(b.CHAIN) or "").split(",") if c)
    try:
        depth = int(headers.get(b.DEPTH) or 1)
    except ValueError:
        raise ValueError(f"header {b.DEPTH} is not a number: {headers.get(b.DEPTH)!r}") from None
    reply = ReplyTo(
        reply_to=reply_to,
        correlation_id=headers.get(b.CORRELATION_ID) or message_id,
        caller=headers.get(b.CALLER) or "anonymous",
        message_id=message_id,
        depth=depth,
        chain=chain,
        task_id=message.task_id,
        updates=_wants_updates(request),
    )
    return _payload(message.parts), reply


def _wants_updates(request: Any) -> bool:
    """Whether the requester follows the task (``metadata.statusUpdates``: a gateway does)."""
    flag = request.metadata.fields.get(b.STATUS_UPDATES)
    return flag is not None and flag.bool_value


def _payload(parts: Any) -> Any:
    """One data part is the input as it is; otherwise the text of the parts."""
    if len(parts) == 1 and parts[0].HasField("data"):
        return json_format.MessageToDict(parts[0].data)
    return _parts_text(parts)


def reply_record(reply: Reply, events_topic: str) -> tuple[str, str, str, Headers]:
    """The answer to a request: topic, key (contextId), value (a ``StreamResponse``), headers.

    A final answer (a terminal or interrupted state) holds the task; progress (WORKING) is a
    status update.

    >>> r = Reply(agent="review", reply_to="fraud.events", context_id="triage/card-1",
    ...           correlation_id="m1", task_id="t9", state="TASK_STATE_COMPLETED",
    ...           output={"verdict": "ok"}, message_id="m1")
    >>> topic, key, value, headers = reply_record(r, "review.events")
    >>> task = json.loads(value)["task"]
    >>> topic, task["status"]["state"], task["artifacts"][0]["parts"], headers["a2a-correlation-id"]
    ('fraud.events', 'TASK_STATE_COMPLETED', [{'data': {'verdict': 'ok'}}], b'm1')
    """
    from a2a.types import StreamResponse

    headers = {
        b.KIND: b.REPLY_KIND.encode(),
        b.VERSION: b.PROTOCOL_VERSION.encode(),
        b.CORRELATION_ID: reply.correlation_id.encode(),
        b.CALLER: reply.agent.encode(),
    }
    if reply.final:
        response = StreamResponse(task=reply_task(reply, events_topic))
    else:
        response = StreamResponse(status_update=_status_update(reply))
    return reply.reply_to, reply.context_id, to_json(response), headers


def _status_update(reply: Reply) -> Any:
    from a2a.types import TaskStatusUpdateEvent

    update = TaskStatusUpdateEvent(
        task_id=reply.task_id, context_id=reply.context_id, status=_status(reply)
    )
    update.metadata.update(_shown(reply))
    return update


def _shown(reply: Reply) -> dict[str, str]:
    """A copy for the gateway names the agent, its requester and the request, so the
    gateway can show a task it did not start; other answers carry none of it."""
    if not reply.requester:
        return {}
    return {"agent": reply.agent, "requester": reply.requester, "request": reply.request}


def _status_message_id(reply: Reply) -> str:
    """Deterministic, so an answer written twice adds one message to the task's history."""
    digest = hashlib.sha256(f"{reply.state}\x1f{reply.error}".encode()).hexdigest()[:12]
    return f"{reply.task_id}/status/{digest}"


def _status(reply: Reply) -> Any:
    """The task's status: its state, and the reason, question or progress as its message."""
    from a2a.types import Message, Part, Role, TaskStatus

    status = TaskStatus(state=reply.state)
    if reply.error:
        status.message.CopyFrom(
            Message(
                message_id=_status_message_id(reply),
                context_id=reply.context_id,
                task_id=reply.task_id,
                role=Role.ROLE_AGENT,
                parts=[Part(text=reply.error)],
            )
        )
    return status


def reply_task(reply: Reply, events_topic: str) -> Any:
    """The peer's A2A ``Task`` for an answer: status, the output as an artifact, and where
    its steps are logged (``metadata``), which ``flink-agents trace`` follows."""
    from a2a.types import Artifact, Part, Task

    task = Task(id=reply.task_id, context_id=reply.context_id, status=_status(reply))
    if reply.output is not None:
        text = reply.output.get("text") if set(reply.output) == {"text"} else None
        part = Part(text=str(text)) if text is not None else _data_part(reply.output)
        task.artifacts.append(Artifact(artifact_id="output", name="output", parts=[part]))
    task.metadata.update(
        {"agent": reply.agent, "eventsTopic": events_topic, "requestMessageId": reply.message_id}
    )
    task.metadata.update(_shown(reply))
    return task


def _data_part(data: dict[str, Any]) -> Any:
    from a2a.types import Part

    part = Part()
    part.data.struct_value.update(data)
    return part


def parse_answer(wrapped: dict[str, Any]) -> PeerAnswer:
    """An answer as the reply query hands it over; raises ``ValueError`` when it is not one."""
    from a2a.types import StreamResponse

    correlation = wrapped.get("correlation_id")
    if not correlation:
        raise ValueError(f"an A2A reply without the {b.CORRELATION_ID} header")
    try:
        response = json_format.ParseDict(
            wrapped.get("response"), StreamResponse(), ignore_unknown_fields=True
        )
    except json_format.ParseError as exc:
        raise ValueError(f"not an A2A StreamResponse: {exc}") from None
    which = response.WhichOneof("payload")
    if which == "task":
        task = response.task
        text = _artifacts_text(task.artifacts) or _message_text(task.status.message)
        state = _state_name(task.status.state)
        return PeerAnswer(correlation_id=correlation, state=state, text=text, peer_task_id=task.id)
    if which == "status_update":
        update = response.status_update
        return PeerAnswer(
            correlation_id=correlation,
            state=_state_name(update.status.state),
            text=_message_text(update.status.message),
            peer_task_id=update.task_id,
        )
    if which == "message":
        # A peer may answer with a message instead of a task: that is a completed answer.
        return PeerAnswer(
            correlation_id=correlation,
            state="TASK_STATE_COMPLETED",
            text=_message_text(response.message),
        )
    if which == "artifact_update":
        return PeerAnswer(correlation_id=correlation, state="TASK_STATE_WORKING")
    return PeerAnswer(correlation_id=correlation, state=FAILED, text="an empty A2A reply")


def _state_name(state: int) -> str:
    from a2a.types import TaskState

    return str(TaskState.Name(state))


def _artifacts_text(artifacts: Any) -> str:
    return "\n".join(_parts_text(a.parts) for a in artifacts)


def _message_text(message: Any) -> str:
    return _parts_text(message.parts)


def _parts_text(parts: Any) -> str:
    texts = []
    for part in parts:
        if part.HasField("data"):
            texts.append(json.dumps(json_format.MessageToDict(part.data), ensure_ascii=False))
        elif part.HasField("url"):
            texts.append(part.url)
        else:
            texts.append(part.text)
    return "\n".join(texts)


def traceparent(task_id: str, step: int) -> str:
    """A W3C ``traceparent`` naming the calling task (trace) and step (parent span).

    >>> traceparent("1f0c9a2b-77aa-4b1e-9d1c-5a2c1e6d7a10", 2)
    '00-1f0c9a2b77aa4b1e9d1c5a2c1e6d7a10-0000000000000002-01'
    """
    trace = task_id.replace("-", "")[:32].rjust(32, "0")
    return f"00-{trace}-{step:016x}-01"
