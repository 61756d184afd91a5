"""Savepoints of the local cluster: the folders Flink writes under ``home/savepoints``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# Flink names a savepoint folder after the first six hex digits of its job's id.
_FOLDER = re.compile(r"^savepoint-([0-9a-f]{6})-[0-9a-f]+$")


@dataclass(frozen=True)
class Savepoint:
    """One complete savepoint: a folder with Flink's ``_metadata`` file in it."""

    path: Path
    job_prefix: str
    taken: datetime
    size_bytes: int

    def matches(self, job_id: str) -> bool:
        return job_id.startswith(self.job_prefix)


def list_savepoints(folder: Path) -> list[Savepoint]:
    """The complete savepoints in ``folder``, newest first (a folder without ``_metadata``
    is one still being written, or one that failed).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "savepoint-0a1b2c-5d6e7f8a9b0c").mkdir()
    >>> _ = (root / "savepoint-0a1b2c-5d6e7f8a9b0c" / "_metadata").write_bytes(b"12345")
    >>> (root / "savepoint-0a1b2c-000000000000").mkdir()  # incomplete: no _metadata
    >>> [(s.path.name, s.job_prefix, s.size_bytes) for s in list_savepoints(root)]
    [('savepoint-0a1b2c-5d6e7f8a9b0c', '0a1b2c', 5)]
    """
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        name = _FOLDER.match(path.name)
        metadata = path / "_metadata"
        if not (name and metadata.is_file()):
            continue
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        taken = datetime.fromtimestamp(metadata.stat().st_mtime, UTC)
        found.append(Savepoint(path.resolve(), name.group(1), taken, size))
    return sorted(found, key=lambda s: s.taken, reverse=True)
