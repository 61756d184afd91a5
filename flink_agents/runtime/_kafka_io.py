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
from pyflink.common.typeinfo import TypeInformation
from pyflink.datastream import DataStream
from pyflink.table import StatementSet, StreamTableEnvironment

StartFrom = Literal["earliest", "latest"]

#: A record read from Kafka: ``key`` may be None; ``value`` is the record's text.
SOURCE_ROW = Types.ROW_NAMED(
    ["key", "value", "topic", "partition", "offset"],
    [Types.STRING(), Types.STRING(), Types.STRING(), Types.INT(), Types.LONG()],
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
KIND_HEADER = "fa-kind"
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass
class KafkaTables:
    """Declares Kafka sources and sinks on one Table environment; ``attach`` adds the sinks."""

    t_env: StreamTableEnvironment
    bootstrap_servers: str
    group_id: str
    linger_ms: int = 1
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _inserts: StatementSet | None = None

    def source(
        self, topic: str, *, start: StartFrom = "earliest", kinds: Collection[str] | None = None
    ) -> DataStream:
        """A stream of ``SOURCE_ROW`` from ``topic``; ``kinds`` keeps only those ``fa-kind`` values.

        A fresh job starts at the group's committed offsets, else at ``start``; a job restored
        from a checkpoint or savepoint continues from the offsets in its state.
        """
        table = self._declare(
            topic,
            "`key` STRING, `value` STRING, `topic` STRING METADATA VIRTUAL, "
            "`partition` INT METADATA VIRTUAL, `offset` BIGINT METADATA VIRTUAL, "
            "`headers` MAP<STRING, BYTES> METADATA VIRTUAL",
            {
                "properties.group.id": self.group_id,
                "scan.startup.mode": "group-offsets",
                "properties.auto.offset.reset": start,
                "properties.isolation.level": "read_committed",
            },
        )
        query = f"SELECT `key`, `value`, `topic`, `partition`, `offset` FROM {table}"
        if kinds is not None:
            wanted = ", ".join(f"CAST('{_literal(k)}' AS BYTES)" for k in sorted(kinds))
            query += f" WHERE `headers`['{KIND_HEADER}'] IN ({wanted})"
        return self.t_env.to_data_stream(self.t_env.sql_query(query))

    def sink(self, stream: DataStream, topic: str, *, exactly_once: bool = False) -> None:
        """Write a stream of ``SINK_ROW`` or ``SINK_ROW_WITH_HEADERS`` to ``topic``.

        ``exactly_once`` writes in Kafka transactions committed on checkpoints: consumers that
        read with ``isolation.level=read_committed`` see each record once, one checkpoint later.
        """
        with_headers = len(stream.get_type().get_field_names()) == 3
        columns = "`key` STRING, `value` STRING"
        if with_headers:
            columns += ", `headers` MAP<STRING, BYTES> METADATA"
        options = {"properties.linger.ms": str(self.linger_ms)}
        if exactly_once:
            options |= {
                "sink.delivery-guarantee": "exactly-once",
                "sink.transactional-id-prefix": f"{self.group_id}-{_safe(topic)}",
            }
        else:
            options["sink.delivery-guarantee"] = "at-least-once"
        table = self._declare(topic, columns, options)
        if self._inserts is None:
            self._inserts = self.t_env.create_statement_set()
        self._inserts.add_insert(table, self.t_env.from_data_stream(stream))

    def attach(self) -> None:
        """Add the declared sinks to the job; call once, after the last ``sink``."""
        if self._inserts is not None:
            self._inserts.attach_as_datastream()
            self._inserts = None

    def _declare(self, topic: str, columns: str, options: dict[str, str]) -> str:
        if not _NAME.match(topic):
            raise ValueError(f"invalid Kafka topic name {topic!r}: use letters, digits, . _ -")
        name = f"kafka_{next(self._ids)}_{_safe(topic)}"
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
        with_clause = ", ".join(f"'{k}' = '{_literal(v)}'" for k, v in props.items())
        self.t_env.execute_sql(f"CREATE TEMPORARY TABLE {name} ({columns}) WITH ({with_clause})")
        return name


def row_type(with_headers: bool) -> TypeInformation:
    return SINK_ROW_WITH_HEADERS if with_headers else SINK_ROW


def _safe(topic: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", topic)


def _literal(value: str) -> str:
    return value.replace("'", "''")
