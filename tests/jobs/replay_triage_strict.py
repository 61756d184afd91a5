"""The replay tests' triage job with a stricter prompt (a what-if replay's changed job)."""

from __future__ import annotations

from replay_triage import INSTRUCTIONS, app  # the sibling job file

if __name__ == "__main__":
    app(INSTRUCTIONS + " Be strict: block anything risky.").run()
