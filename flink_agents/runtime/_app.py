"""AgentApp: agents attached to Kafka topics, built into one Flink job.

::

    input topics ── route (SQL) ─┐      (unusable inputs -> DLQ)
    events topic (results) ──────┴─ keyBy(agent/key) ── AgentStep ─ records ─> one Kafka sink
                                       (each row names its topic: DLQ, outputs, peers)
                                                                   └ steps ─> events topic
                                                                     (a sink that lingers)
    AgentStep's executor writes each call's result to the events topic, which feeds back in.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyflink.common import Types
from pyflink.datastream import KeyedStream, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from flink_agents.a2a import GATEWAY_REPLIES_TOPIC, inbox_topic
from flink_agents.a2a._card import agent_card, card_summary
from flink_agents.a2a._registry import publish_cards, read_cards
from flink_agents.api import Agent
from flink_agents.api.events import RESULT_KINDS
from flink_agents.config import Settings, load_settings
from flink_agents.core import GatewayView, is_url
from flink_agents.detect import AnomalyDetector
from flink_agents.errors import ConfigError
from flink_agents.runtime import _router as router
from flink_agents.runtime import _transactions as transactions
from flink_agents.runtime._detect import attach_detector
from flink_agents.runtime._env import environments
from flink_agents.runtime._executor_config import ExecutorConfig
from flink_agents.runtime._kafka_io import KafkaTables, StartFrom, kind_filter, side_output
from flink_agents.runtime._peers_io import inbox_rejected, inbox_rows, reply_rows
from flink_agents.runtime._replay import RecordedLog, ReplayPlan, replay_topic
from flink_agents.runtime._step import (
    RECORDS,
    STEPS,
    AgentBinding,
    AgentStep,
    Routes,
    output_tag,
)
from flink_agents.runtime._topics import ensure_topics

log = logging.getLogger(__name__)

#: How far before the job's build a fresh job reads the events topic back: the results of
#: its first calls carry the worker's clock, which may run behind the client's.
_RESULTS_CLOCK_SKEW_S = 60.0


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


@dataclass(frozen=True)
class _Detection:
    detector: AnomalyDetector
    readings: str
    anomalies: str


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
    create_topics: bool = True  # False (a dry run): no topic created, no card published
    _sources: dict[str, _Source] = field(default_factory=dict)
    _deployments: list[_Deployment] = field(default_factory=list)
    _detections: list[_Detection] = field(default_factory=list)

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

        An agent with ``callers`` also serves other agents' A2A requests from its inbox topic;
        such an agent may have no inputs at all (``inputs=[]``).

        ``carry`` lists input fields copied into each result (ids that downstream joins need);
        the key field is always carried. ``prompt`` names the input field whose value is what
        the model reads; by default it reads the whole input as JSON.
        """
        if any(d.agent.name == agent.name for d in self._deployments):
            raise ConfigError(f"agent {agent.name!r} was added twice to app {self.name!r}")
        if isinstance(inputs, str):
            chosen: tuple[str, ...] = (inputs,)
        else:
            chosen = tuple(self._sources if inputs is None else inputs)
        unknown = [t for t in chosen if t not in self._sources]
        if (not chosen and not agent.callers) or unknown:
            raise ConfigError(
                f"agent {agent.name!r} reads {unknown or 'nothing'}: declare each input with "
                f"app.source(topic, key=...) first (declared: {sorted(self._sources)})"
            )
        self._gateway(agent)  # an agent shown in the gateway must accept it: checked now
        keys = tuple(dict.fromkeys(self._sources[t].key for t in chosen))
        self._deployments.append(
            _Deployment(
                agent, chosen, outputs, tuple(dict.fromkeys([*keys, *(carry or [])])), prompt
            )
        )
        return self

    def detect(self, detector: AnomalyDetector, *, readings: str, anomalies: str) -> AgentApp:
        """Run ``detector`` over the JSON readings of ``readings``; write anomalies to
        ``anomalies``. An agent reacts to them once that topic is a source:

        >>> from flink_agents.detect import AnomalyDetector
        >>> app = AgentApp("plant", settings=load_settings(environ={}, file=None))
        >>> spec = AnomalyDetector(key="machine_id", metrics=["vibration", "temperature"])
        >>> _ = app.detect(spec, readings="sensor-readings", anomalies="anomalies")
        >>> _ = app.source("anomalies", key="machine_id")
        >>> app.topics()
        ['sensor-readings', 'anomalies', 'plant.events', 'plant.dlq']
        """
        if readings == anomalies:
            raise ConfigError(f"detector reads and writes the same topic {readings!r}")
        if any(d.readings == readings for d in self._detections):
            raise ConfigError(f"topic {readings!r} already has a detector in app {self.name!r}")
        self._detections.append(_Detection(detector, readings, anomalies))
        return self

    def topics(self) -> list[str]:
        detected = [t for d in self._detections for t in (d.readings, d.anomalies)]
        names = [*detected, *self._sources, *(d.output for d in self._deployments)]
        own = [str(self.events_topic), str(self.dead_letter_topic)]
        shown = (
            [GATEWAY_REPLIES_TOPIC]
            if any(d.agent.show_in_gateway for d in self._deployments)
            else []
        )
        return list(dict.fromkeys([*names, *own, *self._inboxes(), *self._peer_inboxes(), *shown]))

    def _inboxes(self) -> list[str]:
        """Inbox topics of the agents that accept requests from other agents."""
        return [inbox_topic(d.agent.name) for d in self._deployments if d.agent.callers]

    def _peer_inboxes(self) -> list[str]:
        """Inbox topics of the peers this app's agents delegate to."""
        peers = dict.fromkeys(p for d in self._deployments for p in d.agent.peers)
        return [inbox_topic(p) for p in peers if not is_url(p)]

    def build(
        self,
        environment: tuple[StreamExecutionEnvironment, StreamTableEnvironment] | None = None,
    ) -> StreamExecutionEnvironment:
        """Declare the job on a Flink environment (creating missing topics); return it.

        ``environment`` is one made by ``runtime._env.environments`` that other parts of the
        same job (the SQL front's tables and queries) are declared on; by default a new one.
        """
        if not self._deployments and not self._detections:
            raise ConfigError(
                f"app {self.name!r} has no agents: call app.add(agent, ...) or app.detect(...)"
            )
        runtime = self.settings.runtime
        timeout_s = self._check_exactly_once()
        self._between_ms()  # a replay's range is checked before anything is created
        if self.create_topics:
            written = [self._written(t) for t in self.topics() if t not in self._sources]
            ensure_topics(
                self.settings.bootstrap_servers, [*self._sources, *written], runtime.parallelism
            )
        replay = self.settings.replay
        if not replay.active and self.create_topics:
            # A replay is not an agent others can reach; a dry run touches no topic.
            self._publish_cards()
        env, t_env = environment or environments(self.settings, self.name, _job_paths())
        kafka = KafkaTables(
            t_env,
            self.settings.bootstrap_servers,
            group_id=self._written(f"flink-agents.{self.name}"),
            linger_ms=runtime.producer_linger_ms,
            compression=runtime.producer_compression,
            transaction_timeout_ms=int(timeout_s * 1000),
        )
        if not replay.active:
            # A replay reruns the agents on the anomalies already in the log; the detector
            # is deterministic, and running it again would write to live topics.
            for detection in self._detections:
                attach_detector(
                    kafka,
                    detection.detector,
                    readings=detection.readings,
                    anomalies=detection.anomalies,
                    dead_letters=str(self.dead_letter_topic),
                    uid=f"detect:{self.name}:{detection.readings}",
                )
        if self._deployments:
            self._agents(kafka)
        kafka.attach()
        return env

    def _agents(self, kafka: KafkaTables) -> None:
        """The agents' part of the job: routed inputs and results ─ AgentStep ─ topics."""
        runtime = self.settings.runtime
        replay = self.settings.replay
        recorded = None
        if replay.active:
            self._plan().write(self.settings.home)
            if replay.mode == "exact":
                recorded = RecordedLog(
                    self.settings.bootstrap_servers, str(self.events_topic), self._recorded_ms()
                )
        routes = self._routes()
        step = self._records(kafka).process(
            AgentStep(
                [
                    AgentBinding(d.agent, d.output, d.carry, d.prompt, self._gateway(d.agent))
                    for d in self._deployments
                ],
                ExecutorConfig(
                    bootstrap_servers=self.settings.bootstrap_servers,
                    events_topic=self._written(str(self.events_topic)),
                    linger_ms=runtime.producer_linger_ms,
                    producer={"compression.type": runtime.producer_compression},
                    peers=self._peer_cards(),
                    recovery_lookback_s=runtime.recovery_lookback_s,
                    recovery_scan_timeout_s=runtime.recovery_scan_timeout_s,
                    recorded=recorded,
                    otlp_endpoint=self._otlp_endpoint(),
                    otlp_service=self.name,
                ),
                routes,
            ),
            Types.STRING(),
        )
        step = step.uid(f"agents:{self.name}").name("AgentStep")
        if self.exactly_once:
            for topic in dict.fromkeys(d.output for d in self._deployments):
                kafka.sink(
                    side_output(step, output_tag(topic)),
                    self._written(topic),
                    exactly_once=True,
                )
        # One producer for everything else: the rows name their topics.
        kafka.sink_to_named_topics(side_output(step, RECORDS))
        if routes.steps:
            kafka.sink(
                side_output(step, STEPS), routes.events, linger_ms=runtime.events_log_linger_ms
            )

    def _routes(self) -> Routes:
        """Where AgentStep writes: a replay's own topics, so live peers never see its requests
        and live requesters never get its answers."""
        return Routes(
            events=self._written(str(self.events_topic)),
            dead_letters=self._written(str(self.dead_letter_topic)),
            outputs={d.output: self._written(d.output) for d in self._deployments},
            inboxes={t: self._written(t) for t in self._peer_inboxes()},
            exactly_once=self.exactly_once,
            replies=not self.settings.replay.active,
            steps=self._logs_steps(),
        )

    def _logs_steps(self) -> bool:
        """Whether each step's events go to the events topic: always in a replay, whose own
        log is small and is what ``replay`` waits on and ``trace`` shows; otherwise as
        ``runtime.events_log`` says."""
        return self.settings.replay.active or self.settings.runtime.events_log == "full"

    def run(self) -> None:
        """Build and execute: a MiniCluster under ``python``, the cluster under ``flink run``."""
        self.build().execute(self.name)

    def _check_exactly_once(self) -> float:
        """The transaction timeout of exactly-once outputs, after checking that the settings
        and the broker allow it (0 when outputs are at least once)."""
        if not self.exactly_once:
            return 0.0
        timeout_s = transactions.check_settings(self.settings.runtime, self.name)
        transactions.check_broker(self.settings.bootstrap_servers, timeout_s, self.name)
        return timeout_s

    def _plan(self) -> ReplayPlan:
        replay = self.settings.replay
        from_ms, to_ms = self._between_ms() or (0, 0)
        inputs = {
            t: [d.agent.name for d in self._deployments if t in d.inputs] for t in self._sources
        }
        return ReplayPlan(
            name=replay.name,
            mode=replay.mode,
            app=self.name,
            from_ms=from_ms,
            to_ms=to_ms,
            events_topic=str(self.events_topic),
            replay_events_topic=self._written(str(self.events_topic)),
            dead_letter_topic=self._written(str(self.dead_letter_topic)),
            inputs={t: agents for t, agents in inputs.items() if agents},
            outputs={d.output: self._written(d.output) for d in self._deployments},
            savepoint=replay.savepoint or None,
        )

    def _recorded_ms(self) -> int:
        """Where an exact replay starts reading recorded results: at its first input, or,
        from a savepoint, earlier by ``runtime.recovery_lookback_s``, so the results of
        tasks that were running at the savepoint (logged before it, applied after) are
        served too."""
        replay = self.settings.replay
        if not replay.savepoint:
            return replay.from_ms
        return max(0, replay.from_ms - int(self.settings.runtime.recovery_lookback_s * 1000))

    def _written(self, topic: str) -> str:
        """Where this run writes what the app writes to ``topic`` (a replay's own topics)."""
        replay = self.settings.replay
        return replay_topic(topic, replay) if replay.active else topic

    def _otlp_endpoint(self) -> str | None:
        """Where the job sends its spans live; a replay sends none (its tasks have the live
        tasks' ids, so its spans would land in their traces)."""
        return None if self.settings.replay.active else self.settings.observability.otlp_endpoint

    def _between_ms(self) -> tuple[int, int] | None:
        """The inputs' time range of a replay; None for the live job."""
        replay = self.settings.replay
        if not replay.active:
            if replay.savepoint:
                raise ConfigError(
                    f"app {self.name!r}: replay.savepoint is set but replay.name is not; a "
                    "live job resumes from a savepoint with `flink-agents submit --savepoint`, "
                    "a replay starts from one with `flink-agents replay --savepoint`"
                )
            return None
        if replay.to_ms <= replay.from_ms:
            raise ConfigError(
                f"replay {replay.name!r} of app {self.name!r}: replay.to_ms ({replay.to_ms}) "
                f"must be after replay.from_ms ({replay.from_ms})"
            )
        return replay.from_ms, replay.to_ms

    def _gateway(self, agent: Agent) -> GatewayView | None:
        """Where an agent shown in the gateway copies its answers; refused when the gateway
        is not one of its callers (it could not answer the tasks it shows)."""
        if not agent.show_in_gateway:
            return None
        caller = self.settings.gateway.caller
        if not agent.accepts(caller):
            raise ConfigError(
                f"agent {agent.name!r} has show_in_gateway but does not accept the gateway's "
                f"requests: add {caller!r} (the setting gateway.caller) to its callers"
            )
        return GatewayView(caller=caller, topic=GATEWAY_REPLIES_TOPIC)

    def _publish_cards(self) -> None:
        """Publish the cards of the agents that accept requests to the card registry."""
        servers = self.settings.bootstrap_servers
        cards = [agent_card(d.agent, servers) for d in self._deployments if d.agent.callers]
        if cards:
            publish_cards(servers, cards)
            log.info("published agent cards: %s", ", ".join(c.name for c in cards))

    def _peer_cards(self) -> dict[str, dict[str, tuple[str, list[str]]]]:
        """For each agent, what its model is told about its peers, from their cards.

        A peer whose card is not published yet is offered by name alone.
        """
        if not any(d.agent.peers for d in self._deployments):
            return {}
        cards = read_cards(self.settings.bootstrap_servers)
        return {
            d.agent.name: {p: card_summary(cards[p]) for p in d.agent.peers if p in cards}
            for d in self._deployments
        }

    def _records(self, kafka: KafkaTables) -> KeyedStream:
        """Inputs routed to their agents, and the results read back from the events topic,
        keyed by ``<agent>/<key>``."""
        # A replay's events topic is its own, read from the start.
        if self.settings.replay.active:
            events = kafka.source_table(self._written(str(self.events_topic)), start="earliest")
        else:
            # From shortly before the job was built, not from the topic's end as the source
            # finds it once running: the first calls' results can be written before that.
            since = int((time.time() - _RESULTS_CLOCK_SKEW_S) * 1000)
            events = kafka.source_table(str(self.events_topic), since_ms=since)
        queries = [
            f"SELECT `key`, `value`, `topic`, `partition`, `offset` FROM {events} "
            f"WHERE {kind_filter(RESULT_KINDS)}"
        ]
        if self._peer_inboxes():
            queries.append(reply_rows(events))
        for deployment in self._deployments:
            if not deployment.agent.callers:
                continue
            inbox = kafka.source_table(inbox_topic(deployment.agent.name))
            queries.append(inbox_rows(inbox, deployment.agent.name))
            unusable = kafka.source_table(inbox_topic(deployment.agent.name), batched=True)
            kafka.insert(str(self.dead_letter_topic), inbox_rejected(unusable))
        for source in self._sources.values():
            agents = tuple(d.agent.name for d in self._deployments if source.topic in d.inputs)
            if not agents:
                continue
            table = kafka.source_table(
                source.topic, start=source.start, between_ms=self._between_ms()
            )
            queries.append(router.routed(table, source.key, agents))
            unusable = kafka.source_table(
                source.topic, start=source.start, between_ms=self._between_ms(), batched=True
            )
            kafka.insert(
                self._written(str(self.dead_letter_topic)), router.rejected(unusable, source.key)
            )
        return kafka.keyed(" UNION ALL ".join(queries))


def _job_paths() -> list[Path]:
    """Folders the workers need to import the job's own modules (its tools, its models)."""
    script = Path(sys.argv[0]).resolve().parent if sys.argv and sys.argv[0] else Path.cwd()
    return [Path.cwd(), script, script.parent]
