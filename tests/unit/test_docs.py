"""The reference pages cannot drift from the code they describe."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest
from pydantic import BaseModel

import flink_agents
from flink_agents.config import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _fields(annotation, f"{name}.")
        else:
            out.append(prefix + name)
    return out


@pytest.mark.parametrize("field", _fields(Settings))
def test_every_setting_is_documented(field: str):
    section, _, name = field.rpartition(".")
    page = (DOCS / "configuration.md").read_text()
    if section:
        page = page.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    assert f"| `{name}` |" in page, f"{field} is missing from docs/configuration.md"


def _modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages(flink_agents.__path__, "flink_agents.")
        if not m.name.endswith("_lockgen")
    ]


@pytest.mark.parametrize("module", _modules())
def test_docstring_examples_run(module: str):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_readme_example_builds_an_agent_app():
    """The README's example runs as written, up to the line that starts the job."""
    page = (DOCS.parent / "README.md").read_text()
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    assert code.rstrip().endswith(
        "app.run()  # python jobs/fraud_triage.py, or flink run -py jobs/fraud_triage.py"
    )
    namespace: dict[str, object] = {}
    exec(compile(code.replace("app.run()", "app.topics()"), "README.md", "exec"), namespace)
    app = namespace["app"]
    assert app.topics() == [  # type: ignore[attr-defined]
        "transactions",
        "decisions",
        "fraud-triage.events",
        "fraud-triage.dlq",
    ]
