"""The project's small Java programs (``local/_java``): compiled with ``javac`` on first use
against the jars they run with, and kept in the jar cache for the next run."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from flink_agents.errors import StackError
from flink_agents.local._process import java_executable


def compiled(source: Path, main: str, classpath: list[str], cache: Path, version: str) -> Path:
    """The folder with ``source``'s classes, compiled once per source and ``version`` (the
    versions of the jars it is compiled against) into ``cache/classes``."""
    digest = hashlib.sha256(source.read_bytes() + version.encode()).hexdigest()[:16]
    target = cache / "classes" / f"{source.stem}-{digest}"
    if (target / f"{main}.class").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(dir=target.parent, prefix=".build-"))
    try:
        done = subprocess.run(
            [javac(), "-nowarn", "-d", str(built), "-cp", os.pathsep.join(classpath), str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"compiling {source} failed:\n{done.stderr.strip()[-3000:]}")
        if not (target / f"{main}.class").is_file():  # another run may have made it meanwhile
            os.replace(built, target)
    finally:
        shutil.rmtree(built, ignore_errors=True)
    return target


def javac() -> str:
    """``javac`` beside the ``java`` that runs the program, else on PATH."""
    beside = Path(java_executable()).resolve().parent / "javac"
    found = str(beside) if beside.is_file() else shutil.which("javac")
    if not found:
        raise StackError(
            "a small Java program of this project is compiled on first use and needs javac, "
            "from a JDK 17 or newer (a JRE has none): install one (Debian/Ubuntu: apt-get "
            "install openjdk-17-jdk-headless) or set JAVA_HOME to a JDK"
        )
    return found
