"""`flink-agents trace` reads one-event records and step records of both versions; a context
id with no events says so and shows real ones; a log of results only says it has no steps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flink_agents.api.events import (
    KIND_HEADER,
    STEP_KIND,
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SourceRef,
    TaskAccepted,
    TaskFailed,
    step_record,
)
from flink_agents.testing import TopicClient

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("flink-agents"))


def test_trace_of_an_unknown_context_id_shows_what_context_ids_look_like(
    topics: TopicClient, job_env: dict[str, str]
):
    app = topics.unique("traced")
    events = topics.create(f"{app}.events")
    accepted = TaskAccepted(
        agent="triage",
        key="card-7",
        task_id="t-1",
        input={"card_id": "card-7"},
        at=1.0,
        source=SourceRef(topic="tx", partition=0, offset=0),
    )
    # A log written before steps were grouped (one event per record) and a step record.
    topics.produce(events, [accepted.model_dump(mode="json")], key="triage/card-7")
    asked = ModelRequest(
        agent="triage", key="card-7", task_id="t-1", step=1, model="m", messages=[], at=2.0
    )
    answered = TaskFailed(agent="triage", key="card-7", task_id="t-1", reason="gave up", at=3.0)
    topics.produce(
        events,
        [step_record([asked, answered])],
        key="triage/card-7",
        headers={KIND_HEADER: STEP_KIND},
    )
    # A step record as written before steps became compact: every event whole.
    retried = ModelRequest(
        agent="triage", key="card-7", task_id="t-1", step=2, model="m", messages=[], at=4.0
    )
    topics.produce(
        events,
        [f'{{"v":1,"kind":"step","events":[{retried.model_dump_json()}]}}'],
        key="triage/card-7",
        headers={KIND_HEADER: STEP_KIND},
    )

    def trace(conversation: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, "trace", app, conversation],
            env=job_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    found, missing = trace("triage/card-7"), trace("card-7")

    assert found.returncode == 0, found.stderr
    kinds = [line.split()[3] for line in found.stdout.splitlines() if line.strip()]
    assert kinds == ["task.accepted", "model.request", "task.failed", "model.request"], found.stdout
    assert missing.returncode == 1
    message = " ".join(missing.stderr.split())
    assert f"no events for context id 'card-7' in {app}.events" in message
    assert "A context id is <agent>/<key>" in message
    assert "e.g. triage/card-7" in message


def test_a_log_of_results_only_shows_the_results_and_says_it_has_no_steps(
    topics: TopicClient, job_env: dict[str, str]
):
    app = topics.unique("results-only")
    events = topics.create(f"{app}.events")
    answered = ModelResponse(
        agent="triage",
        key="card-7",
        task_id="t-1",
        step=1,
        message=AssistantMessage(content="APPROVE"),
        at=2.0,
    )
    topics.produce(
        events,
        [answered.model_dump(mode="json")],
        key="triage/card-7",
        headers={KIND_HEADER: "model.response"},
    )

    shown = subprocess.run(
        [CLI, "trace", app, "triage/card-7"],
        env=job_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with pytest.raises(TimeoutError, match=rf"the events topic {events} holds results only"):
        topics.events(events, until=lambda found: len(found) > 1, timeout=3)

    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.strip()]
    assert "model.response" in lines[0] and "APPROVE" in lines[0]
    said = " ".join(" ".join(lines[1:]).split())
    assert f"the events topic {events} holds results only (runtime.events_log: results)" in said
    assert "no steps of triage/card-7 to trace, only the 1 result(s) above" in said
