"""The baseline: what a team would write without Flink, as one asyncio Python service.

It consumes the same input topic with the official Kafka client's asyncio API, runs one
task per key at a time (later inputs of a key wait, in order), keeps each key's memory in
a dict, calls the same model with the same ``openai`` client and the same tools, validates
the same output schema and produces the same output records. It has no state backend, no
checkpoints and no audit log: the things flink-agents adds are absent here on purpose.

    python -m bench.asyncio_agent --workload react --capacity 256 --input T --output O \
        --model-url URL --bootstrap 127.0.0.1:9092 [--linger-ms 5] [--http-client aiohttp]

``make bench`` runs it with the SDK's default HTTP client; ``--http-client aiohttp`` gives
it the SDK's aiohttp transport, the one flink-agents' model client uses, to see how much of
a difference between the two is the transport's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from collections import defaultdict, deque
from typing import Any

import openai
from confluent_kafka import Producer
from confluent_kafka.aio import AIOConsumer

from bench.workloads import KEY_FIELD, add_workload_args, agent
from flink_agents.api import Agent
from flink_agents.core._machine import render_input, render_system
from flink_agents.models._openai import _response_format


class Service:
    def __init__(
        self, spec: Agent, bootstrap: str, output: str, linger_ms: int, http_client: str = "httpx"
    ) -> None:
        self.spec = spec
        self.system = render_system(spec)
        self.tools = {t.name: t for t in spec.function_tools}
        self.schemas = [t.schema() for t in spec.function_tools] or None
        self.output = output
        self.gate = asyncio.Semaphore(spec.limits.max_in_flight)
        self.client = openai.AsyncOpenAI(
            base_url=spec.model.base_url,
            api_key="unused",
            max_retries=0,
            timeout=spec.model.timeout.total_seconds(),
            http_client=openai.DefaultAioHttpClient() if http_client == "aiohttp" else None,
        )
        self.memory: dict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=spec.memory.window)
        )
        self.waiting: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        self.busy: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        # The plain producer: produce() only queues (it never blocks the loop) and a task
        # serves delivery reports. The asyncio producer of the same library batches with a
        # timer that held lone outputs tens of milliseconds, which would be unfair to this side.
        # Its linger is flink-agents' own (``runtime.producer_linger_ms``): the same batching.
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms})
        # The request flink-agents sends: the same structured-output format.
        self.response_format = _response_format(spec.model, spec.output)

    def accept(self, payload: dict[str, Any]) -> None:
        key = str(payload[KEY_FIELD])
        if key in self.busy:
            self.waiting[key].append(payload)
            return
        self.busy.add(key)
        task = asyncio.create_task(self.run_key(key, payload))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run_key(self, key: str, payload: dict[str, Any]) -> None:
        while True:
            await self.run_task(key, payload)
            if not self.waiting[key]:
                self.busy.discard(key)
                return
            payload = self.waiting[key].popleft()

    async def run_task(self, key: str, payload: dict[str, Any]) -> None:
        user = {"role": "user", "content": render_input(payload)}
        messages = [{"role": "system", "content": self.system}, *self.memory[key], user]
        steps = 0
        while steps < self.spec.limits.max_steps:
            steps += 1
            async with self.gate:
                response = await self.client.chat.completions.create(
                    model=self.spec.model.model,
                    messages=messages,  # type: ignore[arg-type]
                    tools=self.schemas or openai.NOT_GIVEN,  # type: ignore[arg-type]
                    response_format=self.response_format,  # type: ignore[arg-type]
                )
            message = response.choices[0].message
            if message.tool_calls:
                messages.append(message.model_dump(exclude_none=True))
                results = await asyncio.gather(
                    *(
                        self.call_tool(c.function.name, c.function.arguments)
                        for c in message.tool_calls
                    )  # type: ignore[union-attr]
                )
                messages += [
                    {"role": "tool", "tool_call_id": c.id, "content": r}
                    for c, r in zip(message.tool_calls, results, strict=True)
                ]
                continue
            answer = self.spec.validate_output(message.content or "")
            self.memory[key].extend([user, {"role": "assistant", "content": message.content}])
            record = {
                "id": payload.get("id"),
                KEY_FIELD: key,
                **answer,
                "task": {"state": "TASK_STATE_COMPLETED", "steps": steps},
            }
            self.producer.produce(self.output, value=json.dumps(record).encode(), key=key.encode())
            return

    async def call_tool(self, name: str, arguments: str) -> str:
        try:
            return await self.tools[name].invoke(json.loads(arguments))
        except Exception as exc:  # noqa: BLE001 - the model sees tool errors
            return f"tool {name} failed: {exc}"


async def serve(args: argparse.Namespace) -> None:
    spec = agent(args.workload, args.capacity, args.model_url)
    service = Service(spec, args.bootstrap, args.output, args.linger_ms, args.http_client)
    consumer = AIOConsumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    await consumer.subscribe([args.input])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def serve_deliveries() -> None:
        while not stop.is_set():
            service.producer.poll(0)
            await asyncio.sleep(0.01)

    deliveries = asyncio.create_task(serve_deliveries())
    print(f"asyncio agent ready {time.time()}", flush=True)
    while not stop.is_set():
        # A short wait keeps a lone input from sitting in the consumer's batch.
        for message in await consumer.consume(num_messages=500, timeout=0.005):
            if message.error() is None:
                service.accept(json.loads(message.value()))
    await consumer.close()
    await deliveries
    service.producer.flush(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_workload_args(parser)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="bench-asyncio")
    parser.add_argument("--linger-ms", type=int, default=5, help="the producer's linger.ms")
    parser.add_argument(
        "--http-client",
        choices=("httpx", "aiohttp"),
        default="httpx",
        help="the openai SDK's HTTP transport: its default (httpx) or its aiohttp one",
    )
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
