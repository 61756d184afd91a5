"""The reflection form: ``CREATE AGENT r USING AGENTS drafter, critic``, compiled into one
agent whose drafts a critic judges, run on the state machine AgentStep runs, with the model
simulator playing both roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from flink_agents.api import events as ev
from flink_agents.config import load_settings
from flink_agents.sql import SqlError, SqlRun
from flink_agents.sql._compile import compile_agent
from flink_agents.sql._script import from_text
from flink_agents.testing import ChatRequest, Reply, run_agent

DEFINITIONS = """
CREATE CONNECTION llm WITH ('type' = 'openai', 'endpoint' = 'http://127.0.0.1:9/v1');
CREATE MODEL chat WITH ('provider' = 'openai', 'openai.connection' = 'llm');
CREATE AGENT drafter USING MODEL chat USING PROMPT 'Write a reply to the customer.';
CREATE AGENT critic USING MODEL chat USING PROMPT 'Accept only replies that apologise.';
"""
REVISION = "A reviewer sent the draft back:"


def script(accept_from: int):
    """The drafter numbers its drafts; the critic accepts draft ``accept_from`` and later."""

    def answer(req: ChatRequest) -> Reply:
        system = req.system_text or ""
        if system.startswith("Accept only replies that apologise."):
            draft = int((req.last_user_text or "").rsplit("draft ", 1)[1])
            if draft >= accept_from:
                return Reply.json({"accept": True})
            return Reply.json({"accept": False, "feedback": f"apologise (draft {draft})"})
        revisions = [m for m in req.messages if str(m.get("content", "")).startswith(REVISION)]
        return Reply.text(f"draft {len(revisions) + 1}")

    return answer


def compiled(tmp_path: Path, statement: str):
    settings = load_settings({"home": str(tmp_path / "home")}, environ={}, file=None)
    run = SqlRun(settings, "test")
    for stmt in from_text(DEFINITIONS + statement, "r.sql", run.variables, Path.cwd()):
        run.execute(stmt, lambda _result: None)
    entry = run.catalog.get("agent", "polished")
    assert entry is not None
    return compile_agent(entry, run.catalog, lambda _key: None).agent  # type: ignore[arg-type,return-value]


def test_the_critic_accepts_the_second_draft(tmp_path: Path):
    agent = compiled(
        tmp_path,
        "CREATE AGENT polished USING AGENTS drafter, critic WITH ('max_iterations' = '4');",
    )
    run = run_agent(agent, [{"complaint": "late parcel"}], model=script(accept_from=2))
    [out] = run.outputs
    assert out["text"] == "draft 2"
    assert out["task"]["state"] == "TASK_STATE_COMPLETED"
    assert out["task"]["reflection"] == {"drafts": 2, "accepted": True}
    assert run.model_calls == 4  # draft, verdict, draft, verdict
    requests = [e for e in run.events if isinstance(e, ev.ModelRequest)]
    drafter, critic = requests[0].system_digest, requests[1].system_digest
    assert [r.system_digest for r in requests] == [drafter, critic, drafter, critic]
    # The critic read the request and the draft; the drafter read the critic's feedback.
    assert "late parcel" in requests[1].messages[0]["content"]
    assert requests[1].messages[0]["content"].endswith("Draft:\ndraft 1")
    assert any("apologise (draft 1)" in m["content"] for m in requests[2].messages)


def test_a_critic_that_never_accepts_is_stopped_by_max_iterations(tmp_path: Path):
    agent = compiled(
        tmp_path,
        "CREATE AGENT polished USING AGENTS drafter, critic WITH ('max_iterations' = '3');",
    )
    run = run_agent(agent, [{"complaint": "broken mug"}], model=script(accept_from=99))
    [out] = run.outputs
    assert (out["text"], out["task"]["state"]) == ("draft 3", "TASK_STATE_COMPLETED")
    assert out["task"]["reflection"] == {"drafts": 3, "accepted": False}
    assert run.model_calls == 6


def test_a_critic_answer_that_is_not_a_verdict_fails_the_task_with_the_reason(tmp_path: Path):
    agent = compiled(tmp_path, "CREATE AGENT polished USING AGENTS drafter, critic;")

    run = run_agent(agent, [{"complaint": "cold soup"}], model=Reply.text("looks fine to me"))
    [out] = run.outputs
    assert out["task"]["state"] == "TASK_STATE_FAILED"
    assert out["task"]["error"].startswith("the critic's answer is not a verdict")
    assert [d.kind for d in run.dead_letters] == ["task.failed"]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("CREATE AGENT polished USING AGENTS drafter;", "names two agents"),
        (
            "CREATE AGENT polished USING AGENTS drafter, ghost;",
            "unknown agent 'ghost' (the critic)",
        ),
        (
            "CREATE AGENT polished USING AGENTS drafter, critic WITH ('output.schema' = '{}');",
            "option 'output.schema' is not for a reflection agent",
        ),
        (
            "CREATE AGENT polished USING AGENTS drafter, critic WITH ('max_iterations' = '0');",
            "bad value for 'max_iterations'",
        ),
        (
            "CREATE MODEL other WITH ('provider' = 'openai', 'openai.connection' = 'llm',"
            " 'openai.model_version' = 'gpt-4o');\n"
            "CREATE AGENT strict USING MODEL other USING PROMPT 'Judge.';\n"
            "CREATE AGENT polished USING AGENTS drafter, strict;",
            "use different models",
        ),
        (
            "CREATE AGENT polished USING MODEL chat USING AGENTS drafter, critic;",
            "leave out USING MODEL",
        ),
    ],
)
def test_reflection_errors_say_what_is_wrong(tmp_path: Path, statement: str, message: str):
    with pytest.raises(SqlError, match=r"^r\.sql:\d+:\d+: ") as caught:
        compiled(tmp_path, statement)
    assert message in str(caught.value)
