"""Regenerate ``artifacts.lock.json``: the jars of the local stack with their SHA-256.

For maintainers bumping a version in ``flink_agents/versions.py``; needs Maven (``mvn``).
Maven resolves the runtime closure of each root artifact; every file's SHA-1 is checked
against the one Maven Central publishes before its SHA-256 is pinned here.

    python -m flink_agents.local._lockgen
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from flink_agents import versions
from flink_agents.local._jars import LOCK_FILE, Artifact

BUNDLES: dict[str, list[str]] = {
    "kafka": [
        f"org.apache.kafka:kafka_2.13:{versions.KAFKA_VERSION}",
        f"org.apache.logging.log4j:log4j-slf4j-impl:{versions.LOG4J_VERSION}",
    ],
    "flink-connectors": [
        f"org.apache.flink:flink-sql-connector-kafka:{versions.KAFKA_CONNECTOR_VERSION}",
    ],
    "state-processor": [
        f"org.apache.flink:flink-state-processor-api:{versions.STATE_PROCESSOR_VERSION}",
    ],
}
# The SQL connector is a shaded uber jar; the State Processor API's dependencies are
# Flink's own, which the wheel carries.
NO_DEPENDENCIES = {"flink-connectors", "state-processor"}
CENTRAL = "https://repo1.maven.org/maven2"


def resolve(roots: list[str], transitive: bool) -> list[Artifact]:
    """The runtime closure of ``roots`` (only the roots themselves unless ``transitive``)."""
    deps = "\n".join(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version>"
        "{}</dependency>".format(
            *root.split(":"),
            ""
            if transitive
            else "<exclusions><exclusion><groupId>*"
            "</groupId><artifactId>*</artifactId></exclusion></exclusions>",
        )
        for root in roots
    )
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>lock</groupId><artifactId>lock</artifactId><version>0</version>"
        f"<dependencies>{deps}</dependencies></project>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pom.xml").write_text(pom)
        out = Path(tmp) / "jars"
        subprocess.run(
            [
                "mvn",
                "-q",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                "-Dmdep.useRepositoryLayout=true",
                f"-DoutputDirectory={out}",
            ],
            cwd=tmp,
            check=True,
        )
        jars = sorted(out.rglob("*.jar"))
        return [artifact_for(jar.relative_to(out), jar.read_bytes()) for jar in jars]


def artifact_for(rel: Path, data: bytes) -> Artifact:
    """The lock entry of a jar at ``rel`` in Maven's repository layout, after checking its
    SHA-1 against the one Maven Central publishes."""
    version = rel.parent.name
    artifact = rel.parent.parent.name
    group = ".".join(rel.parent.parent.parent.parts)
    published = urllib.request.urlopen(f"{CENTRAL}/{rel}.sha1").read().decode().split()[0]
    if published != hashlib.sha1(data).hexdigest():
        raise SystemExit(f"{rel}: SHA-1 differs from Maven Central's")
    return Artifact(
        group=group,
        artifact=artifact,
        version=version,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def main() -> None:
    lock = {
        name: [
            artifact.model_dump()
            for artifact in resolve(roots, transitive=name not in NO_DEPENDENCIES)
        ]
        for name, roots in BUNDLES.items()
    }
    LOCK_FILE.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    print(f"wrote {LOCK_FILE} ({sum(len(v) for v in lock.values())} jars)")


if __name__ == "__main__":
    main()
