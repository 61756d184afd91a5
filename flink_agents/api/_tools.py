"""Plain Python functions as agent tools: the schema comes from type hints and the docstring."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import re
import typing
from collections.abc import Callable
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import to_jsonable_python

from flink_agents.errors import SpecError, explain

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class ToolInputError(ValueError):
    """The model called a tool with arguments that do not fit its schema."""


class FunctionTool:
    """A Python function an agent may call; made by the ``@tool`` decorator.

    >>> @tool
    ... def risk_score(merchant_id: str, window_days: int = 30) -> float:
    ...     '''Risk score of a merchant, 0..1.
    ...
    ...     Args:
    ...         merchant_id: The merchant to score.
    ...         window_days: How many days of history to use.
    ...     '''
    ...     return 0.25
    >>> risk_score.name, risk_score.description
    ('risk_score', 'Risk score of a merchant, 0..1.')
    >>> risk_score.parameters["properties"]["merchant_id"]
    {'description': 'The merchant to score.', 'type': 'string'}
    >>> risk_score.parameters["required"]
    ['merchant_id']
    >>> risk_score("m-001")   # still an ordinary function
    0.25
    """

    def __init__(
        self, func: Callable[..., Any], name: str | None = None, description: str | None = None
    ) -> None:
        self.func = func
        self.name = name or func.__name__
        if not _NAME.match(self.name):
            raise SpecError(f"tool name {self.name!r} must match {_NAME.pattern}")
        summary, arg_docs = _parse_docstring(inspect.getdoc(func) or "")
        self.description = description or summary
        if not self.description:
            raise SpecError(
                f"tool {self.name!r} needs a description: give the function a docstring"
            )
        self.args_model = _args_model(func, self.name, arg_docs)
        self.is_async = inspect.iscoroutinefunction(func)
        functools.update_wrapper(self, func)

    @property
    def parameters(self) -> dict[str, Any]:
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return schema

    def schema(self) -> dict[str, Any]:
        """The tool as the OpenAI chat API describes a function tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    async def invoke(self, arguments: dict[str, Any]) -> str:
        """Validate the model's arguments, run the function off the event loop, render text."""
        try:
            parsed = self.args_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolInputError(_explain(self.name, exc)) from None
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        if self.is_async:
            result = await self.func(**kwargs)
        else:
            # A sync tool may block (files, HTTP, SQLite): keep it off the shared event loop.
            result = await asyncio.to_thread(self.func, **kwargs)
        return render_result(result)

    def __repr__(self) -> str:
        return f"<tool {self.name}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle as the function plus names, so a job's tools reach the Flink workers.
        return (FunctionTool, (self.func, self.name, self.description))


@overload
def tool(func: Callable[..., Any], /) -> FunctionTool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a function a tool: ``@tool`` or ``@tool(name=..., description=...)``."""
    if func is not None:
        return FunctionTool(func)
    return lambda f: FunctionTool(f, name=name, description=description)


def render_result(result: Any) -> str:
    """What the model reads: strings as they are, everything else as JSON."""
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(to_jsonable_python(result), ensure_ascii=False)


def _args_model(func: Callable[..., Any], name: str, docs: dict[str, str]) -> type[BaseModel]:
    hints = typing.get_type_hints(func)
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise SpecError(f"tool {name!r}: *args and **kwargs cannot be described to a model")
        if param.name not in hints:
            raise SpecError(f"tool {name!r}: parameter {param.name!r} needs a type hint")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=docs.get(param.name)))
    return create_model(f"{name}_args", __config__=ConfigDict(extra="forbid"), **fields)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary paragraph, and parameter descriptions from a Google-style ``Args:`` block."""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    args: dict[str, str] = {}
    block = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?)+)", doc, re.M)
    if block:
        current = None
        for line in block.group(1).splitlines():
            match = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if match:
                current = match.group(1)
                args[current] = match.group(2).strip()
            elif current and line.strip():
                args[current] += " " + line.strip()
    return summary, args


def _explain(name: str, exc: ValidationError) -> str:
    return f"invalid arguments for tool {name}: {explain(exc, whole='arguments')}"
