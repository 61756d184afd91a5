"""The user-facing API: agent specs, tools, spec files, and the public names."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import cloudpickle
import pytest
from pydantic import BaseModel

import flink_agents
from flink_agents import Agent, Limits, McpServer, OpenAIModel, ToolContext, load_agent, tool
from flink_agents.api._tools import ToolInputError
from flink_agents.errors import SpecError

MODEL = OpenAIModel(model="m", base_url="http://127.0.0.1:1/v1")


@tool
def lookup(card_id: str, limit: int = 10) -> dict[str, object]:
    """Recent activity of a card.

    Args:
        card_id: The card to look up.
        limit: How many transactions,
            newest first.
    """
    return {"card_id": card_id, "limit": limit, "thread": threading.current_thread().name}


class Verdict(BaseModel):
    verdict: str


def test_root_exports_exactly_the_public_api():
    public = sorted(
        name
        for name in dir(flink_agents)
        if not name.startswith("_")
        and name not in {"api", "core", "runtime", "errors", "config"}
        and not isinstance(getattr(flink_agents, name), type(flink_agents))
    )
    assert sorted(flink_agents.__all__) == flink_agents.__all__
    assert public == flink_agents.__all__


def test_tool_schema_comes_from_hints_and_docstring():
    schema = lookup.schema()["function"]
    assert schema["name"] == "lookup"
    assert schema["description"] == "Recent activity of a card."
    assert schema["parameters"]["properties"]["limit"] == {
        "default": 10,
        "description": "How many transactions, newest first.",
        "type": "integer",
    }
    assert schema["parameters"]["required"] == ["card_id"]
    assert schema["parameters"]["additionalProperties"] is False


def test_sync_tool_runs_off_the_event_loop_thread():
    result = json.loads(asyncio.run(lookup.invoke({"card_id": "c-1"})))
    assert result["card_id"] == "c-1"
    assert result["thread"] != threading.main_thread().name


def test_tool_arguments_are_validated_with_a_message_for_the_model():
    with pytest.raises(ToolInputError, match="invalid arguments for tool lookup: limit"):
        asyncio.run(lookup.invoke({"card_id": "c-1", "limit": "many"}))
    with pytest.raises(ToolInputError, match="card_id: Field required"):
        asyncio.run(lookup.invoke({}))


def test_a_tool_needs_type_hints_and_a_docstring():
    with pytest.raises(SpecError, match="parameter 'x' needs a type hint"):

        @tool
        def untyped(x):  # type: ignore[no-untyped-def]
            """Does things."""

    with pytest.raises(SpecError, match="needs a description"):

        @tool
        def undocumented(x: int) -> int:
            return x


def test_spec_errors_name_the_field():
    with pytest.raises(ValueError, match="name"):
        Agent(name="Fraud Triage", instructions="x", model=MODEL)
    with pytest.raises(ValueError, match=r"is not a tool .decorate it with @tool"):
        Agent(name="a", instructions="x", model=MODEL, tools=[print])
    with pytest.raises(ValueError, match="repeated: lookup"):
        Agent(name="a", instructions="x", model=MODEL, tools=[lookup, lookup])


def test_limits_give_each_step_time_for_every_retry():
    limits = Limits(call_timeout="10s", max_retries=2, backoff="1s", backoff_max="1s")
    assert limits.call_deadline().total_seconds() == 10 * 3 + 2 + 5


def test_validate_output_accepts_fenced_json_and_explains_mismatches():
    agent = Agent(name="a", instructions="x", model=MODEL, output=Verdict)
    assert agent.validate_output('```json\n{"verdict": "ok"}\n```') == {"verdict": "ok"}
    with pytest.raises(ValueError, match="verdict: Field required"):
        agent.validate_output('{"other": 1}')


def test_yaml_spec_loads_tools_mcp_servers_and_output(tmp_path: Path):
    spec = tmp_path / "agent.yaml"
    spec.write_text(
        """
name: card-helper
instructions: Help with cards.
model: {model: sim-1, base_url: "http://127.0.0.1:9/v1"}
tools:
  - tests.unit.test_api:lookup
  - mcp: {stdio: [python, -m, jobs.tools.customer_server], allowed_tools: [customer_profile]}
  - mcp: {http: "http://127.0.0.1:8765/mcp"}
output: tests.unit.test_api:Verdict
memory: {window: 4, ttl: 7d}
limits: {max_steps: 3, call_timeout: 5s}
"""
    )
    agent = load_agent(spec)
    assert agent.function_tools == (lookup,)
    assert agent.mcp_servers == (
        McpServer.stdio(
            "python", "-m", "jobs.tools.customer_server", allowed_tools=["customer_profile"]
        ),
        McpServer.http("http://127.0.0.1:8765/mcp"),
    )
    assert agent.output is Verdict
    assert (agent.memory.window, agent.memory.ttl.days) == (4, 7)  # type: ignore[union-attr]
    assert agent.limits.call_timeout.total_seconds() == 5


def test_json_spec_with_an_inline_output_schema(tmp_path: Path):
    spec = tmp_path / "agent.json"
    spec.write_text(
        json.dumps(
            {
                "name": "triage",
                "instructions": "Decide.",
                "model": {"model": "m"},
                "output": {
                    "title": "Decision",
                    "properties": {"decision": {"enum": ["APPROVE", "BLOCK"]}},
                    "required": ["decision"],
                },
            }
        )
    )
    agent = load_agent(spec)
    assert agent.validate_output('{"decision": "BLOCK"}') == {"decision": "BLOCK"}
    with pytest.raises(ValueError, match="decision"):
        agent.validate_output('{"decision": "MAYBE"}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", r"agent.yaml: instructions: Field required; model: Field required"),
        (
            "name: x\ninstructions: y\nmodel: {model: m}\nlimits: {max_steps: 0}\n",
            r"limits.max_steps: Input should be greater than or equal to 1",
        ),
        (
            "name: x\ninstructions: y\nmodel: {model: m}\ntools: [nowhere:thing]\n",
            r"tools.0: cannot import nowhere",
        ),
        (
            "name: x\ninstructions: y\nmodel: {model: m}\nmemory: {ttl: soon}\n",
            r"memory.ttl: Value error, 'soon' is not a duration",
        ),
        (
            "name: x\ninstructions: y\nmodel: m\nmemory: {windw: 3}\n",
            r"agent.yaml: memory.windw: unknown field; did you mean 'window'\?",
        ),
        (
            "name: x\ninstrutions: y\nmodel: m\n",
            r"agent.yaml: instrutions: unknown field; did you mean 'instructions'\?",
        ),
        (
            "name: x\ninstructions: y\nmodel: {model: m, temprature: 0}\n",
            r"model.temprature: unknown field; did you mean 'temperature'\?",
        ),
        (
            "name: x\ninstructions: y\nmodel: m\n"
            "tools:\n  - mcp: {stdio: [python], alowed_tools: []}\n",
            r"tools.0.mcp.alowed_tools: unknown field; did you mean 'allowed_tools'\?",
        ),
        (
            "name: x\ninstructions: y\nmodel: m\ntools:\n  - mcp: {http: ftp://h/mcp}\n",
            r"tools.0.mcp: Value error, an http MCP connection needs an http\(s\) url",
        ),
        (
            "name: x\ninstructions: y\nmodel: m\ntools:\n  - mcp: {stdio: [python], http: h}\n",
            r"tools.0.mcp: give exactly one of stdio",
        ),
        (
            "name: x\ninstructions: y\nmodel: m\ntools:\n  - mpc: {http: h}\n",
            r"tools.0.mpc: unknown field; did you mean 'mcp'\?",
        ),
        ("- just\n- a list\n", r"an agent spec is a mapping, not list"),
        ("name: [unclosed\n", r"is not valid YAML"),
    ],
)
def test_spec_file_errors_name_the_file_and_field(tmp_path: Path, text: str, message: str):
    spec = tmp_path / "agent.yaml"
    spec.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_agent(spec)


def test_a_model_may_be_given_by_name_alone(tmp_path: Path):
    spec = tmp_path / "agent.yaml"
    spec.write_text("name: x\ninstructions: y\nmodel: gpt-4o-mini\n")
    assert load_agent(spec).model == OpenAIModel(model="gpt-4o-mini")


def test_the_model_label_never_shows_credentials_of_its_url():
    model = OpenAIModel(model="m", base_url="https://user:s3cret@llm.example/v1?api_key=s3cret")
    assert "s3cret" not in model.label
    assert model.label == "m@https://llm.example/v1"


@tool(retry=False)
def create_ticket(summary: str, ctx: ToolContext) -> str:
    """Open a ticket."""
    return f"{summary} as {ctx.call_id} (attempt {ctx.attempt})"


def test_a_tool_takes_its_call_context_without_showing_it_to_the_model():
    context = ToolContext(agent="a", key="k", task_id="t", call_id="t/1.0/tool.result")
    result = asyncio.run(create_ticket.invoke({"summary": "help"}, context))
    assert result == "help as t/1.0/tool.result (attempt 1)"
    assert list(create_ticket.parameters["properties"]) == ["summary"]
    assert create_ticket.retry is False and lookup.retry is True
    assert cloudpickle.loads(cloudpickle.dumps(create_ticket)).retry is False  # as PyFlink ships it


def test_a_call_timeout_of_zero_is_refused():
    with pytest.raises(ValueError, match="call_timeout must be longer than zero"):
        Limits(call_timeout="0s")


def test_a_reflection_agent_needs_steps_for_each_draft_its_tools_and_verdict():
    spec = dict(name="polish", instructions="Draft.", model=OpenAIModel(model="m"))
    critic = flink_agents.Reflection(critic="Judge.", max_iterations=3)
    assert Agent(**spec, reflection=critic).reflection == critic  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"max_steps \(4\) must allow 2 model calls"):
        Agent(**spec, reflection=critic, limits=Limits(max_steps=4))  # type: ignore[arg-type]
    # With tools a draft takes a tool turn too: three calls per iteration.
    with pytest.raises(ValueError, match=r"max_steps \(8\) must allow 3 model calls .* at least 9"):
        Agent(**spec, reflection=critic, tools=[lookup])  # type: ignore[arg-type]
    writer = Agent(**spec, reflection=critic, tools=[lookup], limits=Limits(max_steps=9))  # type: ignore[arg-type]
    assert writer.function_tools == (lookup,)
    judge = OpenAIModel(model="judge", base_url="http://127.0.0.1:9/v1")
    assert flink_agents.Reflection(critic="Judge.", critic_model=judge).critic_model == judge
