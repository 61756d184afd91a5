"""One key's agent state read from a savepoint or a retained checkpoint.

Flink's State Processor API reads keyed state offline; its SQL connector (``'connector' =
'savepoint'``, in the ``flink-state-processor-api`` jar) makes the agent operator's state a
table with one row per key, which a batch query on a MiniCluster in this process reads.
The state is JSON text (``runtime/_step.py``), so what comes back is what the task held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flink_agents.config import Settings
from flink_agents.errors import ConfigError
from flink_agents.local import fetch
from flink_agents.runtime._kafka_io import literal

#: The jar bundle (``local/artifacts.lock.json``) with the savepoint SQL connector.
BUNDLE = "state-processor"


@dataclass(frozen=True)
class KeyState:
    """What a savepoint holds for one conversation key of one agent."""

    #: The running task (input, conversation so far, step, awaited calls), or None.
    task: dict[str, Any] | None
    #: Inputs waiting behind the task, oldest first.
    queue: list[dict[str, Any]]
    #: The remembered messages (inputs and final answers), oldest first.
    memory: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "queue": self.queue, "memory": self.memory}


def operator_uid(app: str) -> str:
    """The uid of an app's agent operator (``runtime/_app.py`` sets it).

    >>> operator_uid("fraud-triage")
    'agents:fraud-triage'
    """
    return f"agents:{app}"


def state_table_sql(name: str, path: str, app: str, agent: str) -> str:
    """The DDL of the table over the agent operator's keyed state of ``agent``.

    >>> print(state_table_sql("t", "/sp/savepoint-1", "fraud", "triage")[:60])
    CREATE TEMPORARY TABLE t (`k` STRING, `task` STRING, `queue`
    """
    options = {
        "connector": "savepoint",
        "state.backend.type": "hashmap",
        "state.path": path,
        "operator.uid": operator_uid(app),
        "fields.task.state-name": f"task:{agent}",
        "fields.queue.state-name": f"queue:{agent}",
        "fields.queue.state-type": "map",
        "fields.history.state-name": f"history:{agent}",
        "fields.history.state-type": "list",
    }
    with_clause = ", ".join(f"'{k}' = '{literal(v)}'" for k, v in options.items())
    return (
        f"CREATE TEMPORARY TABLE {name} (`k` STRING, `task` STRING, "
        "`queue` MAP<BIGINT, STRING>, `history` ARRAY<STRING>, PRIMARY KEY (`k`) NOT ENFORCED) "
        f"WITH ({with_clause})"
    )


def read_key_state(
    settings: Settings, savepoint: str, app: str, agent: str, key: str
) -> KeyState | None:
    """The state of ``agent``'s conversation ``key`` in ``savepoint`` (a folder or a
    ``file://`` URI); None when the savepoint holds nothing for that key."""
    path = _state_path(savepoint)
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    jars = fetch(BUNDLE, settings.jar_cache, settings.maven_url)
    conf = Configuration()
    conf.set_string("pipeline.jars", ";".join(j.resolve().as_uri() for j in jars))
    conf.set_string("parallelism.default", "1")
    env = EnvironmentSettings.new_instance().in_batch_mode().with_configuration(conf).build()
    t_env = TableEnvironment.create(env)
    t_env.execute_sql(state_table_sql("agent_state", path, app, agent))
    context = f"{agent}/{key}"
    query = f"SELECT `task`, `queue`, `history` FROM agent_state WHERE `k` = '{literal(context)}'"
    with t_env.execute_sql(query).collect() as rows:
        found = list(rows)
    if not found:
        return None
    task, queue, history = found[0]
    return KeyState(
        task=json.loads(task) if task else None,
        queue=[json.loads(v) for _, v in sorted((queue or {}).items())],
        memory=[json.loads(m) for m in history or []],
    )


def _state_path(savepoint: str) -> str:
    """The savepoint's folder, checked: it has Flink's ``_metadata`` file."""
    folder = Path(savepoint.removeprefix("file://"))
    if not (folder / "_metadata").is_file():
        raise ConfigError(
            f"{savepoint} is not a complete savepoint or checkpoint (no _metadata file in it); "
            "`flink-agents savepoints` lists the local cluster's savepoints"
        )
    return str(folder.resolve())
