"""What both systems of a benchmark share and neither's library defines: the tools' bodies,
the instructions and the input events.

Plain Python with no import of either agent framework, so that the peer's job (which runs
in its own virtual environment, where ``flink_agents`` is Apache Flink Agents) uses the
same functions as ``bench.workloads``.
"""

from __future__ import annotations

import hashlib

KEY_FIELD = "key"

INSTRUCTIONS = {
    "classifier": "Label the event normal or suspicious, with a score in 0..1.",
    "react": "Check the account with the tools one at a time, then answer with the evidence count.",
    "tool": "Check the account's age with the tool, then answer with the evidence count.",
}

#: Tool calls per task: the script asks for each tool once, one per turn; every task ends
#: with one more model call, the answer.
TOOL_CALLS = {"classifier": 0, "react": 3, "tool": 1}


def account_age(account: str) -> int:
    """Days since the account was opened."""
    return _digest(account, "age") % 3650


def recent_volume(account: str) -> int:
    """Number of transactions of the account in the last 30 days."""
    return _digest(account, "volume") % 200


def peer_score(account: str) -> float:
    """Share of the account's peers flagged as risky, 0..1."""
    return (_digest(account, "peers") % 1000) / 1000


#: The tools in the order the script asks for them.
TOOL_FUNCTIONS = (account_age, recent_volume, peer_score)


def event(index: int, keys: int) -> dict[str, object]:
    """The ``index``-th input event, spread over ``keys`` keys."""
    return {"id": index, KEY_FIELD: f"acct-{index % keys:05d}", "amount": (index * 37) % 5000 / 10}


def _digest(account: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{account}".encode()).digest()[:4], "big")
