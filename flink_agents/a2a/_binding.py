"""The A2A Kafka binding of this project: topic names, headers, and the SQL that reads them.

``docs/a2a.md`` is the specification; this module is its single source in code. A request
is an A2A 1.0 ``SendMessageRequest`` in a record of the peer's inbox topic; an answer is an
A2A ``StreamResponse`` in a record of the topic the request named in ``a2a-reply-to``. Both
are keyed by the A2A ``contextId``, so the records of one context keep their order.
"""

from __future__ import annotations

#: Names this binding in an agent card's ``supportedInterfaces[].protocolBinding``.
BINDING_URI = "urn:flink-agents:a2a:kafka:1"
PROTOCOL_VERSION = "1.0"

#: The topic agents answer the gateway's requests on, and where an agent shown in the
#: gateway (``Agent.show_in_gateway``) sends copies of other requesters' answers.
GATEWAY_REPLIES_TOPIC = "a2a.gateway.replies"

#: ``fa-kind`` of a request in an inbox, and of an answer in a reply topic.
REQUEST_KIND = "a2a.request"
REPLY_KIND = "a2a.reply"

#: The header that carries the kind, as on every record of the events topic.
KIND = "fa-kind"
VERSION = "a2a-version"
MESSAGE_ID = "a2a-message-id"
CORRELATION_ID = "a2a-correlation-id"
REPLY_TO = "a2a-reply-to"
CALLER = "a2a-caller"
DEPTH = "a2a-depth"
CHAIN = "a2a-chain"
TRACEPARENT = "traceparent"
#: Which operation an inbox record asks for: ``SendMessage`` (also when absent) or
#: ``CancelTask`` (the value is then a ``CancelTaskRequest``).
METHOD = "a2a-method"
SEND_MESSAGE = "SendMessage"
CANCEL_TASK = "CancelTask"

#: In a request's ``metadata``: true when the requester follows the task (the gateway), so
#: the agent sends WORKING status updates as the task works, not only its final answer.
STATUS_UPDATES = "statusUpdates"

#: Headers of a request, in the JSON object the inbox query puts beside the message.
REQUEST_HEADERS = (
    VERSION,
    MESSAGE_ID,
    CORRELATION_ID,
    REPLY_TO,
    CALLER,
    DEPTH,
    CHAIN,
    TRACEPARENT,
    METHOD,
)


def inbox_topic(agent: str) -> str:
    """The topic an agent reads its A2A requests from.

    >>> inbox_topic("compliance-review")
    'a2a.inbox.compliance-review'
    """
    return f"a2a.inbox.{agent}"
