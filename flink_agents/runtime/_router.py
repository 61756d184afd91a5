"""Inputs into agent records, in SQL: parse, check the key field, fan out to the agents.

Routing runs in Flink SQL, in Java, before any Python: an input costs one JSON_VALUE, and
the agent operator gets rows keyed ``<agent>/<key>``. An input that cannot be used goes
to the dead-letter topic with the reason; nothing is dropped silently.
"""

from __future__ import annotations

import re

from flink_agents.runtime._kafka_io import literal

_COLUMNS = "`value`, `topic`, `partition`, `offset`"


def json_path(field: str) -> str:
    """The JSON path of a top-level field.

    >>> json_path("card_id"), json_path("card id")
    ('$.card_id', "$['card id']")
    """
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
        return f"$.{field}"
    return "$['" + field.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _key(field: str) -> str:
    return f"JSON_VALUE(`value`, '{literal(json_path(field))}')"


def _usable(field: str) -> str:
    return f"`value` IS JSON OBJECT AND {_key(field)} IS NOT NULL AND {_key(field)} <> ''"


def routed(table: str, field: str, agents: tuple[str, ...]) -> str:
    """One row per agent for each usable input, keyed ``<agent>/<key>``."""
    return " UNION ALL ".join(
        f"SELECT CONCAT('{literal(agent)}/', {_key(field)}) AS `key`, {_COLUMNS} "
        f"FROM {table} WHERE {_usable(field)}"
        for agent in agents
    )


def keyed(table: str, field: str) -> str:
    """Each usable input once, keyed by the value of ``field``."""
    return f"SELECT {_key(field)} AS `key`, {_COLUMNS} FROM {table} WHERE {_usable(field)}"


def rejected(table: str, field: str) -> str:
    """Dead letters (``kind`` input.rejected) for the inputs ``routed`` leaves out."""
    reason = (
        "CASE WHEN `value` IS NULL THEN 'empty record' "
        "WHEN NOT (`value` IS JSON) THEN 'not JSON' "
        "WHEN NOT (`value` IS JSON OBJECT) THEN 'not a JSON object' "
        f"ELSE 'missing key field ''{literal(literal(field))}'' (a string or number)' END"
    )
    letter = (
        "JSON_OBJECT(KEY 'v' VALUE 1, KEY 'kind' VALUE 'input.rejected', "
        f"KEY 'reason' VALUE {reason}, "
        "KEY 'source' VALUE JSON_OBJECT(KEY 'topic' VALUE `topic`, "
        "KEY 'partition' VALUE `partition`, KEY 'offset' VALUE `offset`), "
        "KEY 'payload' VALUE `value`, KEY 'at' VALUE UNIX_TIMESTAMP())"
    )
    unusable = f"NOT ({_usable(field)}) OR `value` IS NULL"
    return f"SELECT `key`, {letter} AS `value` FROM {table} WHERE {unusable}"
