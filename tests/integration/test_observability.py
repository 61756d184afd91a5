"""An agent job on the standalone cluster, seen from outside: the spans it exports live to an
OTLP receiver, the same traces exported again from its events topic by `trace --otlp`, and
its row in `top --once` read from the REST API. With `runtime.events_log: results` the live
spans and `top` are the same (they come from the steps in memory and the metrics), and
`trace --otlp` says the log has no steps to export."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.workloads import event, script
from flink_agents.cli import app as cli_app
from flink_agents.local import ClusterJobs, FlinkCluster
from flink_agents.testing import ModelServer, TopicClient
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
ROOT = Path(__file__).resolve().parents[2]
TASKS = 6
#: Spans per task of the ReAct workload: the task, four model calls, three tool calls.
PER_TASK = {
    "invoke_agent react": 1,
    "chat react": 4,
    "execute_tool account_age": 1,
    "execute_tool recent_volume": 1,
    "execute_tool peer_score": 1,
}


def cli(env: dict[str, str], *args: str) -> str:
    """Run ``flink-agents ARGS`` in this process (the same app, without a new interpreter's
    start-up) with the job's environment."""
    done = CliRunner().invoke(cli_app, list(args), env=env)
    assert done.exit_code == 0, done.stdout + done.stderr
    return done.stdout


def traces(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    by_trace: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    return by_trace


def shape(span: ReceivedSpan) -> tuple[object, ...]:
    return (span.trace_id, span.span_id, span.parent_id, span.name, span.start_ns, span.end_ns)


@pytest.mark.parametrize("events_log", ["full", "results"])
def test_a_running_job_exports_its_traces_live_the_log_exports_the_same_and_top_counts_tasks(
    flink_cluster: FlinkCluster, topics: TopicClient, job_env: dict[str, str], events_log: str
):
    app, source, out = (topics.unique(n) for n in ("otel", "otel-in", "otel-out"))
    topics.create(source, out)
    jobs = ClusterJobs(flink_cluster)
    target = f"127.0.0.1:{flink_cluster.settings.flink.rest_port}"
    with OtlpReceiver() as live, ModelServer(script) as sim:
        env = {
            **job_env,
            "FLINK_AGENTS_OBSERVABILITY__OTLP_ENDPOINT": live.endpoint,
            "FLINK_AGENTS_RUNTIME__EVENTS_LOG": events_log,
        }
        args = [
            "--workload",
            "react",
            "--capacity",
            "16",
            "--app",
            app,
            "--input",
            source,
            "--output",
            out,
            "--model-url",
            sim.base_url,
        ]
        job_id = jobs.submit(ROOT / "bench/jobs/agent_job.py", args, env=env)
        try:
            jobs.wait_running(job_id)
            topics.produce(source, [event(i, keys=3) for i in range(TASKS)])
            answers = topics.consume(out, count=TASKS, timeout=120)
            assert Counter(a.value["id"] for a in answers) == dict.fromkeys(range(TASKS), 1)

            # Flink's REST API serves metrics it fetches from the TaskManagers every few
            # seconds: the table counts every task once the next fetch has them.
            shown = ""

            def top_counts_every_task() -> bool:
                nonlocal shown
                shown = cli(job_env, "top", "--once", "--target", target, "--interval", "0.5")
                row = re.search(rf"^react\s+{re.escape(app)}\s+(\d+)\s", shown, re.M)
                return bool(row) and int(row.group(1)) == TASKS

            try:
                eventually(top_counts_every_task, f"top counted {TASKS} tasks", timeout=30)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; last table:\n{shown}") from None

            eventually(
                lambda: sum(s.parent_id == "" for s in live.received()) >= TASKS,
                f"the live receiver had the spans of {TASKS} tasks",
                timeout=30,
            )
        finally:
            jobs.cancel(job_id)

    live_traces = traces(live.received())
    assert len(live_traces) == TASKS
    for spans in live_traces.values():
        assert Counter(s.name for s in spans) == PER_TASK
        (root,) = [s for s in spans if s.parent_id == ""]
        assert all(s.parent_id == root.span_id for s in spans if s is not root)
        assert all(root.start_ns <= s.start_ns <= s.end_ns <= root.end_ns for s in spans)
        assert {s.service for s in spans} == {app}

    if events_log == "results":
        refused = CliRunner().invoke(
            cli_app, ["trace", app, "--otlp", "http://127.0.0.1:9", "--since", "10m"], env=job_env
        )
        assert refused.exit_code == 1
        message = " ".join(refused.stderr.split())
        assert f"the events topic {app}.events holds results only" in message, message
        assert "runtime.events_log: full" in message
        return
    with OtlpReceiver() as exported:
        printed = cli(job_env, "trace", app, "--otlp", exported.endpoint, "--since", "10m")
        cli(job_env, "trace", app, "--otlp", exported.endpoint, "--since", "10m")
        spans = exported.received()
    per_export = TASKS * sum(PER_TASK.values())
    assert f"exported {TASKS} trace(s), {per_export} span(s)" in printed
    first, second = spans[:per_export], spans[per_export:]
    assert sorted(map(shape, first)) == sorted(map(shape, second))  # ids do not change
    assert sorted(map(shape, first)) == sorted(map(shape, live.received()))
