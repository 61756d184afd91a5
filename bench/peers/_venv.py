"""Apache Flink Agents' own virtual environment: the wheel from PyPI (its sha256 checked
against PyPI's JSON index, PEP 691), a Python 3.11 venv, the wheel and apache-flink
installed with the pins of ``bench/peers/constraints.txt``.

It cannot share ``.venv``: its distribution and import package are both ``flink_agents``.
0.2.0 is the newest release whose wheel carries its Java runtime (``flink_agents/lib``);
0.2.1, 0.3.0 and 0.3.1 are source distributions whose jars are neither in them nor on
Maven Central.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

VERSION = "0.2.0"
WHEEL = f"flink_agents-{VERSION}-py3-none-any.whl"
APACHE_FLINK = "apache-flink==2.2.1"
PYPI_INDEX = "https://pypi.org/simple/flink-agents/"
CONSTRAINTS = Path(__file__).with_name("constraints.txt")
_CHUNK = 1 << 20


class PeerSetupError(RuntimeError):
    """The peer's environment could not be made; the message says what to do."""


def ensure(home: Path) -> Path:
    """The peer venv's Python, made (wheel fetched, venv created, packages installed) when
    missing or when the constraints changed."""
    venv = home / "peers" / "venv"
    python = venv / "bin" / "python"
    pins = hashlib.sha256(CONSTRAINTS.read_bytes() + APACHE_FLINK.encode()).hexdigest()[:12]
    stamp = venv / f".installed-{pins}"
    if stamp.exists():
        return python
    wheel = fetch_wheel(home / "cache" / "peers")
    base = shutil.which("python3.11")
    if base is None:
        raise PeerSetupError(
            f"Apache Flink Agents {VERSION} needs Python 3.11 (it requires <3.12): "
            "put python3.11 on PATH"
        )
    print(f"making Apache Flink Agents {VERSION}'s venv in {venv} (a few minutes)", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    _run([base, "-m", "venv", str(venv)])
    _run(
        [
            str(python),
            *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("-c", str(CONSTRAINTS), str(wheel), APACHE_FLINK),
        ]
    )
    _run([str(python), "-m", "pip", "check"])
    stamp.touch()
    return python


def fetch_wheel(cache: Path) -> Path:
    """The 0.2.0 wheel in ``cache``, downloaded when missing; its sha256 is PyPI's."""
    url, expected = _pypi_file()
    wheel = cache / WHEEL
    if wheel.exists() and _sha256(wheel) == expected:
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    part = wheel.with_name(wheel.name + ".part")
    print(f"downloading {url} (about 420 MB)", flush=True)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as answer, part.open("wb") as out:
        while chunk := answer.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
    if digest.hexdigest() != expected:
        part.unlink()
        raise PeerSetupError(
            f"{url} has sha256 {digest.hexdigest()}, PyPI lists {expected}: nothing was kept; "
            "check for a proxy rewriting downloads and run again"
        )
    part.rename(wheel)
    return wheel


def _pypi_file() -> tuple[str, str]:
    """The wheel's URL and sha256 as PyPI's index lists them."""
    request = urllib.request.Request(
        PYPI_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        index = json.loads(answer.read())
    for file in index["files"]:
        if file["filename"] == WHEEL:
            return str(file["url"]), str(file["hashes"]["sha256"])
    raise PeerSetupError(f"PyPI lists no {WHEEL} at {PYPI_INDEX}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _run(command: list[str]) -> None:
    if subprocess.run(command, check=False).returncode != 0:
        raise PeerSetupError(f"this failed: {' '.join(command)}")
