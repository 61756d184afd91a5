"""The Kafka tables a job declares: the reader of unusable inputs waits for a batch, and
the reader of results starts at a time, not at the end it finds once running."""

from __future__ import annotations

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

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
