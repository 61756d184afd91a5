"""The Kafka tables a job declares: the reader of unusable inputs waits for a batch, the
reader of results starts at a time, not at the end it finds once running, and the step
records leave through a producer that lingers, apart from the outputs."""

from __future__ import annotations

import json

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from flink_agents import Agent, AgentApp, OpenAIModel
from flink_agents.config import load_settings
from flink_agents.runtime._env import environments
from flink_agents.runtime._kafka_io import KafkaTables


def _options(t_env: StreamTableEnvironment, table: str) -> str:
    rows = t_env.execute_sql(f"SHOW CREATE TABLE {table}").collect()
    with rows:
        return "".join(str(row[0]) for row in rows)


def test_the_dead_letter_reader_fetches_in_batches_and_the_loop_reader_per_record():
    t_env = StreamTableEnvironment.create(StreamExecutionEnvironment.get_execution_environment())
    kafka = KafkaTables(t_env, "127.0.0.1:9", group_id="g")

    routed = kafka.source_table("transactions")
    unusable = kafka.source_table("transactions", batched=True)

    assert routed != unusable
    assert kafka.source_table("transactions", batched=True) == unusable  # declared once
    batched = _options(t_env, unusable)
    assert "'properties.fetch.min.bytes' = '1048576'" in batched
    assert "'properties.fetch.max.wait.ms' = '500'" in batched
    assert "fetch.min.bytes" not in _options(t_env, routed)


def test_a_reader_from_a_time_starts_there_in_a_fresh_job():
    t_env = StreamTableEnvironment.create(StreamExecutionEnvironment.get_execution_environment())
    kafka = KafkaTables(t_env, "127.0.0.1:9", group_id="g")

    events = _options(t_env, kafka.source_table("app.events", since_ms=1_700_000_000_000))

    assert "'scan.startup.mode' = 'timestamp'" in events
    assert "'scan.startup.timestamp-millis' = '1700000000000'" in events
    assert "group-offsets" not in events


def _sinks(app_environ: dict[str, str]) -> dict[str, str]:
    """The options of each sink table an app's job declares, by table name."""
    settings = load_settings(
        environ={f"FLINK_AGENTS_{k}": v for k, v in app_environ.items()}, file=None
    )
    app = AgentApp("fraud", settings=settings, create_topics=False)
    app.source("transactions", key="card_id")
    app.add(Agent(name="triage", instructions="Decide.", model=OpenAIModel(model="m")), outputs="d")
    env, t_env = environments(settings, "fraud")  # with the Kafka connector's jar
    app.build((env, t_env))
    tables = {name: _options(t_env, name) for name in t_env.list_temporary_tables()}
    return {name: options for name, options in tables.items() if "scan.startup" not in options}


def test_step_records_have_a_lingering_producer_of_their_own_and_outputs_do_not_wait():
    sinks = _sinks({})

    steps = [o for o in sinks.values() if "'topic' = 'fraud.events'" in o]
    named = [o for o in sinks.values() if "'topic-pattern'" in o]
    assert len(steps) == 1 and len(named) == 1
    assert "'properties.linger.ms' = '100'" in steps[0]
    assert "'properties.batch.size' = '262144'" in steps[0]
    assert "'properties.linger.ms' = '5'" in named[0]
    assert "batch.size" not in named[0]


def test_the_step_records_linger_is_a_setting_and_results_only_has_no_step_sink():
    lingering = _sinks({"RUNTIME__EVENTS_LOG_LINGER_MS": "20"})
    assert any("'properties.linger.ms' = '20'" in o for o in lingering.values())

    results_only = _sinks({"RUNTIME__EVENTS_LOG": "results"})
    assert not any("'topic' = 'fraud.events'" in o for o in results_only.values())


def test_the_agent_function_writes_its_side_outputs_to_their_sinks_without_python_between():
    """PyFlink's ``get_side_output`` would put an identity Python map behind each side
    output, one more call into Python per record; AgentStep's go straight to the sinks."""
    settings = load_settings(environ={}, file=None)
    app = AgentApp("fraud", settings=settings, create_topics=False)
    app.source("transactions", key="card_id")
    app.add(Agent(name="triage", instructions="Decide.", model=OpenAIModel(model="m")), outputs="d")
    plan = json.loads(app.build().get_execution_plan())
    names = [node["type"] for node in plan["nodes"]]
    assert "AgentStep" in names
    assert not [name for name in names if name.startswith("Map")], names
    writers = [name for name in names if name.endswith(": Writer")]
    assert len(writers) == 3  # dead letters of the routing; outputs and the rest; steps
