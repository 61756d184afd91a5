"""Keep secrets out of errors, events and logs."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

_MASK = "[redacted]"
_MIN = 8


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret, and any 8-character piece of one, in ``text``.

    Pieces matter because servers echo keys partly ("Incorrect API key provided: sk-ab...").

    >>> redact("key sk-abcdef123456 rejected; starts sk-abcdef1", ["sk-abcdef123456"])
    'key [redacted] rejected; starts [redacted]'
    """
    for secret in secrets:
        if len(secret) < _MIN or secret == "unused":
            continue
        text = text.replace(secret, _MASK)
        for start in range(len(secret) - _MIN + 1):
            piece = secret[start : start + _MIN]
            if piece in text:
                text = _mask_around(text, piece, secret)
    return text


def url_without_credentials(url: str) -> str:
    """A URL fit for logs and events: no user info, query or fragment (where tokens hide).

    >>> url_without_credentials("https://bot:pw@tools.example:8443/mcp?key=1#x")
    'https://tools.example:8443/mcp'
    >>> url_without_credentials("http://[::1]:8000/v1")
    'http://[::1]:8000/v1'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _mask_around(text: str, piece: str, secret: str) -> str:
    """Mask the longest run around each occurrence of ``piece`` that is part of the secret."""
    out, index = [], 0
    while (found := text.find(piece, index)) >= 0:
        end = found + len(piece)
        while end < len(text) and text[found : end + 1] in secret:
            end += 1
        start = found
        while start > 0 and text[start - 1 : end] in secret:
            start -= 1
        out.append(text[index:start] + _MASK)
        index = end
    out.append(text[index:])
    return "".join(out)
