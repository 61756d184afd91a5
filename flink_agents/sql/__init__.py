"""Agents in Flink SQL: this project's DDL, a catalog, and AI_RUN_AGENT on the runtime.

``flink-agents sql run FILE.sql`` runs a file; ``flink-agents sql`` is a shell. The
reference of every statement and option is ``docs/sql.md``.

>>> from flink_agents.sql import split
>>> [s.text for s in split("CREATE AGENT a USING MODEL m USING PROMPT 'x;y'; SHOW AGENTS", "f.sql")]
["CREATE AGENT a USING MODEL m USING PROMPT 'x;y'", 'SHOW AGENTS']
"""

from flink_agents.sql._ast import Flink, Parsed, PythonFunction, SetOption
from flink_agents.sql._catalog import KINDS, Catalog, Entry
from flink_agents.sql._errors import Position, SqlError
from flink_agents.sql._parser import parse
from flink_agents.sql._rewrite import find_call
from flink_agents.sql._runner import SqlRun, job_name, serve_name, variables
from flink_agents.sql._script import from_text
from flink_agents.sql._session import Result, Session
from flink_agents.sql._tokens import split

__all__ = [
    "KINDS",
    "Catalog",
    "Entry",
    "Flink",
    "Parsed",
    "Position",
    "PythonFunction",
    "Result",
    "Session",
    "SetOption",
    "SqlError",
    "SqlRun",
    "find_call",
    "from_text",
    "job_name",
    "parse",
    "serve_name",
    "split",
    "variables",
]
