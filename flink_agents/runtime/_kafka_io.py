"""Kafka topics as Flink streams, declared through the Table API's Kafka connector.

The Table connector gives what the Python DataStream connector lacks: record keys,
headers (read, filtered in Java before any Python runs, and written) and the partition and
offset of each record, from which deterministic ids are made. Records cross into Python
as small rows; values stay JSON text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from pyflink.common import Types
from pyflink.datastream import DataStream, KeyedStream, OutputTag
from pyflink.java_gateway import get_gateway
from pyflink.table import StatementSet, StreamTableEnvironment

from flink_agents.api.events import KIND_HEADER as KIND_HEADER  # re-exported

StartFrom = Literal["earliest", "latest"]

#: A record read from Kafka: ``key`` may be None; ``value`` is the record's text.
SOURCE_ROW = Types.ROW_NAMED(
    ["key", "value", "topic", "partition", "offset"],
    [Types.STRING(), Types.STRING(), Types.STRING(), Types.INT(), Types.LONG()],
)
#: ``SOURCE_ROW`` in SQL, to pair each row with its key in a query.
_SOURCE_ROW_SQL = (
    "ROW<`key` STRING, `value` STRING, `topic` STRING, `partition` INT, `offset` BIGINT>"
)
#: A record to write: key (or None) and value.
SINK_ROW = Types.ROW_NAMED(["key", "value"], [Types.STRING(), Types.STRING()])
#: A record to write with headers (``kind`` and the A2A binding's headers).
SINK_ROW_WITH_HEADERS = Types.ROW_NAMED(
    ["key", "value", "headers"],
    [
        Types.STRING(),
        Types.STRING(),
        Types.MAP(Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE())),
    ],
)
#: A record to write to the topic it names (answers to other agents' requests).
SINK_ROW_TO_TOPIC = Types.ROW_NAMED(
    ["key", "value", "headers", "topic"],
    [
        Types.STRING(),
        Types.STRING(),
        Types.MAP(Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE())),
        Types.STRING(),
    ],
)
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass
class KafkaTables:
    """Declares Kafka sources and sinks on one Table environment; ``attach`` adds the sinks."""

    t_env: StreamTableEnvironment
    bootstrap_servers: str
    group_id: str
    linger_ms: int = 5
    #: ``compression.type`` of every producer of the job's sinks.
    compression: str = "none"
    transaction_timeout_ms: int = 300_000
    #: Start of the names of the tables it declares (two on one environment need two).
    prefix: str = "kafka"
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _inserts: StatementSet | None = None
    _sources: dict[tuple[str, str, tuple[int, int] | None, int | None, bool], str] = field(
        default_factory=dict
    )
    _sinks: dict[tuple[str, bool, bool, int | None], str] = field(default_factory=dict)

    def source_table(
        self,
        topic: str,
        *,
        start: StartFrom = "earliest",
        between_ms: tuple[int, int] | None = None,
        since_ms: int | None = None,
        batched: bool = False,
    ) -> str:
        """Declare ``topic`` as a source table (key, value, metadata, headers); return its name.

        A fresh job starts at the group's committed offsets, else at ``start``; a job restored
        from a checkpoint or savepoint continues from the offsets in its state. With
        ``between_ms`` it reads only the records of that time range (from inclusive, to
        exclusive, epoch milliseconds) and then ends: a replay's inputs.

        With ``since_ms`` a fresh job starts at the records written from that time (epoch
        milliseconds) instead: no record written after the job was built is skipped, where
        ``latest`` is only resolved once the source runs.

        ``batched`` is for reads that no one waits on (the dead letters of unusable inputs):
        its consumer asks the broker for records at most twice a second unless a megabyte
        is ready, where a consumer on the loop's path asks again as soon as a record arrives
        (``bench/README.md`` counts the broker's fetch requests per step).
        """
        cache_key = (topic, start, between_ms, since_ms, batched)
        cached = self._sources.get(cache_key)
        if cached:
            return cached
        scan = {"scan.startup.mode": "group-offsets", "properties.auto.offset.reset": start}
        if since_ms is not None:
            scan = {
                "scan.startup.mode": "timestamp",
                "scan.startup.timestamp-millis": str(since_ms),
            }
        if between_ms is not None:
            scan = {
                "scan.startup.mode": "timestamp",
                "scan.startup.timestamp-millis": str(between_ms[0]),
                "scan.bounded.mode": "timestamp",
                "scan.bounded.timestamp-millis": str(between_ms[1]),
            }
        name = self._declare(
            topic,
            "`key` STRING, `value` STRING, `topic` STRING METADATA VIRTUAL, "
            "`partition` INT METADATA VIRTUAL, `offset` BIGINT METADATA VIRTUAL, "
            "`headers` MAP<STRING, BYTES> METADATA VIRTUAL",
            {
                "properties.group.id": self.group_id,
                **scan,
                "properties.isolation.level": "read_committed",
                **(_BATCHED_FETCH if batched else {}),
            },
        )
        self._sources[cache_key] = name
        return name

    def source(
        self, topic: str, *, start: StartFrom = "earliest", kinds: Collection[str] | None = None
    ) -> DataStream:
        """``SOURCE_ROW`` records of ``topic``; ``kinds`` keeps only those ``fa-kind`` values."""
        table = self.source_table(topic, start=start)
        query = f"SELECT `key`, `value`, `topic`, `partition`, `offset` FROM {table}"
        if kinds is not None:
            query += f" WHERE {kind_filter(kinds)}"
        return self.stream(query)

    def stream(self, query: str) -> DataStream:
        """The rows of a SQL query over declared tables, as a DataStream for Python functions."""
        return self.t_env.to_data_stream(self.t_env.sql_query(query))

    def keyed(self, query: str) -> KeyedStream:
        """The ``SOURCE_ROW`` rows of a SQL query, keyed by their ``key`` column in Java.

        PyFlink's ``key_by`` computes each record's key in a Python function of its own, a
        call into Python and a conversion of the row each way for every record, competing
        for the interpreter with the keyed function behind it. Here the query pairs each
        row with its key, as that function would have, and PyFlink's own Java key selector
        reads the pair: the keys, their serializer and so the state they address are the
        ones ``key_by(..., Types.STRING())`` gives. A job keyed that way has one operator
        more, so Flink derives other ids for its sources and sinks: a savepoint of it
        resumes here with ``--allow-non-restored-state`` (docs/operations.md).
        """
        pairs = self.t_env.sql_query(
            f"SELECT `key`, CAST(ROW(`key`, `value`, `topic`, `partition`, `offset`) "
            f"AS {_SOURCE_ROW_SQL}) FROM ({query})"
        )
        # A row type PyFlink's keyed operators can read, where to_data_stream's is external.
        stream = self.t_env.to_append_stream(pairs, Types.ROW([Types.STRING(), SOURCE_ROW]))
        jvm = get_gateway().jvm
        by_key = stream._j_data_stream.keyBy(
            jvm.KeyByKeySelector(), Types.ROW([Types.STRING()]).get_java_type_info()
        )
        return KeyedStream(by_key, SOURCE_ROW, stream)

    def insert(self, topic: str, query: str, *, exactly_once: bool = False) -> None:
        """Write the rows of a SQL query (``key``, ``value`` [, ``headers``]) to ``topic``."""
        with_headers = "`headers`" in query.split("FROM", 1)[0]
        self._statements().add_insert_sql(
            f"INSERT INTO {self._sink_table(topic, with_headers, exactly_once)} {query}"
        )

    def sink(
        self,
        stream: DataStream,
        topic: str,
        *,
        exactly_once: bool = False,
        linger_ms: int | None = None,
    ) -> None:
        """Write a stream of ``SINK_ROW`` or ``SINK_ROW_WITH_HEADERS`` to ``topic``.

        ``exactly_once`` writes in Kafka transactions committed on checkpoints: consumers that
        read with ``isolation.level=read_committed`` see each record once, one checkpoint later.

        ``linger_ms`` gives the sink a producer of its own that waits that long to fill its
        batches (of up to ``LINGERING_BATCH_BYTES``), for records no one waits on; by default
        the job's ``linger_ms``.
        """
        with_headers = len(stream.get_type().get_field_names()) == 3
        table = self._sink_table(topic, with_headers, exactly_once, linger_ms)
        self._statements().add_insert(table, self.t_env.from_data_stream(stream))

    def sink_to_named_topics(self, stream: DataStream) -> None:
        """Write a stream of ``SINK_ROW_TO_TOPIC``, each record to the topic it names."""
        name = f"kafka_{next(self._ids)}_named_topics"
        props = {
            "connector": "kafka",
            # Any topic: each record's ``topic`` column names where it goes.
            "topic-pattern": ".*",
            "properties.bootstrap.servers": self.bootstrap_servers,
            "key.format": "raw",
            "key.fields": "key",
            "value.format": "raw",
            "value.fields-include": "EXCEPT_KEY",
            "properties.linger.ms": str(self.linger_ms),
            "properties.compression.type": self.compression,
            "sink.delivery-guarantee": "at-least-once",
        }
        with_clause = ", ".join(f"'{k}' = '{literal(v)}'" for k, v in props.items())
        self.t_env.execute_sql(
            f"CREATE TEMPORARY TABLE {name} (`key` STRING, `value` STRING, "
            "`headers` MAP<STRING, BYTES> METADATA, `topic` STRING METADATA) "
            f"WITH ({with_clause})"
        )
        self._statements().add_insert(name, self.t_env.from_data_stream(stream))

    def _sink_table(
        self, topic: str, with_headers: bool, exactly_once: bool, linger_ms: int | None = None
    ) -> str:
        cache_key = (topic, with_headers, exactly_once, linger_ms)
        cached = self._sinks.get(cache_key)
        if cached:
            return cached
        columns = "`key` STRING, `value` STRING"
        if with_headers:
            columns += ", `headers` MAP<STRING, BYTES> METADATA"
        options = {
            "properties.linger.ms": str(self.linger_ms if linger_ms is None else linger_ms),
            "properties.compression.type": self.compression,
        }
        if linger_ms is not None:
            # The producer's default batch (16 KiB) would fill, and be sent, long before
            # a long linger ends.
            options["properties.batch.size"] = str(LINGERING_BATCH_BYTES)
        if exactly_once:
            options |= {
                "sink.delivery-guarantee": "exactly-once",
                "sink.transactional-id-prefix": f"{self.group_id}-{_safe(topic)}",
                # Flink asks for one hour, which brokers refuse by default (15 minutes).
                "properties.transaction.timeout.ms": str(self.transaction_timeout_ms),
            }
        else:
            options["sink.delivery-guarantee"] = "at-least-once"
        name = self._declare(topic, columns, options)
        self._sinks[cache_key] = name
        return name

    def _statements(self) -> StatementSet:
        if self._inserts is None:
            self._inserts = self.t_env.create_statement_set()
        return self._inserts

    def attach(self) -> None:
        """Add the declared sinks to the job; call once, after the last ``sink``."""
        if self._inserts is not None:
            self._inserts.attach_as_datastream()
            self._inserts = None

    def _declare(self, topic: str, columns: str, options: dict[str, str]) -> str:
        if not _NAME.match(topic):
            raise ValueError(f"invalid Kafka topic name {topic!r}: use letters, digits, . _ -")
        name = f"{self.prefix}_{next(self._ids)}_{_safe(topic)}"
        props = {
            "connector": "kafka",
            "topic": topic,
            "properties.bootstrap.servers": self.bootstrap_servers,
            "key.format": "raw",
            "key.fields": "key",
            "value.format": "raw",
            "value.fields-include": "EXCEPT_KEY",
            **options,
        }
        with_clause = ", ".join(f"'{k}' = '{literal(v)}'" for k, v in props.items())
        self.t_env.execute_sql(f"CREATE TEMPORARY TABLE {name} ({columns}) WITH ({with_clause})")
        return name


#: ``batch.size`` of a sink given a linger of its own (``KafkaTables.sink``): a batch is
#: sent when its linger ends, not when the default 16 KiB fill first.
LINGERING_BATCH_BYTES = 262_144

#: A consumer's settings for reads no one waits on: the broker answers a fetch when a
#: megabyte is ready or after half a second, not for every record.
_BATCHED_FETCH = {"properties.fetch.min.bytes": "1048576", "properties.fetch.max.wait.ms": "500"}


def side_output(stream: DataStream, tag: OutputTag) -> DataStream:
    """The records ``stream``'s Python function emitted under ``tag``, as the Java operator
    hands them on: already of the tag's type.

    PyFlink's own ``DataStream.get_side_output`` puts an identity Python ``map`` behind the
    side output, one more call into Python and two conversions per record, for records that
    are already of that type; here each side output goes straight to its Kafka sink. PyFlink
    tells a Python function which side outputs it has from the transformations that read
    them when the job graph is made, so the sink must be part of the DataStream job, as
    ``KafkaTables`` attaches its inserts (a table query run on its own would see none).
    """
    return DataStream(stream._j_data_stream.getSideOutput(tag.get_java_output_tag()))


def kind_filter(kinds: Collection[str]) -> str:
    """SQL condition keeping records whose ``fa-kind`` header is one of ``kinds``.

    >>> kind_filter(["tool.result", "model.response"])
    "`headers`['fa-kind'] IN (CAST('model.response' AS BYTES), CAST('tool.result' AS BYTES))"
    """
    wanted = ", ".join(f"CAST('{literal(k)}' AS BYTES)" for k in sorted(kinds))
    return f"`headers`['{KIND_HEADER}'] IN ({wanted})"


def _safe(topic: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", topic)


def literal(value: str) -> str:
    """A SQL string literal's body: quotes doubled."""
    return value.replace("'", "''")
