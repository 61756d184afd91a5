"""`runtime.events_log`: what AgentStep is told to write, and how a replay finds the tasks of
a log without steps."""

from __future__ import annotations

from flink_agents import Agent, AgentApp, OpenAIModel
from flink_agents.api.events import is_step_event, results_only, task_id_for
from flink_agents.config import load_settings
from flink_agents.replay._reading import range_tasks


def _app(**environ: str) -> AgentApp:
    settings = load_settings(
        environ={f"FLINK_AGENTS_{k}": v for k, v in environ.items()}, file=None
    )
    app = AgentApp("fraud", settings=settings, create_topics=False)
    app.source("transactions", key="card_id")
    app.add(Agent(name="triage", instructions="Decide.", model=OpenAIModel(model="m")), outputs="d")
    return app


def test_the_full_log_writes_each_step_and_results_only_writes_none():
    assert _app()._routes().steps
    assert not _app(RUNTIME__EVENTS_LOG="results")._routes().steps


def test_a_replay_logs_its_steps_whatever_the_level():
    replay = {"REPLAY__NAME": "r1", "REPLAY__FROM_MS": "1", "REPLAY__TO_MS": "2"}
    assert _app(RUNTIME__EVENTS_LOG="results", **replay)._routes().steps


def test_the_tasks_of_a_range_are_named_by_input_place_for_each_agent_in_input_order():
    ranges = {("tx", 1): range(0, 1), ("tx", 0): range(5, 7), ("other", 0): range(0, 3)}

    ids = list(range_tasks(ranges, {"tx": ["triage", "audit"]}))

    assert ids == [
        task_id_for("triage", "tx", 0, 5),
        task_id_for("audit", "tx", 0, 5),
        task_id_for("triage", "tx", 0, 6),
        task_id_for("audit", "tx", 0, 6),
        task_id_for("triage", "tx", 1, 0),
        task_id_for("audit", "tx", 1, 0),
    ]  # a topic no agent reads names no task


def test_results_and_answers_are_not_steps_and_the_note_names_the_setting():
    assert [is_step_event({"kind": k}) for k in ("tool.result", "a2a.reply", "task.failed")] == [
        False,
        False,
        True,
    ]
    assert "runtime.events_log: results" in results_only("fraud.events", "nothing to show")
