"""Agent specs from YAML or JSON files, validated with errors that point at the field.

.. code-block:: yaml

    name: fraud-triage
    instructions: Decide APPROVE, REVIEW or BLOCK for each card transaction.
    model: {model: gpt-4o-mini, base_url: http://127.0.0.1:8000/v1}   # or just: gpt-4o-mini
    tools:
      - jobs.fraud_triage:risk_score              # a @tool function, by import path
      - mcp: {stdio: [python, -m, jobs.tools.customer_server], allowed_tools: [customer_profile]}
      - mcp: {http: http://127.0.0.1:8765/mcp}
    output: jobs.fraud_triage:Decision            # a pydantic model, or an inline JSON schema
    memory: {window: 20, ttl: 7d}
    limits: {max_steps: 8, call_timeout: 30s}
    # reflection: {critic: Accept only ..., max_iterations: 3, critic_model: gpt-4o}
"""

from __future__ import annotations

import difflib
import importlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from flink_agents.api._agent import Agent, Limits, Memory
from flink_agents.api._mcp import McpServer
from flink_agents.api._model import OpenAIModel
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
    """Build an ``Agent`` from plain data (the parsed file).

    Every mistake names the source, the field path and, for a misspelt field, the field
    meant. A model (and a critic's ``critic_model``) may be given by name alone.

    >>> agent_from_dict({"name": "a", "instructions": "x", "model": "gpt-4o-mini"}).model.model
    'gpt-4o-mini'
    >>> judged = agent_from_dict({"name": "a", "instructions": "x", "model": "gpt-4o-mini",
    ...     "reflection": {"critic": "Judge.", "critic_model": "gpt-4o"}})
    >>> judged.reflection.critic_model.model
    'gpt-4o'
    >>> agent_from_dict({"name": "a", "instructions": "x", "model": "m", "memory": {"windw": 3}})
    Traceback (most recent call last):
    ...
    flink_agents.errors.SpecError: agent spec: memory.windw: unknown field; did you mean 'window'?
    """
    spec = dict(data)
    try:
        _check_fields(spec, _AGENT_FIELDS, "")
        if isinstance(spec.get("model"), str):
            spec["model"] = {"model": spec["model"]}
        reflection = spec.get("reflection")
        if isinstance(reflection, dict) and isinstance(reflection.get("critic_model"), str):
            spec["reflection"] = reflection | {
                "critic_model": {"model": reflection["critic_model"]}
            }
        for section, model in _SECTIONS.items():
            if isinstance(spec.get(section), dict):
                _check_fields(spec[section], set(model.model_fields), f"{section}.")
        tools = spec.get("tools") or []
        if not isinstance(tools, list):
            raise SpecError("tools: a list of tools, each 'module:function' or {mcp: {...}}")
        spec["tools"] = [_tool(item, i) for i, item in enumerate(tools)]
        if isinstance(spec.get("output"), str):
            spec["output"] = _import(spec["output"], "output")
        elif isinstance(spec.get("output"), dict):
            spec["output"] = model_from_schema(spec["output"])
        return Agent.model_validate(spec)
    except ValidationError as exc:
        raise SpecError(f"{source}: {explain(exc)}") from None
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


_AGENT_FIELDS = set(Agent.model_fields)
_SECTIONS: dict[str, type[BaseModel]] = {"model": OpenAIModel, "memory": Memory, "limits": Limits}
_MCP_FIELDS = {
    "stdio": {"stdio", "env", "secret_env", "cwd", "allowed_tools", "name", "no_retry"},
    "http": {"http", "headers", "secret_headers", "allowed_tools", "name", "no_retry"},
}


def _check_fields(given: dict[str, Any], known: set[str], where: str) -> None:
    """Refuse fields no one reads, suggesting the one meant (``windw`` -> ``window``)."""
    for name in given:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(sorted(known))}"
        )
        raise SpecError(f"{where}{name}: unknown field; {hint}")


def _tool(item: Any, index: int) -> FunctionTool | McpServer:
    where = f"tools.{index}"
    if isinstance(item, str):
        found = _import(item, where)
        if not isinstance(found, FunctionTool):
            raise SpecError(f"{where}: {item} is not a @tool function")
        return found
    if isinstance(item, dict) and set(item) == {"mcp"} and isinstance(item["mcp"], dict):
        return _mcp(dict(item["mcp"]), f"{where}.mcp")
    if isinstance(item, dict) and len(item) == 1:
        _check_fields(item, {"mcp"}, f"{where}.")
    raise SpecError(
        f"{where}: write a tool as 'module:function', or as "
        "{mcp: {stdio: [command, args...]}} or {mcp: {http: URL}}"
    )


def _mcp(server: dict[str, Any], where: str) -> McpServer:
    transports = [t for t in _MCP_FIELDS if t in server]
    if len(transports) != 1:
        raise SpecError(f"{where}: give exactly one of stdio: [command, args...] or http: URL")
    transport = transports[0]
    _check_fields(server, _MCP_FIELDS[transport], f"{where}.")
    target = server.pop(transport)
    allowed = server.pop("allowed_tools", None)
    try:
        if transport == "http":
            return McpServer.http(target, allowed_tools=allowed, **server)
        command = target.split() if isinstance(target, str) else target
        if not isinstance(command, list) or not command:
            raise SpecError(f"{where}.stdio: a command and its arguments, e.g. [python, -m, x]")
        return McpServer.stdio(*map(str, command), allowed_tools=allowed, **server)
    except ValidationError as exc:
        raise SpecError(f"{where}: {explain(exc)}") from None


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
