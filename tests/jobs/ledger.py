"""The job of the fault, rescaling and upgrade tests: an agent that remembers its key's inputs.

For each input the model (``script``, played by the simulator) optionally records the
input's id with the MCP tool ``record`` (``--tool-url``), then answers how many earlier
inputs of the same key it sees in its memory (``seen``): a key's answers count 0, 1, 2, ...
as long as its memory is intact.

    flink run -d -py tests/jobs/ledger.py -- --app A --input IN --output OUT --model-url URL \\
        [--tool-url URL] [--exactly-once] [--instructions TEXT] [--extra-tool] [--auditor OUT2] \\
        [--memory-ttl 1h]

``--instructions`` and ``--extra-tool`` are compatible changes a job may go through between
a savepoint and its resume; ``--auditor`` (a second agent on the same input) is one Flink
refuses to resume into. ``--memory-ttl`` gives the ledger agent's memory a TTL.
"""

from __future__ import annotations

import argparse
import json

from pydantic import BaseModel

from flink_agents import Agent, AgentApp, Limits, McpServer, Memory, OpenAIModel, tool
from flink_agents.testing import ChatRequest, Reply, ToolCall

INSTRUCTIONS = "Record each entry, then say how many earlier entries of this key you remember."
#: Retries cover an outage of about ten seconds: 0.2 + 0.4 + 0.8 + 1.6 + 2 + 2 + 2 + 2 s.
LIMITS = Limits(call_timeout="10s", max_retries=8, backoff="200ms", backoff_max="2s")


class Entry(BaseModel):
    seen: int
    recorded: bool


@tool
def clock() -> str:
    """The time of day (a tool added in a later version of the job)."""
    return "noon"


def ledger_agent(
    name: str,
    model_url: str,
    tool_url: str | None,
    instructions: str,
    extra_tool: bool,
    memory_ttl: str | None = None,
) -> Agent:
    tools: list[object] = [McpServer.http(tool_url)] if tool_url else []
    if extra_tool:
        tools.append(clock)
    return Agent(
        name=name,
        instructions=instructions,
        model=OpenAIModel(model="ledger", base_url=model_url),
        tools=tools,
        memory=Memory(window=40, ttl=memory_ttl),
        output=Entry,
        limits=LIMITS,
    )


def script(req: ChatRequest) -> Reply:
    """The model: call ``record`` once per task when offered, then answer ``seen``."""
    inputs = [m for m in req.messages if m.get("role") == "user"]
    current = json.loads(inputs[-1]["content"])
    last_user = max(i for i, m in enumerate(req.messages) if m.get("role") == "user")
    results = [m for m in req.messages[last_user:] if m.get("role") == "tool"]
    if "record" in req.tool_names and not results:
        return Reply.tool_calls([ToolCall("record", {"entry": str(current["id"])})])
    recorded = bool(results) and str(results[-1].get("content", "")).startswith("recorded")
    return Reply.json({"seen": len(inputs) - 1, "recorded": recorded})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--tool-url")
    parser.add_argument("--exactly-once", action="store_true")
    parser.add_argument("--instructions", default=INSTRUCTIONS)
    parser.add_argument("--extra-tool", action="store_true")
    parser.add_argument("--auditor", metavar="OUTPUT", help="add a second agent writing here")
    parser.add_argument("--memory-ttl", help="how long the ledger agent remembers (e.g. 1h)")
    args = parser.parse_args()
    app = AgentApp(args.app, exactly_once=args.exactly_once)
    app.source(args.input, key="key")
    main_agent = ledger_agent(
        "ledger",
        args.model_url,
        args.tool_url,
        args.instructions,
        args.extra_tool,
        args.memory_ttl,
    )
    app.add(main_agent, outputs=args.output, carry=["id"])
    if args.auditor:
        auditor = ledger_agent("auditor", args.model_url, None, INSTRUCTIONS, False)
        app.add(auditor, outputs=args.auditor, carry=["id"])
    app.run()


if __name__ == "__main__":
    main()
