"""The jar cache against a real HTTP server laid out as a Maven repository."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flink_agents.errors import DownloadError
from flink_agents.local import Artifact, bundles, fetch_artifacts

CONTENT = b"PK\x03\x04" + bytes(range(256)) * 400


class Repo:
    """Serves ``files`` by path; ``truncate`` cuts bodies short to simulate a broken transfer."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.truncate = False
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                repo.requests.append(self.path)
                body = repo.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if repo.truncate else body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/maven2"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def repo() -> Iterator[Repo]:
    served = Repo()
    yield served
    served.server.shutdown()


def artifact(content: bytes = CONTENT) -> Artifact:
    return Artifact(
        group="org.example",
        artifact="demo",
        version="1.0",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )


def test_downloads_once_and_reports_progress(repo: Repo, tmp_path: Path):
    jar = artifact()
    repo.files[f"maven2/{jar.path}"] = CONTENT
    seen: list[int] = []

    [path] = fetch_artifacts((jar,), tmp_path, repo.url, lambda _a, n: seen.append(n))
    fetch_artifacts((jar,), tmp_path, repo.url)

    assert path.read_bytes() == CONTENT
    assert sum(seen) == len(CONTENT)
    assert len(repo.requests) == 1  # the second run found it in the cache


def test_checksum_mismatch_keeps_nothing(repo: Repo, tmp_path: Path):
    jar = artifact()
    repo.files[f"maven2/{jar.path}"] = CONTENT[:-1] + b"!"

    with pytest.raises(DownloadError, match=r"org.example:demo:1.0 .* failed its checksum"):
        fetch_artifacts((jar,), tmp_path, repo.url)

    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_leaves_no_half_file(repo: Repo, tmp_path: Path):
    jar = artifact()
    repo.files[f"maven2/{jar.path}"] = CONTENT
    repo.truncate = True

    with pytest.raises(DownloadError):
        fetch_artifacts((jar,), tmp_path, repo.url)
    assert list(tmp_path.iterdir()) == []

    repo.truncate = False
    [path] = fetch_artifacts((jar,), tmp_path, repo.url)
    assert path.read_bytes() == CONTENT


def test_missing_artifact_names_coordinates_and_url(repo: Repo, tmp_path: Path):
    with pytest.raises(DownloadError, match=r"org.example:demo:1.0 from http://.*404"):
        fetch_artifacts((artifact(),), tmp_path, repo.url)


def test_lock_pins_the_broker_and_the_connector_of_versions_py():
    from flink_agents import versions

    coords = {a.coordinates for bundle in bundles().values() for a in bundle}
    assert f"org.apache.kafka:kafka_2.13:{versions.KAFKA_VERSION}" in coords
    connector = f"org.apache.flink:flink-sql-connector-kafka:{versions.KAFKA_CONNECTOR_VERSION}"
    assert connector in coords
    reader = f"org.apache.flink:flink-state-processor-api:{versions.STATE_PROCESSOR_VERSION}"
    assert reader in coords
    assert all(len(a.sha256) == 64 for bundle in bundles().values() for a in bundle)
