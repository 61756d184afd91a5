"""Jars of the local stack, fetched once from Maven Central and verified by SHA-256.

``artifacts.lock.json`` pins every jar (the Kafka broker with its runtime dependencies,
the Flink Kafka connector) by coordinates and SHA-256. A download goes to a ``.part``
file that is renamed into the cache only after its digest matches, so an interrupted or
corrupt download never leaves a file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from flink_agents.errors import DownloadError

LOCK_FILE = Path(__file__).with_name("artifacts.lock.json")
_CHUNK = 1 << 16


class Artifact(BaseModel):
    """One jar, pinned by its Maven coordinates and SHA-256."""

    model_config = ConfigDict(frozen=True)

    group: str
    artifact: str
    version: str
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    @property
    def path(self) -> str:
        """Path under a Maven repository root."""
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.filename}"

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"


@cache
def bundles() -> dict[str, tuple[Artifact, ...]]:
    """The locked bundles: ``kafka`` (broker), ``flink-connectors`` and ``state-processor``."""
    raw = json.loads(LOCK_FILE.read_text())
    return {name: tuple(Artifact(**a) for a in items) for name, items in raw.items()}


Progress = Callable[[Artifact, int], None]
"""Called with the artifact and the number of bytes just written."""


def missing(bundle: str, cache_dir: Path) -> list[Artifact]:
    """Artifacts of ``bundle`` not yet in the cache (a present file was verified when saved)."""
    return [a for a in bundles()[bundle] if not (cache_dir / bundle / a.filename).exists()]


def fetch(
    bundle: str, cache_dir: Path, maven_url: str, progress: Progress | None = None
) -> list[Path]:
    """Make sure every jar of ``bundle`` is in ``cache_dir/bundle``; return their paths."""
    return fetch_artifacts(bundles()[bundle], cache_dir / bundle, maven_url, progress)


def fetch_artifacts(
    artifacts: tuple[Artifact, ...],
    target: Path,
    maven_url: str,
    progress: Progress | None = None,
) -> list[Path]:
    """Download each artifact not yet in ``target`` from the Maven repository at ``maven_url``."""
    target.mkdir(parents=True, exist_ok=True)
    for artifact in artifacts:
        if not (target / artifact.filename).exists():
            _download(artifact, f"{maven_url.rstrip('/')}/{artifact.path}", target, progress)
    return [target / a.filename for a in artifacts]


def _download(artifact: Artifact, url: str, target: Path, progress: Progress | None) -> None:
    final = target / artifact.filename
    part = final.with_name(final.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, part.open("wb") as out:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                if progress:
                    progress(artifact, len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {artifact.coordinates} from {url}: {exc}. "
            "Check the network or set FLINK_AGENTS_MAVEN_URL to a reachable Maven mirror."
        ) from None
    if digest.hexdigest() != artifact.sha256:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{artifact.coordinates} from {url} failed its checksum "
            f"(SHA-256 {digest.hexdigest()}, expected {artifact.sha256}); nothing was kept. "
            "A mirror may serve a different file: retry, or use Maven Central."
        )
    os.replace(part, final)
