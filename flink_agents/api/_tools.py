"""Plain Python functions as agent tools: the schema comes from type hints and the docstring."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import re
import typing
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import to_jsonable_python

from flink_agents.errors import SpecError, explain

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class ToolInputError(ValueError):
    """The model called a tool with arguments that do not fit its schema."""


@dataclass(frozen=True)
class ToolContext:
    """Who is calling a tool: stable ids a tool with side effects can use to be idempotent.

    ``call_id`` is the same every time this call is made (a retry, or a call issued again
    after a worker failure) and differs for every other call; ``attempt`` counts from 1.
    A Python tool receives it by declaring a parameter of this type (the model never sees
    that parameter); an MCP tool finds the same fields in the request's ``_meta``
    (``flink-agents/task-id``, ``flink-agents/call-id``, ``flink-agents/attempt``).

    >>> @tool(retry=False)
    ... def open_ticket(summary: str, ctx: ToolContext) -> str:
    ...     '''Open a support ticket.'''
    ...     return f"ticket {ctx.call_id}"
    >>> list(open_ticket.parameters["properties"]), open_ticket.retry
    (['summary'], False)
    """

    agent: str
    key: str
    task_id: str
    call_id: str
    attempt: int = 1

    def meta(self) -> dict[str, Any]:
        """The context as MCP request ``_meta`` entries."""
        return {
            "flink-agents/task-id": self.task_id,
            "flink-agents/call-id": self.call_id,
            "flink-agents/attempt": self.attempt,
        }


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
        self,
        func: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        retry: bool = True,
    ) -> None:
        self.func = func
        #: Whether a call that timed out may be made again (see ``Limits.max_retries``).
        self.retry = retry
        self.name = name or func.__name__
        if not _NAME.match(self.name):
            raise SpecError(f"tool name {self.name!r} must match {_NAME.pattern}")
        summary, arg_docs = _parse_docstring(inspect.getdoc(func) or "")
        self.description = description or summary
        if not self.description:
            raise SpecError(
                f"tool {self.name!r} needs a description: give the function a docstring"
            )
        self.context_param = _context_param(func)
        self.args_model = _args_model(func, self.name, arg_docs, skip=self.context_param)
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

    def bind(self, arguments: dict[str, Any], context: ToolContext | None = None) -> dict[str, Any]:
        """The keyword arguments of a call: the model's, validated, and the context if asked."""
        try:
            parsed = self.args_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolInputError(_explain(self.name, exc)) from None
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        if self.context_param is not None:
            kwargs[self.context_param] = context
        return kwargs

    async def invoke(
        self,
        arguments: dict[str, Any],
        context: ToolContext | None = None,
        pool: Executor | None = None,
    ) -> str:
        """Validate the model's arguments, run the function off the event loop, render text.

        A sync function runs on ``pool`` (the default thread pool when None).
        """
        kwargs = self.bind(arguments, context)
        if self.is_async:
            result = await self.func(**kwargs)
        else:
            # A sync tool may block (files, HTTP, SQLite): keep it off the shared event loop.
            call = functools.partial(self.func, **kwargs)
            result = await asyncio.get_running_loop().run_in_executor(pool, call)
        return render_result(result)

    def __repr__(self) -> str:
        return f"<tool {self.name}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle as the function plus names, so a job's tools reach the Flink workers.
        return (FunctionTool, (self.func, self.name, self.description, self.retry))


@overload
def tool(func: Callable[..., Any], /) -> FunctionTool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, retry: bool = True
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    retry: bool = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a function a tool: ``@tool`` or ``@tool(name=..., description=..., retry=...)``.

    ``retry=False`` marks a tool that is not safe to run twice (it creates a ticket, sends
    a mail): a call of it that times out is reported to the model instead of made again.
    """
    if func is not None:
        return FunctionTool(func)
    return lambda f: FunctionTool(f, name=name, description=description, retry=retry)


def render_result(result: Any) -> str:
    """What the model reads: strings as they are, everything else as JSON."""
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(to_jsonable_python(result), ensure_ascii=False)


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    # ToolContext resolves even where the function's own globals lack it: a function
    # shipped to a Flink worker by value keeps only the globals its body uses.
    return typing.get_type_hints(func, localns={"ToolContext": ToolContext})


def _context_param(func: Callable[..., Any]) -> str | None:
    """The parameter annotated ``ToolContext``, if the function takes one."""
    hints = _hints(func)
    found = [name for name, hint in hints.items() if hint is ToolContext and name != "return"]
    if len(found) > 1:
        raise SpecError(f"tool {func.__name__!r}: more than one ToolContext parameter")
    return found[0] if found else None


def _args_model(
    func: Callable[..., Any], name: str, docs: dict[str, str], skip: str | None = None
) -> type[BaseModel]:
    hints = _hints(func)
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.name == skip:
            continue
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
