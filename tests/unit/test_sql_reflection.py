"""The reflection form: ``CREATE AGENT r USING AGENTS drafter, critic``, compiled into one
agent whose drafts a critic judges, run on the state machine AgentStep runs, with the model
simulator playing both roles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flink_agents.api import events as ev
from flink_agents.config import load_settings
from flink_agents.sql import SqlError, SqlRun
from flink_agents.sql._compile import compile_agent
from flink_agents.sql._script import from_text
from flink_agents.testing import ChatRequest, ModelServer, Reply, ToolCall, run_agent

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
            "option 'output.schema' is not for a reflection agent (its tools, output schema",
        ),
        (
            "CREATE AGENT polished USING AGENTS drafter, critic WITH ('max_iterations' = '0');",
            "bad value for 'max_iterations'",
        ),
        (
            "CREATE FUNCTION double_it AS 'tests.unit.sql_functions.double_it' LANGUAGE PYTHON;\n"
            "CREATE TOOL doubler USING FUNCTION double_it;\n"
            "CREATE AGENT strict USING MODEL chat USING PROMPT 'Judge.' USING TOOLS doubler;\n"
            "CREATE AGENT polished USING AGENTS drafter, strict;",
            "the critic strict has tools or an output schema",
        ),
        (
            "CREATE AGENT strict USING MODEL chat USING PROMPT 'Judge.'"
            " WITH ('output.row' = 'ok BOOLEAN');\n"
            "CREATE AGENT polished USING AGENTS drafter, strict;",
            "the critic strict has tools or an output schema",
        ),
        (
            "CREATE FUNCTION double_it AS 'tests.unit.sql_functions.double_it' LANGUAGE PYTHON;\n"
            "CREATE TOOL doubler USING FUNCTION double_it;\n"
            "CREATE AGENT lookup USING MODEL chat USING PROMPT 'Draft.' USING TOOLS doubler"
            " WITH ('max_iterations' = '1');\n"
            "CREATE AGENT polished USING AGENTS lookup, critic;",
            "its 'max_iterations' (model calls per draft) must allow a tool turn",
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


TOOLED = """
CREATE CONNECTION judge_llm WITH ('type' = 'openai', 'endpoint' = '{judge_url}');
CREATE MODEL judge WITH ('provider' = 'openai', 'openai.connection' = 'judge_llm',
                         'openai.model_version' = 'judge');
CREATE FUNCTION double_it AS 'tests.unit.sql_functions.double_it' LANGUAGE PYTHON;
CREATE TOOL doubler USING FUNCTION double_it;
CREATE AGENT counter USING MODEL chat USING PROMPT 'Double the number, then report it.'
  USING TOOLS doubler
  WITH ('output.row' = 'doubled INT NOT NULL, note STRING', 'max_iterations' = '3');
CREATE AGENT checker USING MODEL judge USING PROMPT 'Accept only notes that say done.';
CREATE AGENT polished USING AGENTS counter, checker WITH ('max_iterations' = '2');
"""


def counting(req: ChatRequest) -> Reply:
    """Doubles with the tool in every draft; the note says which draft it is."""
    if not req.tool_results:
        return Reply.tool_calls([ToolCall("doubler", {"n": 21})])
    revised = any(str(m.get("content", "")).startswith(REVISION) for m in req.messages)
    doubled = int(req.tool_results[-1].content)
    return Reply.json({"doubled": doubled, "note": "done" if revised else "draft"})


def checking(req: ChatRequest) -> Reply:
    draft = json.loads((req.last_user_text or "").rsplit("Draft:\n", 1)[1])
    if draft["note"] == "done":
        return Reply.json({"accept": True})
    return Reply.json({"accept": False, "feedback": "say done"})


def test_a_drafter_with_a_function_tool_and_an_output_row_and_a_critic_on_its_own_model(
    tmp_path: Path,
):
    with ModelServer(counting) as writer, ModelServer(checking) as judge:
        agent = compiled(tmp_path, TOOLED.format(judge_url=judge.base_url))
        assert [t.name for t in agent.function_tools] == ["doubler"]
        assert agent.reflection.critic_model.model == "judge"  # type: ignore[union-attr]
        # Each of the two drafts may take the drafter's 3 model calls, and a verdict.
        assert agent.limits.max_steps == 2 * (3 + 1)
        run = run_agent(agent, [{"n": 21}], model=writer)
        writes = [r.chat for r in writer.requests if r.path.endswith("/chat/completions")]
        verdicts = [r.chat for r in judge.requests if r.path.endswith("/chat/completions")]
    [out] = run.outputs
    assert out["task"]["state"] == "TASK_STATE_COMPLETED", out["task"].get("error")
    assert (out["doubled"], out["note"]) == (42, "done")
    assert out["task"]["reflection"] == {"drafts": 2, "accepted": True}
    assert [r.content for r in run.tool_results] == ["42", "42"]
    assert (len(writes), len(verdicts)) == (4, 2)
    assert {r.model for r in writes} == {"gpt-4o-mini"} and {r.model for r in verdicts} == {"judge"}
