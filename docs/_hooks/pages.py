"""MkDocs hook: pages that live outside ``docs/`` join the site without being copied.

The site's home page is the project's ``README.md`` and its benchmarks page is
``bench/README.md`` with the figures' images; both are read at build time, so each text
has one source. Links in them are written for the repository's file tree and are mapped
onto the site's here; the build's strict link check then checks them like any other.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("mkdocs.hooks.pages")  # a warning fails the strict build

#: The API reference pages and the module each documents: every name in the module's
#: ``__all__`` must have an entry there.
REFERENCE = {
    "reference/flink_agents.md": "flink_agents",
    "reference/testing.md": "flink_agents.testing",
    "reference/events.md": "flink_agents.api.events",
}

#: Repository paths the home page links to, and where they are on the site.
README_LINKS = {"docs/": "", "bench/README.md": "benchmarks/index.md"}


def site_links(text: str, mapping: dict[str, str]) -> str:
    """Rewrite Markdown link targets that start with a key of ``mapping``.

    >>> site_links("[a](docs/a2a.md#x) and [b](bench/README.md)", README_LINKS)
    '[a](a2a.md#x) and [b](benchmarks/index.md)'
    """
    for prefix, replacement in mapping.items():
        text = re.sub(r"\]\(" + re.escape(prefix), "](" + replacement, text)
    return text


def on_files(files: Files, config: MkDocsConfig) -> Files:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "index.md", content=site_links(readme, README_LINKS)))
    bench = ROOT / "bench"
    files.append(
        File.generated(
            config, "benchmarks/index.md", content=(bench / "README.md").read_text("utf-8")
        )
    )
    for image in sorted((bench / "results").glob("*.png")):
        files.append(
            File.generated(config, f"benchmarks/results/{image.name}", abs_src_path=str(image))
        )
    return files


def missing_entries(module: str, html: str) -> list[str]:
    """Public names of ``module`` that have no entry in ``html``: those of its ``__all__``,
    or without one, the public classes and functions it defines.

    >>> missing_entries("flink_agents", '<h2 id="flink_agents.Agent">')[:2]
    ['AgentApp', 'AnomalyDetector']
    """
    loaded = importlib.import_module(module)
    names: list[str] = getattr(loaded, "__all__", None) or [
        name
        for name, value in vars(loaded).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module
    ]
    return [name for name in names if f'id="{module}.{name}"' not in html]


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    module = REFERENCE.get(page.file.src_uri)
    if module and (missing := missing_entries(module, html)):
        log.warning(
            "%s documents %s but has no entry for %s: give each a docstring, or take it "
            "out of __all__",
            page.file.src_uri,
            module,
            ", ".join(missing),
        )
    return html
