"""AgentApp: agents attached to Kafka topics, built into one Flink job.

::

    input topics ── route (SQL) ─┐      (unusable inputs -> DLQ)
    events topic (results) ──────┴─ key_by(agent/key) ─ AgentStep ─┬─ outputs ─> topics
                                                                    ├─ events ──> events topic
                                                                    └─ dead letters ─> DLQ
    AgentStep's executor writes each call's result to the events topic, which feeds back in.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyflink.common import Types
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from flink_agents.api._agent import Agent
from flink_agents.api.events import RESULT_KINDS
from flink_agents.config import Settings, load_settings
from flink_agents.errors import ConfigError
from flink_agents.runtime import _router as router
from flink_agents.runtime._env import environments
from flink_agents.runtime._executor import ExecutorConfig
from flink_agents.runtime._kafka_io import KafkaTables, StartFrom, kind_filter
from flink_agents.runtime._step import (
    DEAD_LETTERS,
    EVENTS,
    AgentBinding,
    AgentStep,
    output_tag,
)
from flink_agents.runtime._topics import ensure_topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Source:
    topic: str
    key: str
    start: StartFrom


@dataclass
class _Deployment:
    agent: Agent
    inputs: tuple[str, ...]
    output: str
    carry: tuple[str, ...]
    prompt: str | None = None


@dataclass
class AgentApp:
    """One Flink job hosting one or more agents.

    >>> from flink_agents import Agent, OpenAIModel
    >>> app = AgentApp("fraud", settings=load_settings(environ={}, file=None))
    >>> _ = app.source("transactions", key="card_id")
    >>> _ = app.add(Agent(name="triage", instructions="Decide.", model=OpenAIModel(model="m")),
    ...             outputs="decisions", carry=["transaction_id"])
    >>> app.topics()
    ['transactions', 'decisions', 'fraud.events', 'fraud.dlq']
    """

    name: str
    settings: Settings = field(default_factory=load_settings)
    events_topic: str | None = None
    dead_letter_topic: str | None = None
    exactly_once: bool = False
    create_topics: bool = True
    _sources: dict[str, _Source] = field(default_factory=dict)
    _deployments: list[_Deployment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.events_topic = self.events_topic or f"{self.name}.events"
        self.dead_letter_topic = self.dead_letter_topic or f"{self.name}.dlq"

    def source(self, topic: str, key: str, start: StartFrom = "earliest") -> AgentApp:
        """Read JSON events from ``topic``; ``key`` names the field that keys a conversation."""
        self._sources[topic] = _Source(topic, key, start)
        return self

    def add(
        self,
        agent: Agent,
        *,
        outputs: str,
        inputs: str | list[str] | None = None,
        carry: list[str] | None = None,
        prompt: str | None = None,
    ) -> AgentApp:
        """Run ``agent`` on ``inputs`` (default: every source) and write its results to ``outputs``.

        ``carry`` lists input fields copied into each result (ids that downstream joins need);
        the key field is always carried. ``prompt`` names the input field whose value is what
        the model reads; by default it reads the whole input as JSON.
        """
        if any(d.agent.name == agent.name for d in self._deployments):
            raise ConfigError(f"agent {agent.name!r} was added twice to app {self.name!r}")
        chosen = tuple([inputs] if isinstance(inputs, str) else inputs or self._sources)
        unknown = [t for t in chosen if t not in self._sources]
        if not chosen or unknown:
            raise ConfigError(
                f"agent {agent.name!r} reads {unknown or 'nothing'}: declare each input with "
                f"app.source(topic, key=...) first (declared: {sorted(self._sources)})"
            )
        keys = tuple(dict.fromkeys(self._sources[t].key for t in chosen))
        self._deployments.append(
            _Deployment(
                agent, chosen, outputs, tuple(dict.fromkeys([*keys, *(carry or [])])), prompt
            )
        )
        return self

    def topics(self) -> list[str]:
        names = [*self._sources, *(d.output for d in self._deployments)]
        return list(dict.fromkeys([*names, str(self.events_topic), str(self.dead_letter_topic)]))

    def build(
        self,
        environment: tuple[StreamExecutionEnvironment, StreamTableEnvironment] | None = None,
    ) -> StreamExecutionEnvironment:
        """Declare the job on a Flink environment (creating missing topics); return it.

        ``environment`` is one made by ``runtime._env.environments`` that other parts of the
        same job (the SQL front's tables and queries) are declared on; by default a new one.
        """
        if not self._deployments:
            raise ConfigError(f"app {self.name!r} has no agents: call app.add(agent, ...)")
        runtime = self.settings.runtime
        if self.create_topics:
            ensure_topics(self.settings.bootstrap_servers, self.topics(), runtime.parallelism)
        env, t_env = environment or environments(self.settings, self.name, _job_paths())
        kafka = KafkaTables(
            t_env,
            self.settings.bootstrap_servers,
            group_id=f"flink-agents.{self.name}",
            linger_ms=runtime.producer_linger_ms,
        )
        step = (
            self._records(kafka)
            .key_by(router.route_key, Types.STRING())
            .process(
                AgentStep(
                    [AgentBinding(d.agent, d.output, d.carry, d.prompt) for d in self._deployments],
                    ExecutorConfig(
                        bootstrap_servers=self.settings.bootstrap_servers,
                        events_topic=str(self.events_topic),
                        linger_ms=runtime.producer_linger_ms,
                        recovery_lookback_s=runtime.recovery_lookback_s,
                        recovery_scan_timeout_s=runtime.recovery_scan_timeout_s,
                    ),
                ),
                Types.STRING(),
            )
        )
        step = step.uid(f"agents:{self.name}").name("AgentStep")
        for topic in dict.fromkeys(d.output for d in self._deployments):
            kafka.sink(
                step.get_side_output(output_tag(topic)), topic, exactly_once=self.exactly_once
            )
        kafka.sink(step.get_side_output(EVENTS), str(self.events_topic))
        kafka.sink(step.get_side_output(DEAD_LETTERS), str(self.dead_letter_topic))
        kafka.attach()
        return env

    def run(self) -> None:
        """Build and execute: a MiniCluster under ``python``, the cluster under ``flink run``."""
        self.build().execute(self.name)

    def _records(self, kafka: KafkaTables) -> DataStream:
        """Inputs routed to their agents, and the results read back from the events topic."""
        events = kafka.source_table(str(self.events_topic), start="latest")
        queries = [
            f"SELECT `key`, `value`, `topic`, `partition`, `offset` FROM {events} "
            f"WHERE {kind_filter(RESULT_KINDS)}"
        ]
        for source in self._sources.values():
            agents = tuple(d.agent.name for d in self._deployments if source.topic in d.inputs)
            if not agents:
                continue
            table = kafka.source_table(source.topic, start=source.start)
            queries.append(router.routed(table, source.key, agents))
            kafka.insert(str(self.dead_letter_topic), router.rejected(table, source.key))
        return kafka.stream(" UNION ALL ".join(queries))


def _job_paths() -> list[Path]:
    """Folders the workers need to import the job's own modules (its tools, its models)."""
    script = Path(sys.argv[0]).resolve().parent if sys.argv and sys.argv[0] else Path.cwd()
    return [Path.cwd(), script, script.parent]
