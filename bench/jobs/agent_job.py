"""A benchmark workload as a flink-agents job (the system under test).

    flink run -d -py bench/jobs/agent_job.py --workload react --capacity 256 \
        --app bench-react --input bench-react.in --output bench-react.out --model-url URL \
        [--exactly-once]
"""

from __future__ import annotations

import argparse

from bench.workloads import KEY_FIELD, add_workload_args, agent
from flink_agents import AgentApp


def main() -> None:
    parser = argparse.ArgumentParser()
    add_workload_args(parser)
    parser.add_argument("--app", required=True)
    parser.add_argument("--exactly-once", action="store_true", help="outputs in Kafka transactions")
    args = parser.parse_args()
    app = AgentApp(args.app, exactly_once=args.exactly_once)
    app.source(args.input, key=KEY_FIELD)
    app.add(agent(args.workload, args.capacity, args.model_url), outputs=args.output, carry=["id"])
    app.run()


if __name__ == "__main__":
    main()
