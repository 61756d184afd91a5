"""The floor: the same Kafka -> Flink -> Kafka pipeline with the agent replaced by a pass-through.

Routing SQL, keyed on ``<agent>/<key>`` as the agents' records are, a Python keyed
function in thread mode that emits each input at once, the Kafka sink: what every agent
pays before any model is called.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row
from pyflink.datastream import KeyedProcessFunction

from bench.workloads import KEY_FIELD
from flink_agents.config import load_settings
from flink_agents.runtime import SINK_ROW, KafkaTables, environments
from flink_agents.runtime import _router as router


class PassThrough(KeyedProcessFunction):  # type: ignore[misc]
    def process_element(self, row: Row, ctx: Any) -> Iterator[Row]:
        yield Row(row["key"], row["value"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    settings = load_settings()
    env, t_env = environments(settings, args.app)
    kafka = KafkaTables(t_env, settings.bootstrap_servers, group_id=f"flink-agents.{args.app}")
    table = kafka.source_table(args.input)
    routed = kafka.keyed(router.routed(table, KEY_FIELD, ("pass",)))
    passed = routed.process(PassThrough(), SINK_ROW)
    kafka.sink(passed.uid("pass-through").name("PassThrough"), args.output)
    kafka.attach()
    env.execute(args.app)


if __name__ == "__main__":
    main()
