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
