"""The Python that Flink's workers run: this interpreter and the folders it imports from.

Flink runs Python functions either in a separate worker process (``process`` mode) or
inside the TaskManager's JVM through pemja (``thread`` mode). An embedded interpreter does
not read a virtualenv's ``pyvenv.cfg`` nor its ``.pth`` files, so the folders of this
environment (site-packages, and the source folders of editable installs such as this
project's) are handed to Flink as ``python.pythonpath``.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

import flink_agents


def python_executable() -> str:
    return sys.executable


def worker_pythonpath(extra: list[Path] | None = None) -> list[str]:
    """Folders a Flink Python worker needs on ``sys.path`` to import what this one imports."""
    folders: list[Path] = [Path(sysconfig.get_paths()["purelib"])]
    folders += [Path(p) for p in site.getsitepackages()]
    folders.append(Path(flink_agents.__file__).resolve().parent.parent)
    for pth in Path(sysconfig.get_paths()["purelib"]).glob("*.pth"):
        folders += _pth_folders(pth)
    folders += extra or []
    seen: dict[str, None] = {}
    for folder in folders:
        if folder.is_dir():
            seen.setdefault(str(folder.resolve()), None)
    return list(seen)


def _pth_folders(pth: Path) -> list[Path]:
    """Plain folder lines of a ``.pth`` file (editable installs); ``import`` lines are code."""
    out = []
    for line in pth.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "import ")):
            out.append(Path(line))
    return out
