"""Catalog definitions into the same spec objects Python users write.

A connection and a model become an ``OpenAIModel``; an MCP connection used by a tool becomes
an ``McpServer``; a function tool becomes a ``FunctionTool`` (``@tool``); an agent becomes an
``Agent``. Option values are checked here, so a bad value is reported where it was written.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from flink_agents.api import (
    AGENT_NAME,
    ANY_CALLER,
    Agent,
    FunctionTool,
    Limits,
    McpServer,
    Memory,
    OpenAIModel,
    Reflection,
    model_from_schema,
)
from flink_agents.core import is_url
from flink_agents.errors import SpecError, explain
from flink_agents.sql._ast import Kind
from flink_agents.sql._catalog import Catalog, Entry
from flink_agents.sql._errors import Position, SqlError
from flink_agents.sql._rowtype import RowTypeError, row_schema

#: Options each kind accepts; the ones marked ``ours`` are this project's additions.
OPTIONS: dict[str, dict[str, str]] = {
    "connection": {
        "type": "openai | mcp_server | a2a",
        "endpoint": "base URL of the model API, MCP server URL, (STDIO) the command line, or "
        "(a2a) an agent's name or a remote agent's URL",
        "api-key": "secret: the model API key (stored, shown redacted)",
        "token": "secret: bearer token for an MCP server over HTTP",
        "transport-type": "STREAMABLE_HTTP (default) | STDIO | SSE",
        "api-key-env": "ours: environment variable of the workers that holds the key",
        "cwd": "ours: working directory of a STDIO server",
    },
    "model": {
        "provider": "openai",
        "task": "text_generation",
        "openai.connection": "the connection (type openai)",
        "openai.model_version": "the model name, default gpt-4o-mini",
        "openai.temperature": "0..2",
        "openai.max_tokens": "a positive integer",
        "openai.timeout": "ours: time per call, e.g. 30s",
        "openai.structured_output": "ours: json_schema | json_object | prompt",
    },
    "tool_function": {
        "type": "function",
        "description": "what the model reads about the tool (default: the docstring)",
    },
    "tool_connection": {
        "type": "mcp | a2a",
        "allowed_tools": "mcp: comma-separated names of the server's tools the agent may call",
        "request_timeout": "seconds a call (mcp) or a request to the peer (a2a) may take",
    },
    "agent": {
        "max_iterations": "model calls per task (Limits.max_steps)",
        "max_consecutive_failures": "further attempts of a failing call (Limits.max_retries)",
        "memory.window": "ours: past messages per memory key the prompt sees",
        "memory.ttl": "ours: forget a key after this long without a task, e.g. 7d",
        "output.schema": "ours: JSON Schema of the response (validated structured output)",
        "output.row": "ours: the response's row type, e.g. ROW<decision STRING NOT NULL, ...>",
        "output.table": "ours: a table whose columns are the response's fields",
        "output.table.except": "ours: columns of output.table that are not answer fields",
        "call_timeout": "ours: time per model or tool call, e.g. 30s",
        "max_in_flight": "ours: calls running at once for this agent per worker",
        "a2a.callers": "ours: comma-separated agents whose A2A requests it accepts, * for any",
        "a2a.peer_timeout": "ours: how long a request to a peer may wait, e.g. 2m",
        "a2a.max_delegation_depth": "ours: longest chain of requests a task may start",
        "a2a.show_in_gateway": "ours: true shows the tasks other agents ask for in the gateway",
    },
}

Where = Callable[[str], Position]


@dataclass
class CompiledAgent:
    """An agent ready for ``AgentApp``, and the secrets its workers need, by variable name."""

    agent: Agent
    secrets: dict[str, str] = field(default_factory=dict)


def option_table(entry_kind: Kind, using: str | None = None) -> dict[str, str]:
    if entry_kind == "tool":
        return OPTIONS["tool_function" if using == "function" else "tool_connection"]
    return OPTIONS[entry_kind]


def check_options(entry: Entry, where: Where) -> None:
    """Unknown options are errors that list the known ones."""
    known = option_table(entry.kind, entry.using)
    for key in entry.options:
        if key not in known:
            raise SqlError(
                f"unknown option '{key}' for a {entry.kind}; known: {', '.join(sorted(known))}",
                where(f"key:{key}"),
            )


def agent_name(sql_name: str, where: Position) -> str:
    """The runtime name of a SQL agent: lower case, ``_`` as ``-`` (``fraud_triage``
    runs as ``fraud-triage``)."""
    name = sql_name.lower().replace("_", "-")
    if not re.match(AGENT_NAME, name):
        raise SqlError(
            f"agent name {sql_name!r} must be letters, digits, '_' or '-', at most 63 long",
            where,
        )
    return name


def secret_variable(connection: str) -> str:
    """The environment variable that carries a connection's secret (an API key, or an MCP
    server's ``Authorization`` header) to the workers."""
    return "FLINK_AGENTS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", connection).upper()


def check_connection(entry: Entry, where: Where) -> None:
    check_options(entry, where)
    kind = entry.options.get("type")
    if kind is None:
        raise SqlError("a connection needs 'type' = 'openai' | 'mcp_server' | 'a2a'", where(""))
    if kind == "a2a":
        for key in ("api-key", "api-key-env", "token", "transport-type", "cwd"):
            if key in entry.options:
                raise SqlError(
                    f"'{key}' is not an option of a2a connections (they take 'endpoint': an "
                    "agent's name, or a remote agent's http(s) URL)",
                    where(key),
                )
        a2a_peer(entry, where)
        return
    if kind not in ("openai", "mcp_server"):
        raise SqlError(f"'type' must be openai, mcp_server or a2a, not {kind!r}", where("type"))
    if not entry.options.get("endpoint"):
        raise SqlError(f"a connection of type {kind!r} needs 'endpoint'", where(""))
    if kind == "openai":
        for key in ("token", "transport-type", "cwd"):
            if key in entry.options:
                raise SqlError(f"'{key}' is for mcp_server connections", where(key))
    else:
        for key in ("api-key", "api-key-env"):
            if key in entry.options:
                raise SqlError(f"'{key}' is for openai connections (MCP takes 'token')", where(key))
        mcp_server(entry, where)


def a2a_peer(entry: Entry, where: Where) -> str:
    """The peer an a2a connection names: a remote agent's URL as it is, or the runtime name
    of an agent of this framework (``compliance_review`` is ``compliance-review``)."""
    endpoint = entry.options.get("endpoint", "").strip()
    if not endpoint:
        raise SqlError(
            "a connection of type 'a2a' needs 'endpoint': an agent's name, or a remote "
            "agent's http(s) URL",
            where(""),
        )
    if is_url(endpoint):
        return endpoint
    if "://" in endpoint:
        raise SqlError(
            f"'endpoint' {endpoint!r} of an a2a connection is an agent's name (asked over "
            "Kafka) or an http:// or https:// URL (a remote agent)",
            where("endpoint"),
        )
    return agent_name(endpoint, where("endpoint"))


def mcp_server(entry: Entry, where: Where, allowed: tuple[str, ...] | None = None) -> McpServer:
    transport = entry.options.get("transport-type", "STREAMABLE_HTTP").upper()
    endpoint = entry.options["endpoint"]
    if transport == "SSE":
        raise SqlError(
            "'transport-type' = 'SSE' is not supported: use STREAMABLE_HTTP or STDIO",
            where("transport-type"),
        )
    if transport == "STDIO":
        if "token" in entry.options:
            raise SqlError("'token' is for servers over HTTP, not STDIO", where("token"))
        words = shlex.split(endpoint)
        if not words:
            raise SqlError("'endpoint' of a STDIO server is its command line", where("endpoint"))
        return McpServer.stdio(
            *words, cwd=entry.options.get("cwd"), allowed_tools=allowed, name=entry.name
        )
    if transport != "STREAMABLE_HTTP":
        raise SqlError(
            f"'transport-type' must be STREAMABLE_HTTP, STDIO or SSE, not {transport!r}",
            where("transport-type"),
        )
    if "cwd" in entry.options:
        raise SqlError("'cwd' is for STDIO servers", where("cwd"))
    # The token reaches the workers through their environment, never the job graph.
    secret = {"Authorization": secret_variable(entry.name)} if "token" in entry.options else None
    try:
        return McpServer.http(
            endpoint, secret_headers=secret, allowed_tools=allowed, name=entry.name
        )
    except ValidationError as exc:
        raise SqlError(f"bad MCP connection: {explain(exc)}", where("endpoint")) from None


def model_spec(model: Entry, catalog: Catalog, where: Where) -> tuple[OpenAIModel, dict[str, str]]:
    """The model of an agent and the secrets it needs (variable name to value)."""
    check_options(model, where)
    opts = model.options
    if opts.get("provider") != "openai":
        raise SqlError("a model needs 'provider' = 'openai'", where("provider"))
    if opts.get("task", "text_generation") != "text_generation":
        raise SqlError("'task' must be 'text_generation' for an agent's model", where("task"))
    for name, columns in (("INPUT", model.inputs), ("OUTPUT", model.outputs)):
        for column, kind in columns:
            if kind not in ("STRING", "VARCHAR"):
                raise SqlError(
                    f"{name} column {column} must be STRING (a model reads and writes text)",
                    where(""),
                )
    conn_name = opts.get("openai.connection")
    if not conn_name:
        raise SqlError("a model needs 'openai.connection' = '<connection>'", where(""))
    conn = catalog.get("connection", conn_name)
    if conn is None:
        raise SqlError(f"unknown connection '{conn_name}'", where("openai.connection"))
    if conn.options.get("type") != "openai":
        raise SqlError(
            f"connection '{conn_name}' is of type {conn.options.get('type')!r}, not openai",
            where("openai.connection"),
        )
    secrets: dict[str, str] = {}
    key_env = conn.options.get("api-key-env", "OPENAI_API_KEY")
    if "api-key" in conn.options:
        key_env = secret_variable(conn_name)
        secrets[key_env] = conn.options["api-key"]
    spec: dict[str, Any] = {
        "model": opts.get("openai.model_version", "gpt-4o-mini"),
        "base_url": _base_url(conn.options["endpoint"]),
        "api_key_env": key_env,
    }
    for option, field_name in (
        ("openai.temperature", "temperature"),
        ("openai.max_tokens", "max_tokens"),
        ("openai.timeout", "timeout"),
        ("openai.structured_output", "structured_output"),
    ):
        if option in opts:
            spec[field_name] = opts[option]
    try:
        return OpenAIModel.model_validate(spec), secrets
    except ValidationError as exc:
        bad = exc.errors()[0]["loc"][0] if exc.errors() else ""
        option = {"temperature": "openai.temperature", "max_tokens": "openai.max_tokens"}.get(
            str(bad), f"openai.{bad}"
        )
        raise SqlError(f"bad model option: {explain(exc)}", where(option)) from None


def _base_url(endpoint: str) -> str:
    """Confluent's endpoints name the full path; the client wants the API's base URL."""
    return re.sub(r"/chat/completions/?$", "", endpoint.rstrip("/"))


@dataclass(frozen=True)
class Peer:
    """An a2a tool: the agent it asks (a name, or a remote agent's URL)."""

    peer: str


def tool_spec(tool: Entry, catalog: Catalog, where: Where) -> FunctionTool | McpServer | Peer:
    check_options(tool, where)
    kind = tool.options.get("type", "function" if tool.using == "function" else "mcp")
    if tool.using == "function":
        if kind != "function":
            raise SqlError("a tool USING FUNCTION has 'type' = 'function'", where("type"))
        return _function_tool(tool, catalog, where)
    if kind not in ("mcp", "a2a"):
        raise SqlError(
            f"a tool USING CONNECTION has 'type' = 'mcp' or 'a2a', not {kind!r}", where("type")
        )
    conn = catalog.get("connection", tool.target or "")
    if conn is None:
        raise SqlError(f"unknown connection '{tool.target}'", where("@target"))
    wanted = "mcp_server" if kind == "mcp" else "a2a"
    if conn.options.get("type") != wanted:
        raise SqlError(
            f"connection '{tool.target}' is of type {conn.options.get('type')!r}: a tool of "
            f"type '{kind}' needs a connection of type '{wanted}'",
            where("@target"),
        )
    if "request_timeout" in tool.options:
        _seconds(tool.options["request_timeout"], where("request_timeout"))
    if kind == "a2a":
        if "allowed_tools" in tool.options:
            raise SqlError(
                "'allowed_tools' is for mcp tools: an a2a tool is one agent",
                where("allowed_tools"),
            )
        return Peer(a2a_peer(conn, lambda _key: where("@target")))
    allowed = tool.options.get("allowed_tools")
    names = tuple(n.strip() for n in allowed.split(",") if n.strip()) if allowed else None
    return mcp_server(conn, lambda _key: where("@target"), names)


def _function_tool(tool: Entry, catalog: Catalog, where: Where) -> FunctionTool:
    path = catalog.function(tool.target or "")
    if path is None:
        raise SqlError(
            f"unknown function '{tool.target}': register it first with CREATE FUNCTION "
            f"{tool.target} AS 'module.function' LANGUAGE PYTHON",
            where("@target"),
        )
    func = import_function(path, where("@target"))
    try:
        return FunctionTool(
            getattr(func, "func", func), name=tool.name, description=tool.options.get("description")
        )
    except SpecError as exc:
        raise SqlError(f"function {path} cannot be a tool: {exc}", where("@target")) from None


def import_function(path: str, where: Position) -> Callable[..., Any]:
    """The Python function at ``module.function`` (or ``module:function``)."""
    module_name, sep, attr = path.replace(":", ".").rpartition(".")
    if not sep:
        raise SqlError(f"{path!r} is not of the form 'module.function'", where)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SqlError(f"cannot import {module_name}: {exc}", where) from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise SqlError(f"{module_name} has no function {attr!r}", where)
    return func  # type: ignore[no-any-return]


def _seconds(text: str, where: Position) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SqlError(f"expected a number of seconds, got {text!r}", where) from None
    if value <= 0:
        raise SqlError(f"expected a positive number of seconds, got {text!r}", where)
    return value


def compile_agent(entry: Entry, catalog: Catalog, where: Where) -> CompiledAgent:
    """The ``Agent`` of a catalog entry; every name it uses must resolve."""
    check_options(entry, where)
    if entry.agents:
        return _reflection(entry, catalog, where)
    if entry.model is None or entry.prompt is None:
        raise SqlError("an agent needs USING MODEL m and USING PROMPT '...'", where(""))
    model_entry = catalog.get("model", entry.model)
    if model_entry is None:
        raise SqlError(f"unknown model '{entry.model}'", where("@model"))
    model, secrets = model_spec(model_entry, catalog, lambda _key: where("@model"))
    tools: list[FunctionTool | McpServer] = []
    peers: dict[str, str] = {}  # peer -> the tool that names it
    timeouts: list[float] = []
    peer_timeouts: list[float] = []
    for name in entry.tools:
        tool = catalog.get("tool", name)
        if tool is None:
            raise SqlError(f"unknown tool '{name}'", where(f"@tool:{name}"))
        spec = tool_spec(tool, catalog, _fixed(where(f"@tool:{name}")))
        timeout = (
            float(tool.options["request_timeout"]) if "request_timeout" in tool.options else None
        )
        if isinstance(spec, Peer):
            if spec.peer in peers:
                raise SqlError(
                    f"tools {peers[spec.peer]} and {name} both ask {spec.peer}: use one",
                    where(f"@tool:{name}"),
                )
            peers[spec.peer] = name
            peer_timeouts += [timeout] if timeout is not None else []
            continue
        tools.append(spec)
        connection = (
            catalog.get("connection", tool.target or "") if tool.using != "function" else None
        )
        if connection is not None and "token" in connection.options:
            secrets[secret_variable(connection.name)] = f"Bearer {connection.options['token']}"
        timeouts += [timeout] if timeout is not None else []
    opts = entry.options
    limits: dict[str, Any] = {}
    if "a2a.peer_timeout" in opts:
        limits["peer_timeout"] = opts["a2a.peer_timeout"]
    elif peer_timeouts:
        limits["peer_timeout"] = timedelta(seconds=max(peer_timeouts))
    if "a2a.max_delegation_depth" in opts:
        limits["max_delegation_depth"] = opts["a2a.max_delegation_depth"]
    if "max_iterations" in opts:
        limits["max_steps"] = opts["max_iterations"]
    if "max_consecutive_failures" in opts:
        limits["max_retries"] = opts["max_consecutive_failures"]
    if "call_timeout" in opts:
        limits["call_timeout"] = opts["call_timeout"]
    elif timeouts:
        limits["call_timeout"] = timedelta(seconds=max(timeouts))
    if "max_in_flight" in opts:
        limits["max_in_flight"] = opts["max_in_flight"]
    memory: dict[str, Any] = {}
    if "memory.window" in opts:
        memory["window"] = opts["memory.window"]
    if "memory.ttl" in opts:
        memory["ttl"] = opts["memory.ttl"]
    output = _output(entry, where)
    spec_name = agent_name(entry.name, where(""))
    try:
        agent = Agent(
            name=spec_name,
            description=entry.comment or "",
            instructions=entry.prompt,
            model=model,
            tools=tuple(tools),
            peers=tuple(peers),
            callers=_callers(opts.get("a2a.callers"), where("a2a.callers")),
            show_in_gateway=_flag(opts, "a2a.show_in_gateway", where),
            memory=_validated(Memory, memory, "memory.", where),
            output=output,
            limits=_validated(Limits, limits, "", where, _LIMIT_OPTIONS),
        )
    except ValidationError as exc:
        raise SqlError(f"invalid agent: {explain(exc)}", where("")) from None
    return CompiledAgent(agent, secrets)


def _reflection(entry: Entry, catalog: Catalog, where: Where) -> CompiledAgent:
    """``USING AGENTS drafter, critic``: the drafter (its prompt, model, tools and output
    schema) writes, the critic (its prompt, on its model) judges, in turns;
    ``max_iterations`` counts drafts, the drafter's own ``max_iterations`` model calls per
    draft."""
    if entry.model is not None or entry.prompt is not None or entry.tools:
        raise SqlError(
            "an agent USING AGENTS takes its model, prompt and tools from those agents: leave "
            "out USING MODEL, USING PROMPT and USING TOOLS",
            where("@agents"),
        )
    if len(entry.agents) != 2:
        raise SqlError(
            f"USING AGENTS names two agents, the drafter and the critic, not {len(entry.agents)}",
            where("@agents"),
        )
    parts = []
    for role, name in zip(("drafter", "critic"), entry.agents, strict=True):
        part = catalog.get("agent", name)
        if part is None:
            raise SqlError(f"unknown agent '{name}' (the {role})", where(f"@agent:{name}"))
        if part.agents:
            raise SqlError(
                f"the {role} {name} is itself a reflection agent: name agents with a MODEL and "
                "a PROMPT",
                where(f"@agent:{name}"),
            )
        if role == "critic" and (part.tools or set(OUTPUT_OPTIONS) & set(part.options)):
            raise SqlError(
                f"the critic {name} has tools or an output schema: a critic reads the request "
                'and the draft and answers with a verdict ({"accept": ..., "feedback": ...}), '
                "without tools; give tools and the output schema to the drafter",
                where(f"@agent:{name}"),
            )
        parts.append(compile_agent(part, catalog, _fixed(where(f"@agent:{name}"))))
    drafter, critic = parts
    writer = drafter.agent
    if (writer.tools or writer.peers) and writer.limits.max_steps < 2:
        raise SqlError(
            f"the drafter {entry.agents[0]} has tools: its 'max_iterations' (model calls per "
            "draft) must allow a tool turn and the draft, at least 2",
            where(f"@agent:{entry.agents[0]}"),
        )
    opts = entry.options
    for key in opts:
        if key not in _REFLECTION_OPTIONS:
            raise SqlError(
                f"option '{key}' is not for a reflection agent (its tools, output schema and "
                f"their limits come from the drafter); it takes "
                f"{', '.join(sorted(_REFLECTION_OPTIONS))}",
                where(f"key:{key}"),
            )
    rounds = _validated(
        Reflection,
        {
            "critic": critic.agent.instructions,
            "max_iterations": opts.get("max_iterations", 3),
            # None when it is the drafter's: the critic then runs wherever the agent's runs.
            "critic_model": None if critic.agent.model == writer.model else critic.agent.model,
        },
        "",
        where,
    )
    # Every model call of a task counts: each draft may take the drafter's own budget (tool
    # turns, a repair), and each verdict one more.
    limits: dict[str, Any] = {
        "max_steps": min(100, rounds.max_iterations * (writer.limits.max_steps + 1)),
        "call_timeout": writer.limits.call_timeout,
        "peer_timeout": writer.limits.peer_timeout,
        "max_delegation_depth": writer.limits.max_delegation_depth,
    }
    for option, field_name in _LIMIT_OPTIONS.items():
        if field_name in opts and field_name != "max_iterations":
            limits[option] = opts[field_name]  # the options a reflection takes, checked above
    memory = {k: opts[f"memory.{k}"] for k in ("window", "ttl") if f"memory.{k}" in opts}
    try:
        agent = Agent(
            name=agent_name(entry.name, where("")),
            description=entry.comment or "",
            instructions=writer.instructions,
            model=writer.model,
            tools=writer.tools,
            peers=writer.peers,
            output=writer.output,
            callers=_callers(opts.get("a2a.callers"), where("a2a.callers")),
            memory=_validated(Memory, memory, "memory.", where),
            limits=_validated(Limits, limits, "", where, _LIMIT_OPTIONS),
            reflection=rounds,
        )
    except ValidationError as exc:
        raise SqlError(f"invalid agent: {explain(exc)}", where("")) from None
    return CompiledAgent(agent, {**drafter.secrets, **critic.secrets})


def _callers(text: str | None, where: Position) -> tuple[str, ...]:
    """``'a2a.callers' = 'fraud_triage, ops-bot'`` or ``'*'``: agents' names as they run."""
    if text is None:
        return ()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise SqlError("'a2a.callers' names at least one agent, or '*' for any", where)
    return tuple(n if n == ANY_CALLER else agent_name(n, where) for n in names)


def _flag(opts: dict[str, str], option: str, where: Where) -> bool:
    """A ``'true'`` or ``'false'`` option (either case); absent is false."""
    text = opts.get(option, "false").strip().lower()
    if text not in ("true", "false"):
        raise SqlError(f"'{option}' is 'true' or 'false', not {opts[option]!r}", where(option))
    return text == "true"


def _fixed(position: Position) -> Where:
    """Every part of a definition read from the catalog is reported where it is used."""
    return lambda _key: position


_REFLECTION_OPTIONS = frozenset(
    {
        "max_iterations",
        "max_consecutive_failures",
        "call_timeout",
        "max_in_flight",
        "memory.window",
        "memory.ttl",
        "a2a.callers",
        "a2a.peer_timeout",
        "a2a.max_delegation_depth",
    }
)

_LIMIT_OPTIONS = {
    "max_steps": "max_iterations",
    "max_retries": "max_consecutive_failures",
    "call_timeout": "call_timeout",
    "max_in_flight": "max_in_flight",
    "peer_timeout": "a2a.peer_timeout",
    "max_delegation_depth": "a2a.max_delegation_depth",
}


def _validated(
    model: Any,
    values: dict[str, Any],
    prefix: str,
    where: Where,
    names: dict[str, str] | None = None,
) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        field_name = str(exc.errors()[0]["loc"][0])
        option = (names or {}).get(field_name, prefix + field_name)
        raise SqlError(
            f"bad value for '{option}': {exc.errors()[0]['msg']}", where(option)
        ) from None


#: The options that give an agent's output its shape; at most one of them.
OUTPUT_OPTIONS = ("output.schema", "output.row", "output.table")


def _output(entry: Entry, where: Where) -> Any:
    """The output model of ``output.schema``, ``output.row`` or ``output.table``, if any."""
    opts = entry.options
    given = [o for o in OUTPUT_OPTIONS if o in opts]
    if len(given) > 1:
        raise SqlError(
            "give the response's shape once: 'output.schema' (JSON Schema), 'output.row' "
            f"(a row type) or 'output.table' (a table's columns), not {' and '.join(given)}",
            where(given[-1]),
        )
    if "output.table.except" in opts and "output.table" not in opts:
        raise SqlError(
            "'output.table.except' names columns of 'output.table', which is not given",
            where("output.table.except"),
        )
    if "output.schema" in opts:
        return _output_model(opts["output.schema"], where("output.schema"))
    if "output.row" in opts:
        return _row_model(opts["output.row"], where("output.row"), "'output.row'")
    if "output.table" in opts:
        if entry.output_row is None:
            raise SqlError(
                f"agent {entry.name} names 'output.table' but its columns were never read: "
                f"ALTER AGENT {entry.name} SET ('output.table' = '{opts['output.table']}') "
                "where the table is declared",
                where("output.table"),
            )
        table = f"'output.table' = '{opts['output.table']}' ({entry.output_row_from})"
        return _row_model(entry.output_row, where("output.table"), table)
    return None


def _row_model(text: str, where: Position, option: str) -> Any:
    try:
        return model_from_schema(row_schema(text))
    except RowTypeError as exc:
        raise SqlError(f"{option}: {exc}", where) from None
    except SpecError as exc:
        raise SqlError(f"{option}: {exc}", where) from None


def _output_model(text: str, where: Position) -> Any:
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise SqlError(f"'output.schema' is not JSON: {exc}", where) from None
    if not isinstance(schema, dict):
        raise SqlError("'output.schema' is a JSON object schema", where)
    try:
        return model_from_schema(schema)
    except SpecError as exc:
        raise SqlError(f"'output.schema': {exc}", where) from None


__all__ = [
    "OPTIONS",
    "OUTPUT_OPTIONS",
    "CompiledAgent",
    "Peer",
    "agent_name",
    "compile_agent",
    "secret_variable",
]
