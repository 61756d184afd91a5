"""The schema-driven default model: a script that needs no writing.

On a task's first turn it calls every tool it is offered once, with arguments made from the
tool's JSON schema; on the next turn it answers with a value made from the output schema
(or, for a free-text agent, with the task's tool results as JSON). Its answers are valid,
not wise: it shows that an agent's tools, schemas and output records fit together.
"""

from __future__ import annotations

import json
from typing import Any

from flink_agents.testing._model_script import ChatRequest, Reply, ToolCall
from flink_agents.testing._task_view import decoded

_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def default_model(req: ChatRequest) -> Reply:
    """Call each offered tool once, then answer to fit the output schema.

    >>> tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
    ...     "type": "object", "properties": {"id": {"type": "integer", "minimum": 3}},
    ...     "required": ["id"]}}}]
    >>> schema = {"type": "object", "properties": {"ok": {"type": "boolean"}},
    ...           "required": ["ok"]}
    >>> form = {"type": "json_schema", "json_schema": {"name": "Out", "schema": schema}}
    >>> first = ChatRequest(messages=[{"role": "user", "content": "go"}], tools=tools,
    ...                     response_format=form)
    >>> default_model(first).calls
    (ToolCall(name='lookup', arguments={'id': 3}, id=None),)
    >>> done = ChatRequest(messages=[
    ...     {"role": "user", "content": "go"},
    ...     {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type":
    ...      "function", "function": {"name": "lookup", "arguments": '{"id": 3}'}}]},
    ...     {"role": "tool", "tool_call_id": "c", "content": "found"}],
    ...     tools=tools, response_format=form)
    >>> default_model(done).content
    '{"ok": true}'
    """
    task = req.task
    if task.turn == 0 and req.tools:
        calls = [
            ToolCall(name, sample_value(parameters, parameters))
            for name, parameters in _offered(req.tools)
        ]
        if calls:
            return Reply.tool_calls(calls)
    schema = _output_schema(req)
    if schema is not None:
        return Reply.json(sample_value(schema, schema))
    results = {r.name or r.call_id: decoded(r.content) for r in task.tool_results}
    return Reply.text(json.dumps(results) if results else task.input_text)


def sample_value(schema: dict[str, Any], root: dict[str, Any], field: str = "value") -> Any:
    """A value valid for a JSON schema: the first enum member, the smallest number allowed,
    a string named after its field; objects with every property, arrays with the fewest
    items allowed. ``$ref`` is resolved against ``root``. Patterns are not honoured.

    >>> schema = {"type": "object", "properties": {
    ...     "decision": {"enum": ["APPROVE", "BLOCK"]},
    ...     "score": {"type": "number", "minimum": 0.5},
    ...     "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ...     "note": {"anyOf": [{"type": "string", "minLength": 6}, {"type": "null"}]}}}
    >>> sample_value(schema, schema)
    {'decision': 'APPROVE', 'score': 0.5, 'tags': ['tags'], 'note': 'notexx'}
    """
    if "$ref" in schema:
        return sample_value(_resolve(schema["$ref"], root), root, field)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        chosen = next((o for o in options if o.get("type") != "null"), options[0])
        return sample_value(chosen, root, field)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _by_type(kind, schema, root, field)


def _by_type(kind: str, schema: dict[str, Any], root: dict[str, Any], field: str) -> Any:
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: sample_value(prop, root, name) for name, prop in properties.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [sample_value(schema.get("items") or {}, root, field) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, field)


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    low = schema.get("minimum")
    if low is None and "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + (1 if integer else 0.5)
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value = low if low is not None else (min(0, high - 1) if high is not None else 0)
    return int(value) if integer else value


def _string(schema: dict[str, Any], field: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    text = field
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    text = text.ljust(low, "x")
    return text[: int(high)] if high is not None else text


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    if not isinstance(node, dict):
        raise ValueError(f"the schema reference {ref} does not name a schema")
    return node


def _offered(tools: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    offered = []
    for tool in tools:
        inner = tool.get("function")
        function: dict[str, Any] = inner if isinstance(inner, dict) else tool
        name = function.get("name")
        if isinstance(name, str):
            offered.append((name, function.get("parameters") or {"type": "object"}))
    return offered


def _output_schema(req: ChatRequest) -> dict[str, Any] | None:
    """The output schema from ``response_format``, or from the system prompt when the
    agent sends it there (``structured_output="prompt"`` or ``"json_object"``)."""
    form = req.response_format or {}
    schema = (form.get("json_schema") or {}).get("schema")
    if isinstance(schema, dict):
        return schema
    last_line = (req.system_text or "").rstrip().rsplit("\n", 1)[-1]
    if last_line.startswith("{"):
        try:
            found = json.loads(last_line)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None
    return None
