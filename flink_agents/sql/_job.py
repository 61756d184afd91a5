"""Flink statements and AI_RUN_AGENT calls assembled into one Flink job.

Statements are queued as they come and declared on one Table environment when the job is
built, so every secret the job needs is known before the Flink gateway starts (secrets reach
the workers through their environment, never through the job graph).

For each ``AI_RUN_AGENT`` call the job gets, beside the statement's own tables:

- ``<app>.<agent>.requests``: a Kafka topic the call's input table is written to, one JSON
  record per row (the prompt, the request id, the memory key and the row itself);
- the agent in ``AgentStep`` (``AgentApp``), reading that topic keyed by the memory key, with
  its events and dead letters in ``<app>.events`` and ``<app>.dlq`` as for Python agents;
- ``<app>.<agent>.responses``: the agent's results, read back as a view with the row's
  columns and ``status`` and ``response``, which the statement reads instead of the call.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot.tokenizer_core import TokenType

from flink_agents.a2a import inbox_topic
from flink_agents.api import Agent
from flink_agents.config import Settings
from flink_agents.errors import ConfigError
from flink_agents.runtime import AgentApp, KafkaTables, literal
from flink_agents.sql._ast import Flink, Parsed, PythonFunction, SetOption
from flink_agents.sql._catalog import Catalog
from flink_agents.sql._compile import CompiledAgent, compile_agent
from flink_agents.sql._errors import Position, SqlError
from flink_agents.sql._rewrite import AgentCall, find_call
from flink_agents.sql._script import expand_text
from flink_agents.sql._session import Result
from flink_agents.sql._tokens import Statement

#: Fields of a request record besides the row; results carry them back.
KEY, PROMPT, REQUEST_ID, SITE, ROW = "__key", "__prompt", "__request_id", "__site", "__row"
#: JSON_VALUE's RETURNING takes STRING, BOOLEAN, INTEGER and DOUBLE only: an integer of
#: the answer is read as text and cast, so a BIGINT's range fits.
_SCALAR_JSON = {"string": "STRING", "number": "DOUBLE", "boolean": "BOOLEAN"}


@dataclass
class _Step:
    kind: str  # ddl | set | insert | agent
    stmt: Statement
    text: str = ""
    key: str = ""
    call: AgentCall | None = None
    compiled: CompiledAgent | None = None


@dataclass
class SqlJob:
    """The Flink side of one ``sql run``: statements queued, then built into one job."""

    settings: Settings
    name: str
    catalog: Catalog
    variables: Mapping[str, str]
    steps: list[_Step] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    _env: Any = None
    _t_env: Any = None
    _app: AgentApp | None = None
    _kafka: KafkaTables | None = None
    _inserts: Any = None
    _agents: dict[str, tuple[Agent, Position]] = field(default_factory=dict)
    _topics: list[str] = field(default_factory=list)
    _defined: dict[str, Position] = field(default_factory=dict)
    _secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.name):
            raise ConfigError(f"job name {self.name!r}: use letters, digits, '.', '_' and '-'")

    # -- queueing (statement by statement) ---------------------------------------------

    def defined(self, name: str, where: Position) -> None:
        """Note an agent the file creates or alters: one that accepts callers is served."""
        self._defined[name] = where

    def serving(self) -> list[CompiledAgent]:
        """Agents the file defines that accept A2A callers and no ``AI_RUN_AGENT`` call
        runs: the job runs them on their inbox alone (``app.add(agent, inputs=[])``)."""
        called = {step.compiled.agent.name for step in self.steps if step.compiled is not None}
        out = []
        for name, where in self._defined.items():
            entry = self.catalog.get("agent", name)
            if entry is None or "a2a.callers" not in entry.options:
                continue  # dropped later in the file, or serves nobody
            compiled = compile_agent(entry, self.catalog, _at(where))
            if compiled.agent.name not in called:
                out.append(compiled)
        return out

    @property
    def has_work(self) -> bool:
        """Whether the file makes a job: an ``INSERT``, an agent call, or an agent to serve."""
        return any(s.kind in ("insert", "agent") for s in self.steps) or bool(self.serving())

    def accept(self, parsed: Parsed) -> Result:
        if isinstance(parsed, SetOption):
            if parsed.key is None or parsed.value is None:
                raise SqlError(
                    "RESET is not supported: SET the option to the value you want", parsed.where
                )
            self.steps.append(_Step("set", _empty(parsed.where), key=parsed.key, text=parsed.value))
            return Result(f"option {parsed.key} set")
        if isinstance(parsed, PythonFunction):
            if _is_flink_udf(parsed):
                self.steps.append(
                    _Step("ddl", parsed.statement, expand_text(parsed.statement, self.variables))
                )
            return Result("")
        assert isinstance(parsed, Flink)
        stmt = parsed.statement
        words = [t.word for t in stmt.tokens[:4]]
        if words[:3] == ["BEGIN", "STATEMENT", "SET"] or words == ["END"]:
            return Result("")  # every INSERT of a run goes into one job anyway
        if words == ["EXECUTE", "STATEMENT", "SET", "BEGIN"]:
            stmt = _drop_words(stmt, 4)
        elif words[:1] == ["EXECUTE"]:
            stmt = _drop_words(stmt, 1)
        words = [t.word for t in stmt.tokens[:3]]
        call = find_call(stmt)
        if call is not None:
            if not (words[:1] == ["INSERT"] or ("VIEW" in words and words[:1] == ["CREATE"])):
                raise SqlError(
                    "AI_RUN_AGENT is read by INSERT INTO ... SELECT or CREATE VIEW", stmt.where
                )
            entry = self.catalog.get("agent", call.agent.text)
            if entry is None:
                raise SqlError(
                    f"unknown agent '{call.agent.text}' (CREATE AGENT it first)", call.agent.where
                )
            compiled = compile_agent(entry, self.catalog, lambda _key: call.agent.where)
            self.steps.append(_Step("agent", stmt, call=call, compiled=compiled))
            return Result(f"agent {call.agent.text} runs on {call.source}")
        if words[:1] in (["SELECT"], ["WITH"], ["VALUES"]):
            raise SqlError(
                "a query alone has nowhere to go: write INSERT INTO <table> SELECT ...", stmt.where
            )
        kind = "insert" if words[:1] in (["INSERT"], ["UPSERT"]) else "ddl"
        text = expand_text(stmt, self.variables)
        if kind == "ddl" and _creates_table(stmt):
            text, topic = _with_kafka_defaults(stmt, text, self.settings, self.name)
            if topic:
                self._topics.append(topic)
        self.steps.append(_Step(kind, stmt, text))
        return Result("")

    # -- building ----------------------------------------------------------------------

    def build(self, *, create_topics: bool = True) -> None:
        """Declare everything on one Flink environment (no job starts)."""
        from flink_agents.runtime import environments

        serving = self.serving()
        for compiled in [*serving, *(s.compiled for s in self.steps if s.compiled)]:
            os.environ.update(compiled.secrets)
            self._secrets.update(compiled.secrets)
        self._env, self._t_env = environments(self.settings, self.name, _paths())
        runtime = self.settings.runtime
        self._kafka = KafkaTables(
            self._t_env,
            self.settings.bootstrap_servers,
            group_id=f"flink-agents.{self.name}.sql",
            linger_ms=runtime.producer_linger_ms,
            compression=runtime.producer_compression,
            prefix="sql",
        )
        self._inserts = self._t_env.create_statement_set()
        self._app = AgentApp(self.name, settings=self.settings, create_topics=create_topics)
        if create_topics and self._topics:
            from flink_agents.runtime import ensure_topics

            ensure_topics(self.settings.bootstrap_servers, self._topics, runtime.parallelism)
        inserts = 0
        for site, step in enumerate(self.steps):
            if step.kind == "set":
                self._t_env.get_config().set(step.key, step.text)
                self.plan.append(f"SET {step.key} = {step.text}")
            elif step.kind == "ddl":
                self._flink(step.stmt, lambda s=step: self._t_env.execute_sql(s.text))
                self.plan.append(_first_line(step.text))
            elif step.kind == "insert":
                self._flink(step.stmt, lambda s=step: self._inserts.add_insert_sql(s.text))
                self.plan.append(_first_line(step.text))
                inserts += 1
            else:
                inserts += self._agent(site, step)
        for compiled in serving:
            self._serve(compiled.agent)
        if not inserts and not serving:
            raise SqlError(
                "nothing to run: the file has no INSERT INTO statement and defines no agent "
                "that accepts A2A callers",
                _file_start(self.steps),
            )
        if self._app._deployments:
            self._app.build((self._env, self._t_env))
        self._kafka.attach()
        if inserts:
            # The planner translates every query here: its errors are the file's.
            self._flink(self.steps[0].stmt, self._inserts.attach_as_datastream)

    def run(self) -> None:
        self._env.execute(self.name)

    def explain(self) -> str:
        """The plan: what each statement became, then the agents and their topics."""
        lines = ["statements:", *(f"  {p}" for p in self.plan)]
        if self._app is not None and self._app._deployments:
            lines.append("agents:")
            for d in self._app._deployments:
                agent = d.agent
                tools = ", ".join(
                    [t.name for t in agent.function_tools] + [s.label for s in agent.mcp_servers]
                )
                a2a = f"; peers [{', '.join(agent.peers)}]" if agent.peers else ""
                reflection = agent.reflection
                if reflection is not None:
                    judge = (reflection.critic_model or agent.model).label
                    a2a += f"; critic on {judge} judges up to {reflection.max_iterations} drafts"
                if agent.callers:
                    a2a += f"; accepts [{', '.join(agent.callers)}] on {inbox_topic(agent.name)}"
                schema = agent.output_schema()
                if schema is not None:
                    a2a += f"; output ({', '.join(schema.get('properties') or {})})"
                lines.append(
                    f"  {agent.name}: model {agent.model.label}; tools [{tools}]{a2a}; "
                    f"max_steps {agent.limits.max_steps}; memory window {agent.memory.window}; "
                    f"reads {', '.join(d.inputs) or 'its inbox only'}; writes {d.output}"
                )
            lines.append(
                f"  events {self._app.events_topic}; dead letters {self._app.dead_letter_topic}"
            )
        target = self.settings.cluster.target
        if target and self._secrets:
            # Secrets never travel in the job graph: a cluster's workers need them set.
            lines.append(
                f"secrets: the TaskManagers of {target} read {', '.join(sorted(self._secrets))} "
                "from their environment: set these there"
            )
        return "\n".join(lines)

    def _serve(self, agent: Agent) -> None:
        """An agent no statement calls, run on its inbox alone; its answers to requests go
        to the requesters, and its outputs to ``<job>.<agent>.responses`` as well."""
        assert self._app is not None
        responses = f"{self.name}.{agent.name}.responses"
        self._app.add(agent, inputs=[], outputs=responses)
        self.plan.append(
            f"SERVE {agent.name}  -- no statement calls it; it answers A2A requests from "
            f"{inbox_topic(agent.name)} and writes its outputs to {responses}"
        )

    # -- one AI_RUN_AGENT call ---------------------------------------------------------

    def _agent(self, site: int, step: _Step) -> int:
        call, compiled = step.call, step.compiled
        assert call is not None and compiled is not None and self._app is not None
        assert self._kafka is not None
        kafka = self._kafka
        agent = compiled.agent
        seen = self._agents.get(agent.name)
        if seen is not None and seen[0] != agent:
            raise SqlError(
                f"agent {call.agent.text} changed since its first use at {seen[1]}: one job runs "
                "one definition of an agent",
                call.agent.where,
            )
        requests = f"{self.name}.{agent.name}.requests"
        responses = f"{self.name}.{agent.name}.responses"
        if seen is None:
            self._agents[agent.name] = (agent, call.agent.where)
            self._app.source(requests, key=KEY)
            self._app.add(
                agent,
                inputs=requests,
                outputs=responses,
                carry=[REQUEST_ID, SITE, ROW],
                prompt=PROMPT,
            )
        columns = self._columns(step.stmt, f"SELECT * FROM {call.source} AS {call.alias}")
        for name in call.columns:
            if name.text in dict(columns):
                raise SqlError(
                    f"the result column {name.text} has the name of a column of {call.source}: "
                    "rename it in AS r(...)",
                    name.where,
                )
        self._flink(
            step.stmt,
            lambda: kafka.insert(requests, _request_query(call, columns, site)),
        )
        view = f"__agent_result_{site}"
        source = self._kafka.source_table(responses, start="earliest")
        query = _result_query(source, call, columns, site, agent)
        self._flink(
            step.stmt, lambda: self._t_env.execute_sql(f"CREATE TEMPORARY VIEW {view} AS {query}")
        )
        text = call.rewrite(step.stmt, view)
        if "${" in text:
            text = expand_text(Statement(text, step.stmt.tokens, step.stmt.source), self.variables)
        is_insert = step.stmt.tokens[0].word == "INSERT"
        action = self._inserts.add_insert_sql if is_insert else self._t_env.execute_sql
        self._flink(step.stmt, lambda: action(text))
        self.plan.append(
            f"{_first_line(text)}  -- {call.agent.text} (runs as {agent.name}) reads "
            f"{call.source}: {requests} -> AgentStep -> {responses} -> {view}"
        )
        return 1 if is_insert else 0

    def _columns(self, stmt: Statement, query: str) -> list[tuple[str, str]]:
        table = self._flink(stmt, lambda: self._t_env.sql_query(query))
        out = []
        for column in table._j_table.getResolvedSchema().getColumns():
            kind = str(column.getDataType().getLogicalType().asSerializableString())
            out.append((str(column.getName()), kind.replace(" NOT NULL", "")))
        return out

    def _flink(self, stmt: Statement, action: Any) -> Any:
        """Run one Flink call; its error becomes a SqlError at the statement."""
        from py4j.protocol import Py4JJavaError
        from pyflink.util.exceptions import JavaException

        try:
            return action()
        except JavaException as exc:
            raise SqlError(flink_message(str(exc), stmt.where), stmt.where) from None
        except Py4JJavaError as exc:  # calls PyFlink does not wrap (StatementSet's)
            trace = str(exc.java_exception.toString())
            raise SqlError(flink_message(trace, stmt.where), stmt.where) from None


def _request_query(call: AgentCall, columns: list[tuple[str, str]], site: int) -> str:
    key = f"CAST({call.memory_key or call.request_id} AS STRING)"
    row = ", ".join(f"KEY '{literal(name)}' VALUE {call.alias}.`{name}`" for name, _ in columns)
    value = (
        f"JSON_OBJECT(KEY '{KEY}' VALUE {key}, KEY '{PROMPT}' VALUE CAST({call.input} AS STRING), "
        f"KEY '{REQUEST_ID}' VALUE CAST({call.request_id} AS STRING), KEY '{SITE}' VALUE {site}, "
        f"KEY '{ROW}' VALUE JSON_OBJECT({row}))"
    )
    return f"SELECT {key} AS `key`, {value} AS `value` FROM {call.source} AS {call.alias}"


def _result_query(
    source: str, call: AgentCall, columns: list[tuple[str, str]], site: int, agent: Agent
) -> str:
    fields = [_column_from_json(name, kind, call) for name, kind in columns]
    state = "JSON_VALUE(`value`, '$.task.state')"
    status, response = (c.text for c in call.columns)
    fields.append(f"{state} AS `{status}`")
    answer = _answer(agent)
    fields.append(
        f"CASE WHEN {state} = 'TASK_STATE_COMPLETED' THEN {answer} "
        f"ELSE JSON_VALUE(`value`, '$.task.error') END AS `{response}`"
    )
    return (
        f"SELECT {', '.join(fields)} FROM {source} "
        f"WHERE JSON_VALUE(`value`, '$.{SITE}' RETURNING INT) = {site}"
    )


def _answer(agent: Agent) -> str:
    """The response column: the text, or the structured answer as a JSON object."""
    schema = agent.output_schema()
    if schema is None:
        return "JSON_VALUE(`value`, '$.text')"
    parts = []
    for name, prop in (schema.get("properties") or {}).items():
        path = _path(name)
        kind = _json_type(prop)
        if kind == "integer":
            value = f"CAST(JSON_VALUE(`value`, '{literal(path)}') AS BIGINT)"
        elif kind in _SCALAR_JSON:
            value = f"JSON_VALUE(`value`, '{literal(path)}' RETURNING {_SCALAR_JSON[kind]})"
        else:
            value = f"JSON(JSON_QUERY(`value`, '{literal(path)}'))"
        parts.append(f"KEY '{literal(name)}' VALUE {value}")
    return f"JSON_OBJECT({', '.join(parts)} ABSENT ON NULL)" if parts else "'{}'"


def _json_type(prop: dict[str, Any]) -> str | None:
    """A property's JSON type; an optional one (``anyOf`` the type and null) has its type.

    >>> _json_type({"anyOf": [{"type": "string"}, {"type": "null"}], "default": None})
    'string'
    >>> _json_type({"enum": ["P1", "P2"]}), _json_type({"type": "array"})
    ('string', 'array')
    """
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    one = options[0] if len(options) == 1 else {}
    return "string" if "enum" in one else one.get("type")


def _column_from_json(name: str, kind: str, call: AgentCall) -> str:
    path = literal(f"$.{ROW}" + _path(name)[1:])
    raw = f"JSON_VALUE(`value`, '{path}')"
    base = kind.split("(")[0].split("<")[0].strip()
    if base in ("ROW", "ARRAY", "MAP", "MULTISET", "RAW", "BINARY", "VARBINARY", "STRUCTURED"):
        raise SqlError(
            f"column {name} of {call.source} is of type {kind}, which cannot pass through "
            "AI_RUN_AGENT: read the columns you need through a view",
            call.call.where,
        )
    if base.startswith("TIMESTAMP"):
        raw = f"REPLACE(REPLACE({raw}, 'T', ' '), 'Z', '')"
    kind = kind.replace("*ROWTIME*", "").replace("*PROCTIME*", "").strip()
    return f"CAST({raw} AS {kind}) AS `{name}`"


def _path(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return f"$.{name}"
    return "$['" + name.replace("'", "\\'") + "']"


def flink_message(trace: str, where: Position) -> str:
    """Flink's own message (its first line), with its line and column made the file's."""
    message = trace.strip().split("\n\tat ", 1)[0].strip().splitlines()[0]
    message = re.sub(r"^(?:[a-z]+\.)+[A-Za-z]+(?:Exception|Error): ", "", message)

    def shift(match: re.Match[str]) -> str:
        line, col = int(match.group(2)), int(match.group(3))
        if line == 1:
            col += where.col - 1
        return f"{match.group(1)}{where.file}:{line + where.line - 1}:{col}"

    return "Flink: " + re.sub(r"(\b[Aa]t |[Ff]rom |to )line (\d+), column (\d+)", shift, message)


def _creates_table(stmt: Statement) -> bool:
    words = [t.word for t in stmt.tokens[:3]]
    return words[:2] == ["CREATE", "TABLE"] or words == ["CREATE", "TEMPORARY", "TABLE"]


def _with_kafka_defaults(
    stmt: Statement, text: str, settings: Settings, app: str
) -> tuple[str, str | None]:
    """A table without 'connector' is a Kafka topic of its name with JSON values, as in
    Confluent Cloud; a Kafka table without 'properties.bootstrap.servers' gets the
    configured broker. Returns the text and the topic to create, if any."""
    toks = stmt.tokens
    depth, with_at, name = 0, None, None
    for i, tok in enumerate(toks):
        if tok.kind is TokenType.L_PAREN:
            if depth == 0 and name is None:
                name = toks[i - 1].text
            depth += 1
        elif tok.kind is TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and tok.word in ("AS", "LIKE"):
            return text, None
        elif depth == 0 and tok.word == "WITH":
            with_at = i
    keys: dict[str, str] = {}
    if with_at is not None:
        inside = toks[with_at + 2 :]
        for a, b, c in zip(inside, inside[1:], inside[2:], strict=False):
            if a.kind is TokenType.STRING and b.kind is TokenType.EQ and c.kind is TokenType.STRING:
                keys[a.text] = c.text
    added: dict[str, str] = {}
    topic = None
    if "connector" not in keys:
        topic = keys.get("topic", name or "")
        defaults = {
            "connector": "kafka",
            "topic": topic,
            "format": "json",
            "scan.startup.mode": "group-offsets",
            "properties.auto.offset.reset": "earliest",
            "properties.group.id": f"flink-agents.{app}",
        }
        added = {k: v for k, v in defaults.items() if k not in keys}
    if keys.get("connector", "kafka") == "kafka" and "properties.bootstrap.servers" not in keys:
        added["properties.bootstrap.servers"] = settings.bootstrap_servers
    if not added:
        return text, None
    options = ", ".join(f"'{k}' = '{literal(v)}'" for k, v in added.items())
    if with_at is None:
        return f"{text} WITH ({options})", topic
    paren = toks[with_at + 1]
    cut = paren.end - toks[0].start
    close = "" if not keys else ", "
    return f"{text[:cut]}{options}{close}{text[cut:]}", topic


def _is_flink_udf(parsed: PythonFunction) -> bool:
    from flink_agents.sql._compile import import_function

    func: Any = import_function(parsed.path.value, parsed.path.where)
    return type(func).__module__.startswith("pyflink.")


def _drop_words(stmt: Statement, count: int) -> Statement:
    tokens = stmt.tokens[count:]
    if not tokens:
        raise SqlError("a statement is missing here", stmt.where)
    return Statement(stmt.source[tokens[0].start : tokens[-1].end], tokens, stmt.source)


def _empty(where: Position) -> Statement:
    from flink_agents.sql._tokens import Tok

    return Statement("", (Tok(TokenType.VAR, "", 0, 0, where),), "")


def _at(where: Position) -> Callable[[str], Position]:
    return lambda _key: where


def _first_line(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 160 else one[:157] + "..."


def _file_start(steps: list[_Step]) -> Position:
    return steps[0].stmt.where if steps else Position("<sql>", 1, 1)


def _paths() -> list[Path]:
    """Folders the workers import the job's own modules from (its tools, functions)."""
    return [Path.cwd(), *(Path(p) for p in sys.path[:1] if p)]
