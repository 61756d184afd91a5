"""Every code example of the documentation site is run or checked here, so none can rot.

- Python blocks run, page by page in order in one namespace, in a folder of their own
  (a block starting ``# file: NAME`` is written to that file instead). Pages whose
  examples need services are run by the integration test named in ``RUN_ELSEWHERE``.
- SQL blocks are split and parsed by the project's SQL front, statement by statement;
  a block titled ``syntax`` is a grammar, not an example.
- Shell lines that run ``flink-agents`` are parsed by the real command line (every
  subcommand, option and argument must exist), ``make`` targets must be in the Makefile,
  and ``python -m MODULE`` must name an importable module.
- YAML blocks are settings files that must validate as settings, or files the page's
  Python reads (``# file: NAME``); JSON blocks must parse.
- Links to other sites are listed in ``EXTERNAL_LINKS`` and must be well-formed https
  URLs (this machine cannot reach them); links inside the site are checked by the
  strict build (``make docs``).
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from typer.testing import CliRunner

from flink_agents.cli import app
from flink_agents.config import Settings
from flink_agents.sql import SqlError, parse, split

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: Pages of the site outside docs/ (mkdocs.yml's hook adds them), by their site path.
EXTRA_PAGES = {"index.md": ROOT / "README.md", "benchmarks/index.md": ROOT / "bench/README.md"}

#: Pages whose Python examples need Kafka, MCP servers or a model address: the test that
#: runs them, in order, with what they need.
RUN_ELSEWHERE = {
    "testing.md": "tests/integration/test_testing_guide.py",
    "index.md": "tests/unit/test_docs.py",  # the README's example, up to app.run()
}

#: Every link to another site; a new one is added here on purpose. None is fetched.
EXTERNAL_LINKS = {
    "https://docs.confluent.io/cloud/current/ai/ai-faq.html",
    "https://docs.confluent.io/cloud/current/ai/streaming-agents/agent-runtime-guide.html",
    "https://docs.confluent.io/cloud/current/ai/streaming-agents/create-and-run-streaming-agents.html",
    "https://docs.confluent.io/cloud/current/ai/streaming-agents/manage-agents-console.md",
    "https://docs.confluent.io/cloud/current/ai/streaming-agents/overview.html",
    "https://docs.confluent.io/cloud/current/flink/reference/statements/create-agent.html",
    "https://docs.confluent.io/cp-flink/current/jobs/applications/flink-agents.html",
    "https://dev.to/sangkyoonnam/streaming-agents-with-flink-agents-040-12dj",
    "https://github.com/apache/flink-agents",
    "https://www.mkdocs.org/",
    "https://squidfunk.github.io/mkdocs-material/",
    "https://mkdocstrings.github.io/",
}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    title: str
    code: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<code>.*?)^(?P=indent)```\s*$",
    re.M | re.S,
)
TITLE = re.compile(r'title="([^"]*)"')


def pages() -> dict[str, str]:
    found = {
        str(path.relative_to(DOCS)): path.read_text("utf-8")
        for path in sorted(DOCS.rglob("*.md"))
        if "_hooks" not in path.parts
    }
    return found | {name: path.read_text("utf-8") for name, path in EXTRA_PAGES.items()}


def blocks(lang: str | None = None) -> list[Block]:
    out = []
    for page, text in pages().items():
        for m in FENCE.finditer(text):
            indent = len(m.group("indent"))
            code = "\n".join(line[indent:] for line in m.group("code").splitlines()) + "\n"
            title = (t.group(1) if (t := TITLE.search(m.group("attrs"))) else "").strip()
            line = text.count("\n", 0, m.start()) + 1
            out.append(Block(page, line, m.group("lang"), title, code))
    return [b for b in out if lang is None or b.lang == lang]


def test_the_site_has_examples_of_each_kind():
    kinds = {b.lang for b in blocks()}
    assert {"python", "sql", "sh", "yaml", "json"} <= kinds


# Python ------------------------------------------------------------------------------

FILE = re.compile(r"^# file: (\S+)\n")


def python_pages() -> list[str]:
    return sorted({b.page for b in blocks("python")} - set(RUN_ELSEWHERE))


@pytest.mark.parametrize("page", python_pages())
def test_python_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for block in (b for b in blocks() if b.page == page and b.lang in ("python", "yaml")):
        if named := FILE.match(block.code):
            (tmp_path / named.group(1)).write_text(block.code)
        elif block.lang == "python":
            exec(compile(block.code, str(block), "exec", dont_inherit=True), namespace)


def test_pages_run_elsewhere_are_run_there():
    for page, test in RUN_ELSEWHERE.items():
        source = (ROOT / test).read_text()
        assert Path(EXTRA_PAGES.get(page, DOCS / page)).name in source, (page, test)
        assert any(b.page == page for b in blocks("python")), f"{page} has no Python example"


# SQL ---------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [b for b in blocks("sql") if b.title != "syntax"], ids=str)
def test_sql_examples_parse(block: Block):
    statements = split(block.code, block.page)
    assert statements, f"{block}: no statement"
    for statement in statements:
        try:
            parse(statement)
        except SqlError as exc:
            pytest.fail(f"{block}: {exc}")


@pytest.mark.parametrize("block", [b for b in blocks("sql") if b.title == "syntax"], ids=str)
def test_sql_syntax_blocks_are_grammars(block: Block):
    """A block marked as a grammar shows optional or alternative parts; an example that
    runs must not hide behind the mark."""
    assert re.search(r"\[|\||\.\.\.", block.code), f"{block} is an example: drop the title"


# Shell -------------------------------------------------------------------------------

ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def commands(block: Block) -> list[list[str]]:
    """The commands of a shell block (or of ``$ `` lines in an output block), as argv."""
    lines = block.code.replace("\\\n", " ").splitlines()
    if block.lang not in ("sh", "bash", "console"):
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    out: list[list[str]] = []
    pending = ""
    for line in lines:
        pending = f"{pending}\n{line}" if pending else line
        lexer = shlex.shlex(pending, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # a quoted string goes on over the next line
            continue
        pending = ""
        words: list[str] = []
        for token in [*tokens, ";"]:
            if token not in (";", "&", "&&", "|", "||"):
                words.append(token)
                continue
            while words and ASSIGNMENT.match(words[0]):
                words.pop(0)
            if words:
                out.append(words)
            words = []
    assert not pending, f"{block}: unclosed quote"
    return out


def cli_commands() -> list[tuple[str, list[str]]]:
    return [
        (str(block), argv[1:])
        for block in blocks()
        for argv in commands(block)
        if Path(argv[0]).name == "flink-agents"
    ]


RUNNER = CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})  # no cut option names


def check_cli(args: list[str]) -> None:
    """Parse ``args`` as the real ``flink-agents`` would, without running anything: with
    ``--help`` appended, an unknown command or option is a usage error (exit 2), and a
    known one prints its help."""
    result = RUNNER.invoke(app, [*args, "--help"])
    if result.exit_code != 0:
        raise AssertionError(f"exit {result.exit_code}: {result.output.strip()[-600:]}")
    assert "Usage:" in result.output


@pytest.mark.parametrize(
    ("where", "args"),
    cli_commands(),
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_flink_agents_commands_in_the_docs_exist(where: str, args: list[str]):
    try:
        check_cli(args)
    except AssertionError as exc:
        pytest.fail(f"{where}: flink-agents {' '.join(args)}: {exc}")


def test_the_cli_check_catches_unknown_options_and_commands():
    check_cli(["submit", "--target", "h:1", "jobs/x.py", "--savepoint", "P"])
    for wrong in (["submit", "--tagret", "h:1", "jobs/x.py"], ["locall", "up"], ["local", "upp"]):
        with pytest.raises(AssertionError, match="exit 2"):
            check_cli(wrong)


INLINE = re.compile(r"`(?:\.venv/bin/)?flink-agents ([^`]+)`")


def inline_commands() -> list[tuple[str, str]]:
    """``flink-agents ...`` in the prose's code spans, such as ``flink-agents local up``."""
    return [
        (page, m.group(1))
        for page, text in pages().items()
        for m in INLINE.finditer(FENCE.sub("", text))
    ]


@pytest.mark.parametrize(("page", "span"), inline_commands(), ids=lambda v: v)
def test_flink_agents_commands_in_the_prose_exist(page: str, span: str):
    """A span may name alternatives (``stop | savepoint | jobs --target``) and options
    without their values: each alternative's command must exist and have every option."""
    words = shlex.split(span)
    options = {w.split("=", 1)[0] for w in words if w.startswith("--")}
    alternatives = [part.split() for part in span.split(" | ")]
    for alternative in alternatives:
        path = []
        for word in alternative:
            if word.startswith("-"):
                break
            path.append(word)
        result = RUNNER.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"{page}: flink-agents {span}: {result.output[-400:]}"
        missing = {o for o in options if o not in result.output}
        assert not missing, f"{page}: flink-agents {' '.join(path)} has no {sorted(missing)}"


TOP_FOLDERS = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}


def repository_paths() -> list[tuple[str, str]]:
    """Paths into the repository that shell commands name (``jobs/fraud_triage.py``),
    leaving out those a ``cp`` of the same block makes."""
    found = []
    for block in blocks():
        argvs = commands(block)
        made = {argv[-1] for argv in argvs if argv[0] == "cp"}
        for argv in argvs:
            words = argv[1:-1] if argv[0] == "cp" else argv
            found += [
                (str(block), word)
                for word in words
                if "/" in word
                and word.split("/")[0] in TOP_FOLDERS
                and not re.search(r"[<>*$]", word)
                and word not in made
            ]
    return found


@pytest.mark.parametrize(("where", "path"), repository_paths(), ids=lambda v: v)
def test_files_the_commands_name_exist(where: str, path: str):
    assert (ROOT / path).exists(), f"{where}: no {path} in the repository"


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([\w-]+):", text, re.M))


@pytest.mark.parametrize(
    ("where", "argv"),
    [(str(b), argv) for b in blocks() for argv in commands(b) if argv[0] == "make"],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_make_targets_in_the_docs_exist(where: str, argv: list[str]):
    targets = [word for word in argv[1:] if "=" not in word and not word.startswith("-")]
    assert set(targets) <= make_targets(), f"{where}: {' '.join(argv)}"


@pytest.mark.parametrize(
    ("where", "module"),
    [
        (str(b), argv[argv.index("-m") + 1])
        for b in blocks()
        for argv in commands(b)
        if Path(argv[0]).name.startswith("python") and "-m" in argv
    ],
)
def test_python_modules_in_the_docs_exist(where: str, module: str):
    assert importlib.util.find_spec(module) is not None, f"{where}: no module {module}"


# Data --------------------------------------------------------------------------------


@pytest.mark.parametrize("block", blocks("yaml"), ids=str)
def test_yaml_examples_are_settings_or_files_the_examples_read(block: Block):
    """A YAML block is a settings file (first line ``# flink-agents.yaml``) and must
    validate as settings, or a file (``# file: NAME``) that the page's Python reads."""
    data = yaml.safe_load(block.code)
    if block.code.startswith("# flink-agents.yaml\n"):
        Settings.model_validate(data)
    else:
        named = FILE.match(block.code)
        assert named, f"{block}: start it with '# flink-agents.yaml' or '# file: NAME'"
        python = "".join(b.code for b in blocks("python") if b.page == block.page)
        assert named.group(1) in python, f"{block}: no example reads {named.group(1)}"


@pytest.mark.parametrize("block", blocks("json"), ids=str)
def test_json_examples_parse(block: Block):
    json.loads(block.code)


# Links -------------------------------------------------------------------------------

LINK = re.compile(r"\]\((https?://[^)\s]+)\)|<(https?://[^>\s]+)>")


def external_links() -> set[str]:
    found = set()
    for text in pages().values():
        prose = FENCE.sub("", text)
        prose = re.sub(r"`[^`\n]*`", "", prose)
        found |= {a or b for a, b in LINK.findall(prose)}
    return found


def test_external_links_are_the_listed_ones():
    assert external_links() == EXTERNAL_LINKS


@pytest.mark.parametrize("url", sorted(EXTERNAL_LINKS))
def test_external_links_are_well_formed_https(url: str):
    parts = urlparse(url)
    assert parts.scheme == "https", url
    assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", parts.netloc), url
    assert not re.search(r"\s|[<>\"']", url), url


# The site's own build code -----------------------------------------------------------


@pytest.mark.parametrize("name", ["pages", "doctest_blocks"])
def test_the_build_hooks_examples_run(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / "_hooks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_make_docs_builds_strictly():
    """Warnings are errors only while they are logged: ``--quiet`` would hide them from
    the strict check, and a broken link would pass."""
    recipe = (ROOT / "Makefile").read_text().split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    command = next(line for line in recipe.splitlines() if "mkdocs build" in line).split()
    assert "--strict" in command
    assert not {"-q", "--quiet"} & set(command)
