"""A plain Python function that SQL registers with CREATE FUNCTION ... LANGUAGE PYTHON."""

from __future__ import annotations

from flink_agents import tool


@tool
def double_it(n: int) -> int:
    """Twice n.

    Args:
        n: The number to double.
    """
    return 2 * n
