"""Durations written the way people write them: ``"30s"``, ``"500ms"``, ``"7d"``, or seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: Any) -> timedelta:
    """``"30s"`` -> 30 seconds; numbers are seconds; a ``timedelta`` passes through.

    >>> parse_duration("500ms").total_seconds(), parse_duration("7d").days, parse_duration(2.5)
    (0.5, 7, datetime.timedelta(seconds=2, microseconds=500000))
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(f"{value!r} is not a duration: write e.g. '500ms', '30s', '5m', '2h' or '7d'")


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: ``timedelta(seconds=90)`` -> ``"90s"``.

    >>> format_duration(timedelta(days=7)), format_duration(timedelta(milliseconds=250))
    ('7d', '250ms')
    """
    ms = round(value.total_seconds() * 1000)
    for unit, factor in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % factor == 0:
            return f"{ms // factor}{unit}"
    return f"{ms}ms"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
