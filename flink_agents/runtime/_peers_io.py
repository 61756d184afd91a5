"""SQL over the A2A Kafka binding's records: inbox requests and answers, read in Java.

Flink's Table source gives headers as a column; the agent operator's rows have none, so
these queries fold the binding's headers into the row's value before any Python runs.
"""

from __future__ import annotations

from flink_agents.a2a._binding import CORRELATION_ID, REPLY_KIND, REQUEST_HEADERS
from flink_agents.runtime._kafka_io import KIND_HEADER, literal

#: How the reply query's values start: the agent operator tells answers from events by it.
REPLY_PREFIX = '{"kind":"a2a.reply"'


def _header(name: str) -> str:
    return f"CAST(`headers`['{literal(name)}'] AS STRING)"


def inbox_rows(table: str, agent: str) -> str:
    """The requests of ``agent``'s inbox as agent records keyed ``<agent>/<contextId>``.

    The value becomes ``{"headers": {...}, "request": <SendMessageRequest>}``: the operator
    reads the binding's headers without a column of its own.
    """
    headers = ", ".join(f"KEY '{h}' VALUE {_header(h)}" for h in REQUEST_HEADERS)
    value = f"CONCAT('{{\"headers\":', JSON_OBJECT({headers}), ',\"request\":', `value`, '}}')"
    return (
        f"SELECT CONCAT('{literal(agent)}/', `key`) AS `key`, {value} AS `value`, "
        f"`topic`, `partition`, `offset` FROM {table} "
        f"WHERE `key` IS NOT NULL AND `key` <> '' AND `value` IS JSON OBJECT"
    )


def inbox_rejected(table: str) -> str:
    """Dead letters for inbox records that are not requests (no key, or not a JSON object)."""
    reason = (
        "CASE WHEN `key` IS NULL OR `key` = '' THEN 'A2A request without a contextId key' "
        "ELSE 'A2A request that is not a JSON object' END"
    )
    letter = (
        "JSON_OBJECT(KEY 'v' VALUE 1, KEY 'kind' VALUE 'input.rejected', "
        f"KEY 'reason' VALUE {reason}, "
        "KEY 'source' VALUE JSON_OBJECT(KEY 'topic' VALUE `topic`, "
        "KEY 'partition' VALUE `partition`, KEY 'offset' VALUE `offset`), "
        "KEY 'payload' VALUE `value`, KEY 'at' VALUE UNIX_TIMESTAMP())"
    )
    unusable = "`key` IS NULL OR `key` = '' OR `value` IS NULL OR NOT (`value` IS JSON OBJECT)"
    return f"SELECT `key`, {letter} AS `value` FROM {table} WHERE {unusable}"


def reply_rows(events_table: str) -> str:
    """Answers in the events topic, as ``{"kind":"a2a.reply","correlation_id":…,"response":…}``."""
    value = (
        f"CONCAT('{REPLY_PREFIX},\"correlation_id\":', "
        f"COALESCE(JSON_STRING({_header(CORRELATION_ID)}), 'null'), "
        "',\"response\":', `value`, '}')"
    )
    return (
        f"SELECT `key`, {value} AS `value`, `topic`, `partition`, `offset` FROM {events_table} "
        f"WHERE `headers`['{KIND_HEADER}'] = CAST('{REPLY_KIND}' AS BYTES) "
        "AND `value` IS JSON OBJECT"
    )
