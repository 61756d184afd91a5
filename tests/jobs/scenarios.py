"""One job hosting one agent per runtime scenario of tests/integration/test_agents.py.

Each agent reads its own topic ``<prefix>.<agent>`` and writes ``<prefix>.<agent>.out``;
its model is the simulator under the model name of the agent, so the test's script can
answer per scenario. Run: ``python tests/jobs/scenarios.py`` with SCENARIO_PREFIX,
MODEL_URL, MCP_HTTP_URL and SIM_API_KEY in the environment.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Literal

from pydantic import BaseModel, model_validator

from flink_agents import Agent, AgentApp, Limits, McpServer, Memory, OpenAIModel, tool

PREFIX = os.environ.get("SCENARIO_PREFIX", "scenarios")
FAST = Limits(call_timeout="5s", max_retries=3, backoff="50ms", backoff_max="200ms")


class Numbers(BaseModel):
    total: int
    doubled: int
    http: str


class Seen(BaseModel):
    seen: int


class N(BaseModel):
    n: int


class Handled(BaseModel):
    handled: str


class Verdict(BaseModel):
    verdict: Literal["ok", "not ok"]


class Checked(BaseModel):
    """An output whose own check crashes on one value: user code that raises in the step."""

    verdict: str

    @model_validator(mode="after")
    def _check(self) -> Checked:
        if self.verdict == "explode":
            raise RuntimeError("the output check crashed")
        return self


@tool
def double(n: int) -> int:
    """Twice n."""
    return 2 * n


@tool
def nap(seconds: float) -> dict[str, float]:
    """Sleep, then report when the call started and ended (epoch seconds)."""
    started = time.time()
    time.sleep(seconds)
    return {"start": started, "end": time.time(), "thread": threading.get_ident()}


@tool
def explode(reason: str) -> str:
    """Always fails with the given reason."""
    raise RuntimeError(reason)


def model(name: str) -> OpenAIModel:
    return OpenAIModel(
        model=name, base_url=os.environ["MODEL_URL"], api_key_env="SIM_API_KEY", timeout="5s"
    )


def agent(name: str, output: type[BaseModel] | None, **spec: object) -> Agent:
    return Agent(
        name=name,
        instructions=f"You are the {name} scenario.",
        model=model(name),
        output=output,
        limits=spec.pop("limits", FAST),  # type: ignore[arg-type]
        **spec,  # type: ignore[arg-type]
    )


def agents() -> list[Agent]:
    mcp_stdio = McpServer.stdio(
        sys.executable,
        "-m",
        "tests.mcp_servers.calc_server",
        "--transport",
        "stdio",
        allowed_tools=["add"],
    )
    mcp_http = McpServer.http(os.environ["MCP_HTTP_URL"], allowed_tools=["slow"])
    return [
        agent("tools", Numbers, tools=[double, mcp_stdio, mcp_http]),
        agent("parallel", None, tools=[nap]),
        agent("memory", Seen, memory=Memory(window=10)),
        agent("ordering", N),
        agent("flaky", Verdict),
        agent("broken", Verdict),
        agent("toolerr", Handled, tools=[explode]),
        agent("loop", None, tools=[double], limits=Limits(max_steps=3, call_timeout="5s")),
        agent("repair", Verdict),
        agent("norepair", Verdict),
        agent("authfail", Verdict),
        agent("crash", Checked),
    ]


def main() -> None:
    app = AgentApp(PREFIX)
    for spec in agents():
        topic = f"{PREFIX}.{spec.name}"
        app.source(topic, key="k")
        app.add(spec, inputs=topic, outputs=f"{topic}.out", carry=["id"])
    app.run()


if __name__ == "__main__":
    main()
