"""A benchmark workload as an Apache Flink Agents 0.2 job, run by the peer's venv.

Kafka in and out through Flink's Kafka connector (the jars flink-agents verified, passed
with ``--jars``), keyed by the same field, the agent of ``bench/peers/apache_agent.py``,
the same Flink settings as a flink-agents job (parallelism, thread mode, bundle size and
time, buffer timeout, checkpoint interval). Run as ``python`` it is a local MiniCluster
in this process's JVM; it runs until stopped.

    .flink-agents/peers/venv/bin/python bench/peers/apache_job.py --workload classifier \
        --capacity 128 --input T --output O --model-url URL --bootstrap HOST:PORT \
        --jars file:///...jar --system-prompt TEXT
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# For bench._workload_data (the tools and keys both systems share). Last on the path: the
# checkout's own flink_agents folder must not shadow the installed Apache Flink Agents.
sys.path.append(str(ROOT))

from flink_agents.api.core_options import AgentExecutionOptions  # noqa: E402
from flink_agents.api.execution_environment import AgentsExecutionEnvironment  # noqa: E402
from flink_agents.api.resource import ResourceDescriptor, ResourceName, ResourceType  # noqa: E402
from flink_agents.api.tools.tool import Tool  # noqa: E402
from pyflink.common import Configuration, Types, WatermarkStrategy  # noqa: E402
from pyflink.common.serialization import SimpleStringSchema  # noqa: E402
from pyflink.datastream import StreamExecutionEnvironment  # noqa: E402
from pyflink.datastream.connectors.base import DeliveryGuarantee  # noqa: E402
from pyflink.datastream.connectors.kafka import (  # noqa: E402
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)

from bench._workload_data import KEY_FIELD, TOOL_CALLS, TOOL_FUNCTIONS  # noqa: E402
from bench.peers.apache_agent import MODEL, BenchAgent  # noqa: E402


def main() -> None:
    args = _parser().parse_args()
    env = StreamExecutionEnvironment.get_execution_environment(_flink_configuration(args))
    for jar in args.jars:
        env.add_jars(jar)
    agents_env = AgentsExecutionEnvironment.get_execution_environment(env)
    config = agents_env.get_config()
    # Their in-flight limit: the thread pool that runs chat (and tool) calls.
    config.set(AgentExecutionOptions.NUM_ASYNC_THREADS, args.capacity)
    config.set_str("bench.workload", args.workload)
    config.set_str("bench.system", args.system_prompt)
    tools = {f.__name__: Tool.from_callable(f) for f in TOOL_FUNCTIONS[: TOOL_CALLS[args.workload]]}
    agents_env.add_resource(
        "simulator",
        ResourceType.CHAT_MODEL_CONNECTION,
        ResourceDescriptor(
            clazz=ResourceName.ChatModel.OPENAI_CONNECTION,
            api_base_url=args.model_url,
            api_key="unused",
            max_retries=0,
            timeout=60.0,
        ),
    ).add_resource(
        MODEL,
        ResourceType.CHAT_MODEL,
        ResourceDescriptor(
            clazz=ResourceName.ChatModel.OPENAI_SETUP,
            connection="simulator",
            model=args.workload,
            tools=list(tools),
        ),
    )
    for name, t in tools.items():
        agents_env.add_resource(name, ResourceType.TOOL, t)
    source = KafkaSource.builder()
    source.set_bootstrap_servers(args.bootstrap)
    source.set_topics(args.input)
    source.set_group_id(f"peer-{args.input}")
    source.set_starting_offsets(KafkaOffsetsInitializer.earliest())
    source.set_value_only_deserializer(SimpleStringSchema())
    inputs = env.from_source(source.build(), WatermarkStrategy.no_watermarks(), "input").map(
        json.loads
    )
    outputs = (
        agents_env.from_datastream(input=inputs, key_selector=lambda r: r[KEY_FIELD])
        .apply(BenchAgent())
        .to_datastream()
        .map(str, output_type=Types.STRING())
    )
    sink = (
        KafkaSink.builder()
        .set_bootstrap_servers(args.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(args.output)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        .set_property("linger.ms", str(args.linger_ms))
        .build()
    )
    outputs.sink_to(sink)
    agents_env.execute()


def _flink_configuration(args: argparse.Namespace) -> Configuration:
    options = {
        "pipeline.name": f"apache-flink-agents-{args.workload}",
        "rest.port": "0",  # the MiniCluster's REST endpoint on a free port
        "python.execution-mode": args.execution_mode,
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        # The embedded interpreter of thread mode reads no venv: hand it this one's folders.
        "python.pythonpath": os.pathsep.join([sysconfig.get_paths()["purelib"], str(ROOT)]),
        "python.fn-execution.bundle.size": str(args.bundle_size),
        "python.fn-execution.bundle.time": str(args.bundle_time_ms),
        "execution.buffer-timeout.interval": f"{args.buffer_timeout_ms} ms",
        "parallelism.default": str(args.parallelism),
        "execution.checkpointing.interval": f"{int(args.checkpoint_interval_s * 1000)} ms",
    }
    conf = Configuration()
    for key, value in options.items():
        conf.set_string(key, value)
    return conf


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=list(TOOL_CALLS), required=True)
    parser.add_argument("--capacity", type=int, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--system-prompt", required=True)
    parser.add_argument("--jars", nargs="+", required=True, help="file:// URIs")
    parser.add_argument("--execution-mode", choices=["thread", "process"], default="thread")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--bundle-size", type=int, default=1000)
    parser.add_argument("--bundle-time-ms", type=int, default=5)
    parser.add_argument("--buffer-timeout-ms", type=int, default=0)
    parser.add_argument("--checkpoint-interval-s", type=float, default=10.0)
    parser.add_argument("--linger-ms", type=int, default=5)
    return parser


if __name__ == "__main__":
    main()
