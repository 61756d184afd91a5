"""`flink-agents trace` reads one-event records and step records of both versions; a context
id with no events says so and shows real ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flink_agents.api.events import (
    KIND_HEADER,
    STEP_KIND,
    ModelRequest,
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
