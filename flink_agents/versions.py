"""The versions this release of flink-agents is built and tested against.

One place for them: the package pins, the jar lock file and the docs follow these.

>>> FLINK_VERSION
'2.2.1'
>>> KAFKA_CONNECTOR_VERSION.endswith("-2.2")
True
"""

from __future__ import annotations

#: Apache Flink (the ``apache-flink`` wheel, which carries the whole distribution).
#: 2.2 is the newest Flink line with an official Kafka connector on Maven Central.
FLINK_VERSION = "2.2.1"

#: ``org.apache.flink:flink-sql-connector-kafka``, built for the Flink line above.
KAFKA_CONNECTOR_VERSION = "5.0.0-2.2"

#: ``org.apache.flink:flink-state-processor-api``: its ``SavepointReader`` reads agent state
#: for ``flink-agents state inspect``; 2.2.0 is the newest of the 2.2 line on Maven Central.
STATE_PROCESSOR_VERSION = "2.2.0"

#: Apache Kafka broker (``org.apache.kafka:kafka_2.13``) of the local stack, KRaft only.
KAFKA_VERSION = "4.3.1"

#: log4j2 binding that gives the Kafka broker a log file.
LOG4J_VERSION = "2.25.4"

__all__ = [
    "FLINK_VERSION",
    "KAFKA_CONNECTOR_VERSION",
    "KAFKA_VERSION",
    "LOG4J_VERSION",
    "STATE_PROCESSOR_VERSION",
]
