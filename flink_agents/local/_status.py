"""What ``flink-agents local status`` reports for each part of the stack."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartStatus:
    """One part of the local stack: is it running, its pid and a line for humans."""

    name: str
    running: bool
    pid: int | None = None
    detail: str = ""
