"""`TopicClient.close()` lets go of the client's connections to the broker, so a harness that
closes it before stopping the broker does not log disconnects from clients it still holds,
and the client opens new connections when it is used again."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flink_agents.local import KafkaBroker

pytestmark = pytest.mark.integration

# Runs in a process of its own so that only this client's sockets are counted: the
# connections to the broker's port among the process's open file descriptors.
CHILD = textwrap.dedent(
    """
    import contextlib, json, os, sys
    from flink_agents.testing import TopicClient
    from tests.support import eventually

    port = int(sys.argv[2])

    def connections():
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if int(cols[2].rsplit(":", 1)[1], 16) == port and cols[3] == "01":
                        inodes.add(cols[9])
        mine = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                mine += 1
        return mine

    client = TopicClient(sys.argv[1])
    topic = client.create(client.unique("topic-client"))
    client.produce(topic, [{"id": i} for i in range(3)])
    open_before = connections()
    client.close()
    with contextlib.suppress(AssertionError):  # the count below says how many were left
        eventually(lambda: connections() == 0, "the closed client has no connections")
    after_close = connections()
    client.produce(topic, [{"id": 3}])
    read = [r.value["id"] for r in client.consume(topic, count=4)]
    print(json.dumps({"before": open_before, "after": after_close, "read": read}))
    """
)


def test_close_drops_the_connections_and_a_later_call_reconnects(kafka: KafkaBroker) -> None:
    settings = kafka.settings.kafka
    child = subprocess.run(
        [sys.executable, "-c", CHILD, settings.bootstrap_servers, str(settings.port)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(child.stdout.strip().splitlines()[-1])
    assert seen["before"] > 0, seen
    assert seen["after"] == 0, seen
    assert seen["read"] == [0, 1, 2, 3]
    assert "rdkafka" not in child.stderr, child.stderr
