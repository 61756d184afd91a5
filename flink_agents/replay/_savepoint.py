"""The savepoint a replay starts from: checked, and the instant it was taken."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flink_agents.errors import ConfigError
from flink_agents.local._inspect import savepoint_path


@dataclass(frozen=True)
class StartingPoint:
    """A savepoint (or retained checkpoint) folder and when it was taken."""

    path: str
    #: When Flink finished writing its ``_metadata`` (epoch milliseconds); None for a
    #: savepoint on another file system (``s3://...``), whose time is not read.
    taken_ms: int | None


def starting_point(savepoint: str) -> StartingPoint:
    """``savepoint`` checked: a folder with Flink's ``_metadata`` file (a savepoint or a
    retained checkpoint ``chk-N``), or a URI of another file system, passed on as it is.

    >>> import tempfile, os
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "_metadata").write_bytes(b"x")
    >>> os.utime(folder / "_metadata", (1700000000, 1700000000))
    >>> starting_point(str(folder)).taken_ms
    1700000000000
    >>> starting_point(str(folder.parent / "nowhere"))
    Traceback (most recent call last):
    ...
    flink_agents.errors.ConfigError: ...nowhere is not a complete savepoint (no _metadata ...
    """
    path = savepoint_path(savepoint)
    metadata = Path(path) / "_metadata"
    if not metadata.is_file():  # another file system: Flink reads it
        return StartingPoint(path, None)
    return StartingPoint(path, int(metadata.stat().st_mtime * 1000))


def replay_start_ms(point: StartingPoint) -> int:
    """Where a replay from ``point`` starts when no ``--from`` is given: the savepoint's time."""
    if point.taken_ms is None:
        raise ConfigError(
            f"the time of savepoint {point.path} is not known here (it is not on this "
            "machine's file system): give the first input's time with --from"
        )
    return point.taken_ms
