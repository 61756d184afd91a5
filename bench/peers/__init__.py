"""Apache Flink Agents measured beside flink-agents (`make bench-peers`)."""
