"""``flink-agents trace``: a conversation's audit log as a readable trace."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from flink_agents.api.events import KIND_HEADER, events_in, is_step_event, results_only
from flink_agents.cli._context import Context, console, user_errors
from flink_agents.cli._replay import moment_ms
from flink_agents.errors import ConfigError


def trace(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="The app (its events topic is <app>.events).")],
    conversation: Annotated[
        str | None,
        typer.Argument(
            help="The conversation: <agent>/<key>, as in the outputs' context_id (not with "
            "--otlp).",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[bool, typer.Option(help="Keep printing new steps.")] = False,
    width: Annotated[int, typer.Option(help="Characters of text shown per step.")] = 160,
    otlp: Annotated[
        str | None,
        typer.Option(
            help="Export the tasks that ended in --from..--to as OpenTelemetry traces to this "
            "OTLP/HTTP endpoint (http://HOST:4318) instead of printing a conversation.",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str, typer.Option("--from", "--since", help="With --otlp: 15m (ago), ISO 8601 or epoch ms.")
    ] = "1h",
    end: Annotated[
        str, typer.Option("--to", "--until", help="With --otlp: end of the range (exclusive).")
    ] = "now",
    task: Annotated[
        str | None,
        typer.Option(help="With --otlp: only this task id.", show_default=False),
    ] = None,
) -> None:
    """Print every step of a conversation from the events topic, oldest first; or, with
    --otlp, export the tasks of a time range as OpenTelemetry traces.

    A request to a peer agent is followed by the steps of the peer's task (indented), read
    from the events topic the peer's answer names, so a delegation shows across jobs.
    """
    obj: Context = ctx.obj
    topic = f"{app}.events"
    bootstrap = obj.settings.bootstrap_servers
    seen: dict[str, None] = {}
    with user_errors():
        if otlp is not None or conversation is None:
            if otlp is None or conversation is not None or follow:
                raise ConfigError(
                    "give either a conversation (<agent>/<key>) to print, or --otlp ENDPOINT "
                    "(without a conversation or --follow) to export traces"
                )
            _export(bootstrap, app, otlp, moment_ms(start), moment_ms(end), task)
            return
        steps = _conversation(bootstrap, topic, conversation, follow, seen)
        if follow:
            for event in steps:
                console.print(describe(event, width), highlight=False)
            return
        events = list(steps)
        if not events:
            raise ConfigError(no_events(conversation, topic, list(seen)))
        for answer in [e for e in events if e["kind"] == "a2a.reply"]:
            events += _peer_steps(bootstrap, answer, conversation)
        # Results and the operator's events reach the log through different producers, so
        # log order can put an answer before its request: order by when each step happened.
        for event in sorted(events, key=lambda e: e.get("at", 0)):
            console.print(describe(event, width), highlight=False)
        if not any(is_step_event(e) for e in events):
            console.print(
                results_only(
                    topic,
                    f"no steps of {conversation} to trace, only the {len(events)} result(s) above",
                ),
                highlight=False,
            )


def _export(
    bootstrap: str, app: str, endpoint: str, from_ms: int, to_ms: int, task: str | None
) -> None:
    from flink_agents.telemetry import export, spans_in_range, traces_url

    url = traces_url(endpoint)
    spans = spans_in_range(bootstrap, f"{app}.events", from_ms, to_ms, task)
    traces = len({span.trace_id for span in spans})
    sent = export(spans, endpoint, service=app)
    console.print(f"exported {traces} trace(s), {sent} span(s) to {url}", highlight=False)


def no_events(conversation: str, topic: str, seen: list[str]) -> str:
    """What to say when a conversation has no events: the form of a context id, and some
    that the topic has.

    >>> no_events("card-7", "fraud.events", ["triage/card-1", "triage/card-2"])
    "no events for context id 'card-7' in fraud.events. A context id is <agent>/<key>, as in \
the outputs' task.context_id; this topic has 2, e.g. triage/card-1, triage/card-2"
    """
    form = "A context id is <agent>/<key>, as in the outputs' task.context_id"
    if not seen:
        return f"no events for context id {conversation!r}: {topic} is empty. {form}"
    examples = ", ".join(seen[:5])
    return (
        f"no events for context id {conversation!r} in {topic}. {form}; "
        f"this topic has {len(seen)}, e.g. {examples}"
    )


def _key_of(record: Any, seen: dict[str, None]) -> str:
    key: str = record.key().decode(errors="replace") if record.key() else ""
    if key:
        seen.setdefault(key)
    return key


def _conversation(
    bootstrap: str, topic: str, key: str, follow: bool = False, seen: dict[str, None] | None = None
) -> Any:
    for record in _records(bootstrap, topic, follow):
        if _key_of(record, {} if seen is None else seen) == key:
            yield from _events(record)


def _events(record: Any) -> list[dict[str, Any]]:
    """The events of an events-topic record, each with ``kind`` and ``at``; a peer's A2A
    answer (which has neither in its value) gets them from its header and timestamp."""
    kind = dict(record.headers() or []).get(KIND_HEADER)
    events = events_in(kind, record.value())
    for event in events:
        event.setdefault("kind", "?")
        event.setdefault("at", record.timestamp()[1] / 1000)
    return events


def _peer_steps(bootstrap: str, answer: dict[str, Any], conversation: str) -> list[dict[str, Any]]:
    """The steps of the peer task that gave ``answer``, marked one level deeper."""
    task = answer.get("task") or {}
    meta = task.get("metadata") or {}
    topic, agent = meta.get("eventsTopic"), meta.get("agent")
    if not (topic and agent and task.get("id")):
        return []
    try:
        steps = list(_conversation(bootstrap, topic, f"{agent}/{conversation}"))
    except ConfigError:
        return []  # the peer's log is not readable from here: show the answer alone
    return [{**e, "depth": 1} for e in steps if e.get("task_id") == task["id"]]


def describe(event: dict[str, Any], width: int = 160) -> str:
    """One line for one event.

    >>> describe({"kind": "tool.result", "at": 0, "task_id": "1f0c9a2b-77", "step": 2,
    ...           "call": 0, "tool": "merchant_risk", "content": '{"risk_score": 0.9}'})
    '00:00:00.000  1f0c9a2b  2.0 tool.result      merchant_risk -> {"risk_score": 0.9}'
    """
    at = datetime.fromtimestamp(event.get("at", 0), UTC).strftime("%H:%M:%S.%f")[:-3]
    step = f"{event.get('step', 0)}" + (f".{event['call']}" if "call" in event else "")
    task = event.get("task_id") or (event.get("task") or {}).get("id", "")
    indent = "  " * int(event.get("depth", 0))
    head = f"{indent}{at}  {str(task)[:8]}  {step:<3} {event['kind']:<16}"
    return f"{head} {_summary(event)[:width]}"


def _summary(event: dict[str, Any]) -> str:
    kind = event["kind"]
    if kind == "task.accepted":
        return json.dumps(event.get("input"), ensure_ascii=False)
    if kind == "model.request":
        added = event.get("messages") or []
        last = added[-1] if added else {}
        return f"{event.get('model')}: +{len(added)} message(s), last {last.get('role')}: " + str(
            last.get("content") or last.get("tool_calls") or ""
        )
    if kind == "model.response":
        if event.get("error"):
            return f"ERROR {event['error'].get('message')}"
        message = event.get("message") or {}
        calls = message.get("tool_calls") or []
        usage = event.get("usage") or {}
        tokens = f"[{usage.get('prompt_tokens', 0)}+{usage.get('completion_tokens', 0)} tokens]"
        if calls:
            names = ", ".join(f"{c['name']}({c['arguments']})" for c in calls)
            return f"{tokens} calls {names}"
        return f"{tokens} {message.get('content')}"
    if kind == "tool.request":
        return f"{event.get('tool')}({event.get('arguments')})"
    if kind == "tool.result":
        error = "ERROR " if event.get("is_error") else ""
        return f"{event.get('tool')} -> {error}{event.get('content')}"
    if kind == "a2a.request":
        return f"-> {event.get('peer')}: {event.get('text')}"
    if kind == "a2a.reply":
        task = event.get("task") or {}
        status = task.get("status") or {}
        return f"<- {(task.get('metadata') or {}).get('agent')}: {status.get('state')}"
    if kind == "a2a.answered":
        error = "ERROR " if event.get("is_error") else ""
        return f"{event.get('peer')} -> {error}{event.get('content')}"
    if kind == "a2a.rejected":
        return f"REJECTED {event.get('caller')}: {event.get('reason')}"
    if kind == "task.completed":
        return json.dumps(event.get("output"), ensure_ascii=False)
    if kind == "task.failed":
        return f"FAILED {event.get('reason')}"
    if kind == "task.canceled":
        return f"CANCELED {event.get('reason')}"
    if kind == "task.input_required":
        return f"ASKS {event.get('question')}"
    if kind == "task.resumed":
        return f"{event.get('caller')} ANSWERS {event.get('answer')}"
    return json.dumps(event, ensure_ascii=False)


def _records(bootstrap: str, topic: str, follow: bool) -> Any:
    """The topic's records from the beginning: up to its end now, or on and on with follow."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"flink-agents-trace-{time.time_ns()}",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    except KafkaException as exc:
        raise ConfigError(f"Kafka at {bootstrap} did not answer: {exc}") from None
    if metadata is None or metadata.error is not None:
        raise ConfigError(f"there is no topic {topic}: is the app name right?")
    partitions = [TopicPartition(topic, p) for p in metadata.partitions]
    ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in partitions}
    starts = [TopicPartition(topic, p.partition, 0) for p in partitions]
    consumer.assign(starts)
    remaining = {p for p, end in ends.items() if end > 0}
    try:
        while follow or remaining:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            partition, offset = message.partition() or 0, message.offset() or 0
            if offset + 1 >= ends[partition]:
                remaining.discard(partition)
            yield message
    finally:
        consumer.close()
