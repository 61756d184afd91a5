"""Agent specs from YAML or JSON files, validated with errors that point at the field.

.. code-block:: yaml

    name: fraud-triage
    instructions: Decide APPROVE, REVIEW or BLOCK for each card transaction.
    model: {model: gpt-4o-mini, base_url: http://127.0.0.1:8000/v1}
    tools:
      - jobs.fraud_triage:risk_score              # a @tool function, by import path
      - mcp: {stdio: [python, -m, jobs.tools.customer_server], allowed_tools: [customer_profile]}
      - mcp: {http: http://127.0.0.1:8765/mcp}
    output: jobs.fraud_triage:Decision            # a pydantic model, or an inline JSON schema
    memory: {window: 20, ttl: 7d}
    limits: {max_steps: 8, call_timeout: 30s}
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from flink_agents.api._agent import Agent
from flink_agents.api._mcp import McpServer
from flink_agents.api._tools import FunctionTool
from flink_agents.errors import SpecError, explain

_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}


def load_agent(path: str | Path) -> Agent:
    """Read an agent spec from a ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read agent spec {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SpecError(f"{path} is not valid {path.suffix.lstrip('.').upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: an agent spec is a mapping, not {type(data).__name__}")
    return agent_from_dict(data, source=str(path))


def agent_from_dict(data: dict[str, Any], source: str = "agent spec") -> Agent:
    """Build an ``Agent`` from plain data (the parsed file)."""
    spec = dict(data)
    try:
        spec["tools"] = [_tool(item, i) for i, item in enumerate(spec.get("tools") or [])]
        if isinstance(spec.get("output"), str):
            spec["output"] = _import(spec["output"], "output")
        elif isinstance(spec.get("output"), dict):
            spec["output"] = model_from_schema(spec["output"])
        return Agent.model_validate(spec)
    except ValidationError as exc:
        raise SpecError(f"{source}: {explain(exc)}") from None
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


def _tool(item: Any, index: int) -> FunctionTool | McpServer:
    where = f"tools.{index}"
    if isinstance(item, str):
        found = _import(item, where)
        if not isinstance(found, FunctionTool):
            raise SpecError(f"{where}: {item} is not a @tool function")
        return found
    if isinstance(item, dict) and set(item) == {"mcp"} and isinstance(item["mcp"], dict):
        server = dict(item["mcp"])
        allowed = server.pop("allowed_tools", None)
        if "stdio" in server:
            command = server.pop("stdio")
            if isinstance(command, str):
                command = command.split()
            return McpServer.stdio(*command, allowed_tools=allowed, **server)
        if "http" in server:
            return McpServer.http(server.pop("http"), allowed_tools=allowed, **server)
    raise SpecError(
        f"{where}: write a tool as 'module:function', or as "
        "{mcp: {stdio: [command, args...]}} or {mcp: {http: URL}}"
    )


def _import(path: str, where: str) -> Any:
    module_name, _, attr = path.partition(":")
    if not attr:
        raise SpecError(f"{where}: {path!r} is not of the form 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"{where}: cannot import {module_name}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SpecError(f"{where}: {module_name} has no {attr!r}") from None


def model_from_schema(schema: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model for a flat JSON object schema (string, number, integer, boolean, enum).

    >>> properties = {"decision": {"enum": ["APPROVE", "BLOCK"]}, "reason": {"type": "string"}}
    >>> Decision = model_from_schema(
    ...     {"title": "Decision", "properties": properties, "required": ["decision"]})
    >>> Decision(decision="BLOCK").model_dump()
    {'decision': 'BLOCK', 'reason': None}
    """
    if schema.get("type", "object") != "object" or not isinstance(schema.get("properties"), dict):
        raise SpecError("output: an inline schema is a JSON object schema with properties")
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for field, prop in schema["properties"].items():
        annotation = _annotation(field, prop)
        default = ... if field in required else None
        if default is None:
            annotation = annotation | None
        fields[field] = (annotation, Field(default, description=prop.get("description")))
    title = str(schema.get("title", "Output"))
    model: type[BaseModel] = create_model(title, __config__=ConfigDict(extra="forbid"), **fields)
    return model


def _annotation(field: str, prop: dict[str, Any]) -> Any:
    if "enum" in prop:
        return Literal[tuple(prop["enum"])]
    kind = prop.get("type")
    if kind in _TYPES:
        return _TYPES[kind]
    if kind == "array" and isinstance(prop.get("items"), dict):
        return list[_annotation(field, prop["items"])]  # type: ignore[misc]
    raise SpecError(f"output.{field}: type {kind!r} is not supported in an inline schema")
