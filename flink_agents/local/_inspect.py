"""One conversation key's agent state, read offline from a savepoint.

Flink's State Processor API (``SavepointReader.readKeyedState``) reads keyed state from a
savepoint in a local MiniCluster. It is a Java API, and PyFlink keys its keyed state by a
one-field row, which only a Java program can name as the key type; so a small Java program
ships with this package (``_java/AgentStateReader.java``). It is compiled with ``javac`` on
first use against the Flink jars of the installed ``apache-flink`` wheel and the
``flink-state-processor-api`` jar (from Maven Central into the jar cache, its SHA-256
checked like every other jar), and the classes are kept in the cache for the next run.

The agent operator's state is JSON text (``runtime/_step.py``): the Java side hands it over
as it is, and it is decoded here.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flink_agents import versions
from flink_agents.config import Settings
from flink_agents.errors import ConfigError, StackError
from flink_agents.local._flink import flink_home
from flink_agents.local._jars import fetch
from flink_agents.local._javac import compiled
from flink_agents.local._jobs import root_cause
from flink_agents.local._process import java_executable

#: The jar bundle (``local/artifacts.lock.json``) with the State Processor API.
BUNDLE = "state-processor"
SOURCE = Path(__file__).with_name("_java") / "AgentStateReader.java"
MAIN = "AgentStateReader"
#: The Java program's exit code for a savepoint it cannot read (its message on stderr).
_UNREADABLE = 2


@dataclass(frozen=True)
class KeyState:
    """What a savepoint holds for one conversation key of one agent."""

    agent: str
    key: str
    #: The uid of the operator that holds it (``agents:<app>``).
    operator: str
    #: The running task (input, conversation so far, step, awaited calls), or None.
    task: dict[str, Any] | None
    #: Inputs waiting behind the task, oldest first.
    queue: list[dict[str, Any]]
    #: The remembered messages (inputs and final answers), oldest first.
    memory: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "key": self.key,
            "operator": self.operator,
            "task": self.task,
            "queue": self.queue,
            "memory": self.memory,
        }


def read_key_state(
    settings: Settings,
    savepoint: str,
    key: str,
    *,
    agent: str | None = None,
    app: str | None = None,
) -> list[KeyState]:
    """The state of conversation ``key`` in ``savepoint`` (a folder or a ``file:`` URI), one
    entry per agent that has state for it (only ``agent`` when given; only app ``app``'s
    operator when given).

    A savepoint without state for the key is a ``ConfigError`` that says what it holds.
    """
    path = savepoint_path(savepoint)
    found = _run_reader(settings, path, key, agent, app)
    operators = found["operators"]
    states = [_key_state(op["uid"], row) for op in operators for row in op.get("found", [])]
    if not states:
        raise ConfigError(_not_found(savepoint, key, agent, app, found))
    return states


def savepoint_path(savepoint: str) -> str:
    """The savepoint's folder, checked: it has Flink's ``_metadata`` file.

    Other file systems (``s3://...``) are passed to Flink as they are.
    """
    scheme, sep, _ = savepoint.partition("://")
    if sep and scheme != "file":
        return savepoint
    folder = Path(savepoint.removeprefix("file://").removeprefix("file:"))
    if not (folder / "_metadata").is_file():
        raise ConfigError(
            f"{savepoint} is not a complete savepoint (no _metadata file in it); "
            "`flink-agents savepoints` lists the local cluster's savepoints"
        )
    return str(folder.resolve())


def _key_state(operator: str, row: dict[str, Any]) -> KeyState:
    queue = sorted((int(seq), json.loads(raw)) for seq, raw in (row.get("queue") or {}).items())
    task = row.get("task")
    return KeyState(
        agent=row["agent"],
        key=row["key"],
        operator=operator,
        task=json.loads(task) if task else None,
        queue=[item for _, item in queue],
        memory=[json.loads(m) for m in row.get("history") or []],
    )


def _not_found(
    savepoint: str, key: str, agent: str | None, app: str | None, found: dict[str, Any]
) -> str:
    operators = found["operators"]
    if not operators:
        wanted = f"agents:{app}" if app else "agents:<app>"
        uids = ", ".join(found["uids"]) or "none"
        return (
            f"{savepoint} holds no agent operator (uid {wanted}); the operators it holds state "
            f"for have the uids: {uids}"
        )
    held = {name: op for op in operators for name in op["agents"]}
    if agent is not None and agent not in held:
        return (
            f"{savepoint} holds no state of agent {agent!r}; its agents: "
            f"{', '.join(sorted(held)) or 'none'}"
        )
    counts = []
    for op in operators:
        for name, count in sorted(op.get("keys", {}).items()):
            some = ", ".join(op["samples"].get(name, []))
            counts.append(f"agent {name} ({op['uid']}) has {count} keys, such as {some}")
    who = f"agent {agent!r}" if agent else "any agent"
    return (
        f"{savepoint} holds no state for key {key!r} of {who}; "
        + ("; ".join(counts) or "it holds no keys at all")
        + ". The key is the value of the input's key field, without the agent's name."
    )


def _run_reader(
    settings: Settings, path: str, key: str, agent: str | None, app: str | None
) -> dict[str, Any]:
    classpath = [
        str(_compiled(settings)),
        *(str(j) for j in fetch(BUNDLE, settings.jar_cache, settings.maven_url)),
        str(flink_home() / "lib" / "*"),
    ]
    cmd = [java_executable(), "-cp", os.pathsep.join(classpath), MAIN]
    done = subprocess.run(
        [*cmd, path, key, agent or "-", app or "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == _UNREADABLE:
        raise ConfigError(f"{path}: {done.stderr.strip()}")
    if done.returncode != 0:
        raise StackError(
            f"reading {path} with Flink's State Processor API failed: {root_cause(done.stderr)}"
        )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _compiled(settings: Settings) -> Path:
    """The folder with the reader's classes, compiled once per source and Flink version."""
    jars = fetch(BUNDLE, settings.jar_cache, settings.maven_url)
    classpath = [*(str(j) for j in jars), str(flink_home() / "lib" / "*")]
    version = f"{versions.FLINK_VERSION} {versions.STATE_PROCESSOR_VERSION}"
    return compiled(SOURCE, MAIN, classpath, settings.jar_cache.parent, version)
