"""The SQL front without Flink: splitting, parsing, errors with their places, the catalog,
and definitions compiled into the same specs as Python's."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from flink_agents import Agent, Limits, McpServer, Memory, OpenAIModel
from flink_agents.config import load_settings
from flink_agents.sql import Catalog, Result, SqlError, SqlRun, parse, split
from flink_agents.sql._ast import AlterAgent, Create, Drop, Flink, Show
from flink_agents.sql._compile import compile_agent
from flink_agents.sql._rewrite import find_call
from flink_agents.sql._script import from_text, load

SECRET = "sk-live-93f0c2a8b7d64e15"

DEFINITIONS = f"""
CREATE CONNECTION api WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1/chat/completions',
  'api-key' = '{SECRET}');
CREATE MODEL m INPUT (prompt STRING) OUTPUT (response STRING) WITH (
  'provider' = 'openai', 'task' = 'text_generation', 'openai.connection' = 'api',
  'openai.model_version' = 'gpt-4o-mini', 'openai.temperature' = '0');
CREATE CONNECTION crm WITH ('type' = 'mcp_server', 'endpoint' = 'http://127.0.0.1:9/mcp',
  'transport-type' = 'STREAMABLE_HTTP');
CREATE TOOL crm_tools USING CONNECTION crm COMMENT 'CRM' WITH ('type' = 'mcp',
  'allowed_tools' = 'lookup, history', 'request_timeout' = '12');
CREATE FUNCTION double_it AS 'tests.unit.sql_functions.double_it' LANGUAGE PYTHON;
CREATE TOOL doubler USING FUNCTION double_it WITH ('type' = 'function');
CREATE AGENT support_bot USING MODEL m USING PROMPT 'Help the customer.'
  USING TOOLS crm_tools, doubler COMMENT 'Answers customers'
  WITH ('max_iterations' = '4', 'max_consecutive_failures' = '2', 'memory.window' = '6',
        'memory.ttl' = '7d');
"""


@pytest.fixture
def run(tmp_path: Path) -> SqlRun:
    settings = load_settings({"home": str(tmp_path / "home")}, environ={}, file=None)
    return SqlRun(settings, "test")


def execute(run: SqlRun, text: str, file: str = "t.sql") -> list[Result]:
    shown: list[Result] = []
    for stmt in from_text(text, file, run.variables, Path.cwd()):
        run.execute(stmt, shown.append)
    return shown


def column(text: str, marker: str) -> str:
    """``1:<column>`` of the first ``marker`` in one-line ``text``: where an error must point."""
    return f"1:{text.index(marker) + 1}"


def error_of(run: SqlRun, text: str) -> str:
    with pytest.raises(SqlError) as caught:
        execute(run, text)
    return str(caught.value)


# -- splitting and parsing -------------------------------------------------------------------


def test_semicolons_in_strings_identifiers_and_comments_do_not_split():
    text = "SELECT 'a;b', `c;d` FROM t -- x;y\n; /* ; */ SHOW AGENTS;;"
    assert [s.text for s in split(text, "f.sql")] == ["SELECT 'a;b', `c;d` FROM t", "SHOW AGENTS"]


def test_an_unclosed_string_is_reported_where_it_opens():
    with pytest.raises(SqlError, match=r"^f\.sql:2:8: this string is never closed"):
        split("SHOW AGENTS;\nSELECT 'oops FROM t;", "f.sql")


def test_every_statement_kind_parses():
    kinds = {
        "CREATE CONNECTION IF NOT EXISTS c WITH ('type' = 'openai', 'endpoint' = 'x')": Create,
        "CREATE AGENT a USING AGENTS drafter, critic WITH ('max_iterations' = '3')": Create,
        "ALTER AGENT IF EXISTS a SET ('max_iterations' = '3')": AlterAgent,
        "ALTER AGENT a ADD TOOL t": AlterAgent,
        "DROP TOOL IF EXISTS t": Drop,
        "SHOW MODELS": Show,
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen')": Flink,
        "INSERT INTO x SELECT * FROM y": Flink,
    }
    for text, kind in kinds.items():
        assert type(parse(split(text, "f.sql")[0])) is kind, text
    reflection = parse(split("CREATE AGENT a USING AGENTS d, c", "f.sql")[0])
    assert isinstance(reflection, Create)
    assert [a.text for a in reflection.agents] == ["d", "c"]


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        ("CREATE AGENT a USING MODL m", "MODL", "expected MODEL, PROMPT, TOOLS or AGENTS"),
        ("CREATE TOOL t USING CONNECTION c WITH ('a' = 'b' 'c')", "'c'", "expected ',' or ')'"),
        ("CREATE MODEL m WITH ('k' = 'v', 'k' = 'w')", "'k' = 'w'", "option 'k' is given twice"),
        ("  ALTER AGENT a SET PROMPT 42", "42", "expected the prompt (a string"),
        ("SHOW AGENT", "AGENT", "expected CONNECTIONS, MODELS, TOOLS or AGENTS"),
        ("DROP MODEL m extra", "extra", "the statement should end here"),
        ("CREATE AGENT cat.db.a USING MODEL m", "cat", "plain name"),
    ],
)
def test_parse_errors_name_file_line_and_column(text: str, place: str, message: str):
    with pytest.raises(SqlError) as caught:
        parse(split(text, "defs.sql")[0])
    assert str(caught.value).startswith(f"defs.sql:{column(text, place)}: "), str(caught.value)
    assert message in str(caught.value)


def test_includes_are_read_in_place_relative_to_the_including_file(tmp_path: Path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "defs.sql").write_text("SHOW MODELS;\nINCLUDE 'more.sql';")
    (tmp_path / "shared" / "more.sql").write_text("SHOW TOOLS;")
    (tmp_path / "main.sql").write_text(
        "SHOW AGENTS;\nINCLUDE 'shared/defs.sql';\nSHOW CONNECTIONS;"
    )
    texts = [s.text for s in load(tmp_path / "main.sql", {})]
    assert texts == ["SHOW AGENTS", "SHOW MODELS", "SHOW TOOLS", "SHOW CONNECTIONS"]


def test_a_file_that_includes_itself_is_an_error(tmp_path: Path):
    (tmp_path / "a.sql").write_text("INCLUDE 'b.sql';")
    (tmp_path / "b.sql").write_text("SHOW AGENTS;\n  INCLUDE 'a.sql';")
    with pytest.raises(SqlError, match=r"b\.sql:2:11: .*a\.sql includes itself"):
        load(tmp_path / "a.sql", {})


def test_variables_fill_strings_and_an_unset_one_is_an_error(run: SqlRun):
    run.variables = {"BASE": "http://127.0.0.1:7/v1"}
    execute(run, "CREATE CONNECTION c WITH ('type' = 'openai', 'endpoint' = '${BASE}');")
    assert run.catalog.get("connection", "c").options["endpoint"] == "http://127.0.0.1:7/v1"  # type: ignore[union-attr]
    message = error_of(run, "SHOW MODELS;\nCREATE CONNECTION d WITH ('endpoint' = '${NOPE}');")
    assert message.startswith("t.sql:2:40: variable ${NOPE} is not set")


# -- the catalog ------------------------------------------------------------------------------


def test_definitions_compile_into_the_same_spec_as_python(run: SqlRun):
    execute(run, DEFINITIONS)
    entry = run.catalog.get("agent", "support_bot")
    assert entry is not None
    compiled = compile_agent(entry, run.catalog, lambda _key: None)  # type: ignore[arg-type,return-value]
    from tests.unit.sql_functions import double_it

    python = Agent(
        name="support-bot",
        description="Answers customers",
        instructions="Help the customer.",
        model=OpenAIModel(
            model="gpt-4o-mini",
            base_url="http://127.0.0.1:9/v1",
            api_key_env="FLINK_AGENTS_SECRET_API",
            temperature=0,
        ),
        tools=[
            McpServer.http(
                "http://127.0.0.1:9/mcp", allowed_tools=["lookup", "history"], name="crm"
            ),
            double_it,
        ],
        memory=Memory(window=6, ttl="7d"),
        limits=Limits(max_steps=4, max_retries=2, call_timeout="12s"),
    )
    assert compiled.agent.model_dump(exclude={"tools"}) == python.model_dump(exclude={"tools"})
    assert compiled.agent.mcp_servers == python.mcp_servers
    [function] = compiled.agent.function_tools
    assert (function.name, function.schema()["function"]["parameters"]) == (
        "doubler",
        double_it.parameters,
    )
    assert compiled.secrets == {"FLINK_AGENTS_SECRET_API": SECRET}


def test_the_catalog_outlives_the_session_and_keeps_secrets_from_display(run: SqlRun):
    execute(run, DEFINITIONS)
    again = Catalog.in_home(run.settings.home)
    assert [e.name for e in again.entries("agent")] == ["support_bot"]
    assert stat.S_IMODE(again.path.stat().st_mode) == 0o600
    shown = execute(run, "DESCRIBE CONNECTION api; SHOW CONNECTIONS; DESCRIBE AGENT support_bot;")
    printed = json.dumps([r.rows for r in shown])
    assert SECRET not in printed and SECRET[:8] not in printed
    assert ["option api-key", "[redacted]"] in shown[0].rows
    assert [r[0] for r in shown[1].rows] == ["api", "crm"]
    assert ["tools", "crm_tools, doubler"] in shown[2].rows


def test_alter_agent_changes_what_it_compiles_to(run: SqlRun):
    execute(run, DEFINITIONS)
    execute(
        run,
        """ALTER AGENT support_bot SET PROMPT 'Be brief.';
        ALTER AGENT support_bot REMOVE TOOL doubler;
        ALTER AGENT support_bot SET ('max_iterations' = '2');""",
    )
    entry = run.catalog.get("agent", "support_bot")
    assert entry is not None
    agent = compile_agent(entry, run.catalog, lambda _key: None).agent  # type: ignore[arg-type,return-value]
    assert (agent.instructions, agent.limits.max_steps, agent.function_tools) == (
        "Be brief.",
        2,
        (),
    )
    message = error_of(run, "ALTER AGENT support_bot SET ('max_iterations' = 'lots');")
    assert message.startswith("t.sql:1:49: bad value for 'max_iterations'")
    assert error_of(run, "ALTER AGENT ghost ADD TOOL doubler;").startswith(
        "t.sql:1:13: unknown agent"
    )
    assert "nothing altered" in execute(run, "ALTER AGENT IF EXISTS ghost ADD TOOL x;")[0].message


def test_drop_refuses_what_others_use_and_then_drops(run: SqlRun):
    execute(run, DEFINITIONS)
    message = error_of(run, "DROP MODEL m;")
    assert message.startswith("t.sql:1:12: model m is used by agent support_bot")
    execute(run, "DROP AGENT support_bot; DROP MODEL m; DROP MODEL IF EXISTS m;")
    assert run.catalog.get("model", "m") is None
    assert error_of(run, "DROP MODEL m;").startswith("t.sql:1:12: unknown model 'm'")


@pytest.mark.parametrize(
    ("statement", "place", "message"),
    [
        ("CREATE AGENT a USING MODEL nope USING PROMPT 'p'", "nope", "unknown model 'nope'"),
        (
            "CREATE AGENT a USING MODEL m USING PROMPT 'p' USING TOOLS ghost",
            "ghost",
            "unknown tool",
        ),
        (
            "CREATE AGENT a USING MODEL m USING PROMPT 'p' WITH ('colour' = 'red')",
            "'colour'",
            "unknown option 'colour'",
        ),
        (
            "CREATE AGENT a USING MODEL m USING PROMPT 'p' WITH ('memory.window' = '-1')",
            "'-1'",
            "bad value for 'memory.window'",
        ),
        (
            "CREATE AGENT a USING MODEL m USING PROMPT 'p' WITH ('output.schema' = '{x')",
            "'{x'",
            "'output.schema' is not JSON",
        ),
        ("CREATE AGENT a USING AGENTS b, c", "b, c", "unknown agent 'b' (the drafter)"),
        (
            "CREATE MODEL m2 WITH ('provider' = 'openai', 'openai.connection' = 'crm')",
            "'crm'",
            "not openai",
        ),
        ("CREATE TOOL t USING FUNCTION missing", "missing", "unknown function 'missing'"),
        (
            "CREATE CONNECTION x WITH ('type' = 'mcp_server', 'endpoint' = 'u', "
            "'transport-type' = 'SSE')",
            "'SSE'",
            "SSE",
        ),
        (
            "CREATE CONNECTION x WITH ('type' = 'a2a', 'endpoint' = 'kafka://h/inbox')",
            "'kafka://h/inbox'",
            "an agent's name (asked over Kafka) or an http:// or https:// URL",
        ),
        (
            "CREATE CONNECTION x WITH ('type' = 'a2a', 'endpoint' = 'p', 'token' = 't')",
            "'t')",
            "'token' is not an option of a2a connections",
        ),
        (
            "CREATE TOOL t USING CONNECTION crm WITH ('type' = 'a2a')",
            "crm",
            "a tool of type 'a2a' needs a connection of type 'a2a'",
        ),
        (
            "CREATE AGENT a USING MODEL m USING PROMPT 'p' WITH ('a2a.callers' = 'bad name!')",
            "'bad name!'",
            "must be letters, digits",
        ),
        (
            "CREATE AGENT a USING MODEL m USING PROMPT 'p' WITH ('a2a.peer_timeout' = 'soon')",
            "'soon'",
            "bad value for 'a2a.peer_timeout'",
        ),
        (
            "CREATE AGENT a USING MODEL m USING PROMPT 'p' WITH ('a2a.show_in_gateway' = 'yes')",
            "'yes'",
            "'a2a.show_in_gateway' is 'true' or 'false', not 'yes'",
        ),
        (
            "CREATE CONNECTION api WITH ('type' = 'openai', 'endpoint' = 'x')",
            "api",
            "already exists",
        ),
    ],
)
def test_definition_errors_name_the_place_and_the_problem(
    run: SqlRun, statement: str, place: str, message: str
):
    execute(run, DEFINITIONS)
    text = error_of(run, statement + ";")
    assert text.startswith(f"t.sql:{column(statement, place)}: "), text
    assert message in text


def test_an_agent_used_before_it_is_defined_is_an_error(run: SqlRun):
    text = (
        "INSERT INTO out SELECT t.id, r.status FROM t,\n"
        "  LATERAL TABLE(AI_RUN_AGENT('later', t.q, t.id)) AS r(status, response);"
    )
    message = error_of(run, text)
    assert message.startswith("t.sql:2:30: unknown agent 'later'")


# -- AI_RUN_AGENT ----------------------------------------------------------------------------


def test_the_call_is_read_with_its_table_alias_and_options():
    [stmt] = split(
        "INSERT INTO d SELECT x.id, res.status, res.response FROM (SELECT * FROM tx) x "
        "CROSS JOIN LATERAL TABLE(AI_RUN_AGENT('a', CONCAT(x.q, '?'), x.id)) "
        "AS res(status, response)",
        "f.sql",
    )
    call = find_call(stmt)
    assert call is not None
    assert (call.source, call.alias, call.input, call.memory_key) == (
        "(SELECT * FROM tx)",
        "x",
        "CONCAT(x.q, '?')",
        None,
    )
    assert call.rewrite(stmt, "v") == "INSERT INTO d SELECT x.id, x.status, x.response FROM v AS x"


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        ("SELECT * FROM t, AI_RUN_AGENT('a', t.q, t.id)", "AI_RUN", "is a table function"),
        (
            "SELECT * FROM t, LATERAL TABLE(AI_RUN_AGENT(a, t.q, t.id)) AS r",
            "a, t.q",
            "agent's name, in quotes",
        ),
        (
            "SELECT * FROM t, LATERAL TABLE(AI_RUN_AGENT('a', t.q)) AS r",
            "AI_RUN",
            "got 2 arguments",
        ),
        (
            "SELECT * FROM t, LATERAL TABLE(AI_RUN_AGENT('a', t.q, t.id, "
            "MAP['colour', 'red'])) AS r",
            "'colour'",
            "unknown AI_RUN_AGENT option 'colour'",
        ),
        (
            "SELECT * FROM t JOIN u ON t.a = u.a, LATERAL TABLE(AI_RUN_AGENT('a', t.q, t.id)) AS r",
            "JOIN",
            "reads one table",
        ),
        (
            "SELECT * FROM t, LATERAL TABLE(AI_RUN_AGENT('a', t.q, t.id))",
            "AI_RUN",
            "needs an alias",
        ),
    ],
)
def test_call_errors_name_the_place(text: str, place: str, message: str):
    with pytest.raises(SqlError) as caught:
        find_call(split(text, "f.sql")[0])
    assert str(caught.value).startswith(f"f.sql:{column(text, place)}: "), str(caught.value)
    assert message in str(caught.value)


def test_a_query_alone_and_reset_are_refused_with_what_to_do(run: SqlRun):
    assert "INSERT INTO <table> SELECT" in error_of(run, "SELECT 1;")
    assert "RESET is not supported" in error_of(run, "RESET 'parallelism.default';")


# -- Confluent's syntax and the tables ---------------------------------------------------------

CONFLUENT = f"""
CREATE TABLE claims (claim_id STRING, customer STRING, text STRING);
CREATE TABLE verdicts (claim_id STRING, status STRING, verdict STRING);
CREATE CONNECTION openai_conn WITH ('type' = 'openai',
  'endpoint' = 'https://api.openai.com/v1/chat/completions', 'api-key' = '{SECRET}');
CREATE CONNECTION tools_conn WITH ('type' = 'mcp_server', 'endpoint' = 'https://tools.example/mcp',
  'transport-type' = 'STREAMABLE_HTTP', 'token' = 'tok-0123456789abcdef');
CREATE MODEL claims_model INPUT (prompt STRING) OUTPUT (response STRING)
  WITH ('provider' = 'openai', 'task' = 'text_generation', 'openai.connection' = 'openai_conn',
        'openai.model_version' = 'gpt-4o');
CREATE TOOL claim_tools USING CONNECTION tools_conn
  WITH ('type' = 'mcp', 'allowed_tools' = 'policy_lookup', 'request_timeout' = '20');
CREATE AGENT claims_agent USING MODEL claims_model USING PROMPT 'Assess the claim.'
  USING TOOLS claim_tools COMMENT 'Claims' WITH ('max_iterations' = '5',
  'max_consecutive_failures' = '2');
INSERT INTO verdicts
SELECT c.claim_id, r.status, r.response
FROM claims AS c,
     LATERAL TABLE(AI_RUN_AGENT('claims_agent', c.text, c.claim_id)) AS r(status, response);
"""


def test_a_file_in_confluents_syntax_is_read_unchanged(run: SqlRun):
    execute(run, CONFLUENT)
    [agent_step] = [s for s in run.job.steps if s.kind == "agent"]
    assert agent_step.compiled is not None and agent_step.call is not None
    agent = agent_step.compiled.agent
    assert agent.model.base_url == "https://api.openai.com/v1"
    assert agent.model.model == "gpt-4o"
    assert (agent.limits.max_steps, agent.limits.max_retries) == (5, 2)
    assert agent.limits.call_timeout.total_seconds() == 20
    [server] = agent.mcp_servers
    assert server.allowed_tools == ("policy_lookup",)
    assert server.headers is None  # the token is not in the spec (nor the job graph)
    assert server.secret_headers == {"Authorization": "FLINK_AGENTS_SECRET_TOOLS_CONN"}
    assert agent_step.compiled.secrets == {
        "FLINK_AGENTS_SECRET_OPENAI_CONN": SECRET,
        "FLINK_AGENTS_SECRET_TOOLS_CONN": "Bearer tok-0123456789abcdef",
    }
    assert agent_step.call.memory_key is None  # the request id keys memory by default
    assert [s.kind for s in run.job.steps] == ["ddl", "ddl", "agent"]


def test_a_table_without_connector_is_a_kafka_topic_of_its_name(run: SqlRun):
    execute(
        run,
        "CREATE TABLE plain (a STRING);\n"
        "CREATE TABLE named (a STRING) WITH ('topic' = 'other', 'format' = 'avro');\n"
        "CREATE TABLE kafka_one (a STRING) WITH ('connector' = 'kafka', 'topic' = 'k');\n"
        "CREATE TABLE gen (a STRING) WITH ('connector' = 'datagen');",
    )
    plain, named, kafka_one, gen = (s.text for s in run.job.steps)
    servers = f"'properties.bootstrap.servers' = '{run.settings.bootstrap_servers}'"
    assert "'connector' = 'kafka', 'topic' = 'plain', 'format' = 'json'" in plain
    assert servers in plain
    assert "'topic' = 'other'" in named and "'format' = 'json'" not in named
    assert named.count("'topic'") == 1
    assert servers in kafka_one and kafka_one.count("'connector'") == 1
    assert gen == "CREATE TABLE gen (a STRING) WITH ('connector' = 'datagen')"
    assert run.job._topics == ["plain", "other"]  # created when missing


# -- A2A: peers and callers -------------------------------------------------------------------

PEERS = """
CREATE CONNECTION review_conn WITH ('type' = 'a2a', 'endpoint' = 'compliance_review');
CREATE CONNECTION remote_conn WITH ('type' = 'a2a', 'endpoint' = 'http://10.0.0.5:8000/a2a');
CREATE TOOL review USING CONNECTION review_conn COMMENT 'a reviewer'
  WITH ('type' = 'a2a', 'request_timeout' = '45');
CREATE TOOL remote USING CONNECTION remote_conn WITH ('type' = 'a2a');
CREATE AGENT triage USING MODEL m USING PROMPT 'Decide; escalate when unsure.'
  USING TOOLS crm_tools, review, remote
  WITH ('a2a.callers' = 'ops_bot, front-desk', 'a2a.max_delegation_depth' = '2');
"""


def test_a2a_tools_become_the_agents_peers_by_name_or_by_url(run: SqlRun):
    execute(run, DEFINITIONS + PEERS)
    entry = run.catalog.get("agent", "triage")
    assert entry is not None
    agent = compile_agent(entry, run.catalog, lambda _key: None).agent  # type: ignore[arg-type,return-value]
    assert agent.peers == ("compliance-review", "http://10.0.0.5:8000/a2a")
    assert agent.callers == ("ops-bot", "front-desk")
    assert [s.name for s in agent.mcp_servers] == ["crm"]  # the MCP tool stays a tool
    assert agent.function_tools == ()
    # A request to a peer waits as long as its tool's request_timeout allows.
    assert agent.limits.peer_timeout.total_seconds() == 45
    assert agent.limits.max_delegation_depth == 2
    assert agent.accepts("ops-bot") and not agent.accepts("stranger")
    assert not agent.show_in_gateway


def test_an_agent_is_shown_in_the_gateway_with_a_flag(run: SqlRun):
    execute(run, DEFINITIONS + PEERS)
    execute(
        run,
        "ALTER AGENT triage SET ('a2a.callers' = 'ops_bot, a2a-gateway', "
        "'a2a.show_in_gateway' = 'TRUE');",
    )
    entry = run.catalog.get("agent", "triage")
    assert entry is not None
    agent = compile_agent(entry, run.catalog, lambda _key: None).agent  # type: ignore[arg-type,return-value]
    assert agent.show_in_gateway and agent.accepts("a2a-gateway")


def test_an_agent_accepts_any_caller_with_a_star_and_sets_its_own_peer_timeout(run: SqlRun):
    execute(run, DEFINITIONS + PEERS)
    execute(
        run,
        "ALTER AGENT triage SET ('a2a.callers' = '*', 'a2a.peer_timeout' = '2m');\n"
        "ALTER AGENT triage REMOVE TOOL remote;",
    )
    entry = run.catalog.get("agent", "triage")
    agent = compile_agent(entry, run.catalog, lambda _key: None).agent  # type: ignore[arg-type,return-value]
    assert agent.callers == ("*",) and agent.accepts("anyone")
    assert agent.peers == ("compliance-review",)
    assert agent.limits.peer_timeout.total_seconds() == 120


def test_two_tools_asking_one_peer_and_a_dropped_connection_in_use_are_errors(run: SqlRun):
    execute(run, DEFINITIONS + PEERS)
    execute(run, "CREATE TOOL review_again USING CONNECTION review_conn WITH ('type' = 'a2a');")
    text = "ALTER AGENT triage ADD TOOL review_again;"
    message = error_of(run, text)
    assert message.startswith(f"t.sql:{column(text, 'review_again')}: "), message
    assert "tools review and review_again both ask compliance-review" in message
    assert "is used by tool review" in error_of(run, "DROP CONNECTION review_conn;")
    shown = execute(run, "DESCRIBE TOOL review;")[0].rows
    assert ["using connection", "review_conn"] in shown and ["option type", "a2a"] in shown


def test_a_file_that_defines_an_agent_with_callers_serves_it_without_a_query(run: SqlRun):
    execute(run, DEFINITIONS)
    assert not run.has_job  # an agent nobody may ask, and no query: only definitions
    execute(
        run,
        "CREATE AGENT reviewer USING MODEL m USING PROMPT 'Review.'"
        " WITH ('a2a.callers' = 'triage');\n"
        "CREATE AGENT quiet USING MODEL m USING PROMPT 'Hush.' WITH ('a2a.callers' = '*');\n"
        "DROP AGENT quiet;\n"
        "ALTER AGENT support_bot SET ('a2a.callers' = 'ops_bot');",
    )
    assert run.has_job
    served = [c.agent for c in run.job.serving()]
    assert [(a.name, a.callers) for a in served] == [
        ("support-bot", ("ops-bot",)),  # created earlier in the file, altered now
        ("reviewer", ("triage",)),
    ]


def test_an_agent_defined_in_an_earlier_file_is_not_served_by_a_later_one(
    run: SqlRun, tmp_path: Path
):
    execute(run, DEFINITIONS + PEERS)  # triage accepts callers
    settings = load_settings({"home": str(tmp_path / "home")}, environ={}, file=None)
    later = SqlRun(settings, "later")
    execute(later, "SHOW AGENTS;")
    assert not later.has_job and later.job.serving() == []


def test_optional_fields_of_an_output_schema_keep_their_type_in_the_response():
    from flink_agents.sql._job import _answer

    schema = (
        '{"type": "object", "properties": {"answer": {"type": "string"}, "n": {"type": "integer"}}}'
    )
    agent = Agent(
        name="a",
        instructions="Answer.",
        model=OpenAIModel(model="m"),
        output=compile_output(schema),
    )
    text = _answer(agent)
    assert "JSON_VALUE(`value`, '$.answer' RETURNING STRING)" in text
    assert "CAST(JSON_VALUE(`value`, '$.n') AS BIGINT)" in text


def compile_output(schema: str):  # type: ignore[no-untyped-def]
    from flink_agents.api._loader import model_from_schema

    return model_from_schema(json.loads(schema))
