"""Reflection, as the state machine sees it: what the critic reads, what it must answer, and
what the drafter reads when a draft is sent back. Plain text in, plain data out.

>>> verdict('{"accept": false, "feedback": "Cite the policy."}')
Verdict(accept=False, feedback='Cite the policy.')
>>> verdict("```json\\n{\\"accept\\": true}\\n```").accept
True
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, ValidationError

from flink_agents.api import Reflection
from flink_agents.errors import explain


class Verdict(BaseModel):
    """The critic's answer to one draft."""

    model_config = ConfigDict(frozen=True)

    accept: bool
    feedback: str = ""

    def __repr__(self) -> str:
        return f"Verdict(accept={self.accept}, feedback={self.feedback!r})"


def critic_system(reflection: Reflection) -> str:
    """The critic's system prompt: its instructions and the verdict it must reply with."""
    schema = json.dumps(Verdict.model_json_schema(), separators=(",", ":"))
    return (
        f"{reflection.critic}\n\nYou judge a draft answer to a request. Reply with only a JSON "
        'object: {"accept": true} when the draft is good enough, or {"accept": false, '
        '"feedback": "..."} saying what must change. It must match this JSON schema:\n'
        f"{schema}"
    )


def critique_request(request: str, draft: str) -> list[dict[str, str]]:
    """The critic's conversation for one draft: the request and the draft."""
    return [{"role": "user", "content": f"Request:\n{request}\n\nDraft:\n{draft}"}]


def revision_request(feedback: str) -> dict[str, str]:
    """What the drafter reads after its draft was sent back."""
    return {
        "role": "user",
        "content": (
            f"A reviewer sent the draft back: {feedback or 'no reason given'}\n"
            "Write the whole answer again, improved."
        ),
    }


def verdict(text: str) -> Verdict:
    """The critic's reply as a verdict; ``ValueError`` saying what does not fit."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    try:
        return Verdict.model_validate_json(stripped.strip())
    except ValidationError as exc:
        raise ValueError(explain(exc)) from None
