"""A peer agent as the model sees it: a function tool named after the peer."""

from __future__ import annotations

from typing import Any


def peer_tool_schema(
    peer: str, description: str = "", skills: list[str] | None = None
) -> dict[str, Any]:
    """The OpenAI function-tool schema of a peer: one ``message`` argument, the request.

    ``description`` and ``skills`` come from the peer's agent card when it is published.

    >>> schema = peer_tool_schema("compliance-review", "Reviews risky payments.", ["aml"])
    >>> schema["function"]["name"], schema["function"]["parameters"]["required"]
    ('compliance-review', ['message'])
    >>> schema["function"]["description"]
    'Ask the agent compliance-review. Reviews risky payments. Skills: aml.'
    """
    text = f"Ask the agent {peer}."
    if description:
        text += f" {description.strip()}"
    if skills:
        text += f" Skills: {', '.join(skills)}."
    return {
        "type": "function",
        "function": {
            "name": peer,
            "description": text,
            "parameters": {
                "type": "object",
                "properties": {
                    "message": {
                        "type": "string",
                        "description": "The request, with every fact the agent needs.",
                    }
                },
                "required": ["message"],
                "additionalProperties": False,
            },
        },
    }


def ask_tool_schema() -> dict[str, Any]:
    """The built-in tool of an agent with ``human_input``: ask the requester a question.

    >>> ask_tool_schema()["function"]["name"]
    'ask_for_input'
    """
    from flink_agents.core import ASK_TOOL

    return {
        "type": "function",
        "function": {
            "name": ASK_TOOL,
            "description": (
                "Ask whoever sent this request for information you cannot get otherwise; the "
                "task waits for the answer, which is this tool's result."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "question": {
                        "type": "string",
                        "description": "The question, complete enough to answer without context.",
                    }
                },
                "required": ["question"],
                "additionalProperties": False,
            },
        },
    }
