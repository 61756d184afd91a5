"""The agent of jobs/fraud_triage.py, unchanged, on topics named by the environment.

The SQL comparison test runs it beside sql/fraud_triage.sql on the same transactions:
FRAUD_APP, FRAUD_TRANSACTIONS_TOPIC and FRAUD_DECISIONS_TOPIC name the app and its topics.
"""

from __future__ import annotations

import os

from flink_agents import AgentApp
from jobs.fraud_triage import triage


def main() -> None:
    app = AgentApp(os.environ["FRAUD_APP"])
    app.source(os.environ["FRAUD_TRANSACTIONS_TOPIC"], key="card_id")
    app.add(
        triage, outputs=os.environ["FRAUD_DECISIONS_TOPIC"], carry=["transaction_id", "card_id"]
    )
    app.run()


if __name__ == "__main__":
    main()
