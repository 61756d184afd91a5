"""The current task inside a chat request: what a script needs, without the agent's memory.

An agent's request holds, after the system prompt, the memory of its conversation key
(earlier inputs and final answers, as user and assistant messages), then the current task:
its input, each tool round (an assistant message with tool calls and the tool results), and
after an answer that did not fit the output schema, the repair round. ``task_of`` finds
where the task begins, so a script can ask "has this task called its tools yet?" instead of
counting every assistant message of the conversation.

>>> messages = [
...     {"role": "system", "content": "Decide."},
...     {"role": "user", "content": '{"card": "c1", "amount": 5}'},
...     {"role": "assistant", "content": '{"decision": "APPROVE"}'},
...     {"role": "user", "content": '{"card": "c1", "amount": 900}'},
...     {"role": "assistant", "content": None, "tool_calls": [
...         {"id": "t1", "type": "function",
...          "function": {"name": "profile", "arguments": "{}"}}]},
...     {"role": "tool", "tool_call_id": "t1", "content": '{"tier": "gold"}'},
... ]
>>> task = task_of(messages)
>>> task.input, task.turn, task.called, task.result("profile")
({'card': 'c1', 'amount': 900}, 1, ['profile'], {'tier': 'gold'})
>>> [m["content"] for m in task.memory]
['{"card": "c1", "amount": 5}', '{"decision": "APPROVE"}']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flink_agents.core import repair_prompt
from flink_agents.testing._model_script import ToolResult, text_of

#: How the agent's repair prompt begins (it follows an answer that did not fit the schema).
_REPAIR = repair_prompt("").split(":", 1)[0]


@dataclass(frozen=True)
class TaskView:
    """The current task of a request: its input, its turns and its tool results.

    ``memory`` holds the conversation's earlier messages (the key's memory), ``messages``
    the task's own, from its input on.
    """

    memory: list[dict[str, Any]]
    messages: list[dict[str, Any]]

    @property
    def input_text(self) -> str:
        """The task's input as the model reads it (JSON text for a JSON input)."""
        return text_of(self.messages[0].get("content")) if self.messages else ""

    @property
    def input(self) -> Any:
        """The task's input, decoded from JSON when it is JSON, else the text."""
        return decoded(self.input_text)

    @property
    def turn(self) -> int:
        """How many answers the model already gave in this task (0 on its first call)."""
        return sum(1 for m in self.messages if m.get("role") == "assistant")

    @property
    def tool_results(self) -> list[ToolResult]:
        """Every tool result of this task, in the order the tools were called."""
        names: dict[Any, Any] = {}
        results = []
        for message in self.messages:
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict):
                    names[call.get("id")] = (call.get("function") or {}).get("name")
            if message.get("role") == "tool":
                call_id = message.get("tool_call_id")
                results.append(
                    ToolResult(
                        name=names.get(call_id) or message.get("name"),
                        call_id=str(call_id or ""),
                        content=text_of(message.get("content")),
                    )
                )
        return results

    @property
    def called(self) -> list[str]:
        """Names of the tools this task has called, in order (repeats kept)."""
        return [r.name for r in self.tool_results if r.name]

    def result(self, tool: str) -> Any:
        """The latest result of ``tool`` in this task, decoded from JSON when it is JSON;
        ``None`` if the task has not called it."""
        for found in reversed(self.tool_results):
            if found.name == tool:
                return decoded(found.content)
        return None


def task_of(messages: list[dict[str, Any]]) -> TaskView:
    """Split a request's messages into the memory and the current task (system prompt left
    out). The task begins at the last user message that is not the agent's repair prompt."""
    chat = [m for m in messages if m.get("role") not in ("system", "developer")]
    start = 0
    for index in range(len(chat) - 1, -1, -1):
        message = chat[index]
        if message.get("role") == "user" and not text_of(message.get("content")).startswith(
            _REPAIR
        ):
            start = index
            break
    return TaskView(memory=chat[:start], messages=chat[start:])


def decoded(text: str) -> Any:
    """JSON text decoded, or the text itself when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text
