"""Griffe extension: docstring examples render as code on the API reference pages.

The package's docstrings are prose with doctest examples (``>>>``, run by the unit tests)
and reStructuredText literal blocks (a paragraph ending in ``::``). Markdown would read the
first as nested quotes and the second as an indented paragraph, so both are fenced here
before mkdocstrings renders the docstring.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence(text: str) -> str:
    """The docstring ``text`` with doctest runs and ``::`` blocks in code fences.

    >>> fence("Use it::\\n\\n    run()\\n\\nDone.").splitlines()
    ['Use it:', '', '```python', 'run()', '```', '', 'Done.']
    >>> fence("Add:\\n\\n" + chr(62) * 3 + " 1 + 1\\n2\\n").splitlines()[2:]
    ['```pycon', '>>> 1 + 1', '2', '```']
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            i = _doctest_run(lines, i, out)
        elif line.rstrip().endswith("::") and not line.strip().startswith(".."):
            i = _literal_block(lines, i, out)
        else:
            out.append(line)
            i += 1
    return "\n".join(out)


def _doctest_run(lines: list[str], i: int, out: list[str]) -> int:
    """Fence the doctest run starting at ``lines[i]`` (up to a blank line) into ``out``;
    return the index after it."""
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    out.append(indent + "```pycon")
    while i < len(lines) and lines[i].strip():
        out.append(lines[i])
        i += 1
    out.append(indent + "```")
    return i


def _literal_block(lines: list[str], i: int, out: list[str]) -> int:
    """``lines[i]`` ends with ``::``: write it with one colon, then the indented block
    after it as a Python fence, into ``out``; return the index after the block."""
    base = len(lines[i]) - len(lines[i].lstrip())
    out.append(lines[i].rstrip()[:-1])
    i += 1
    block: list[str] = []
    while i < len(lines) and (
        not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > base
    ):
        block.append(lines[i])
        i += 1
    code = [b for b in block if b.strip()]
    depth = min(len(b) - len(b.lstrip()) for b in code) if code else 0
    while block and not block[0].strip():
        block.pop(0)
    while block and not block[-1].strip():
        block.pop()
    pad = " " * base
    out += ["", pad + "```python", *[pad + b[depth:] for b in block], pad + "```", ""]
    if i < len(lines) and not lines[i].strip():
        i += 1
    return i


class DoctestBlocks(griffe.Extension):
    """Fence the examples of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence(obj.docstring.value)
