"""The TLS context that model and MCP clients verify servers with, one per process."""

from __future__ import annotations

import functools
import ssl

import httpx2


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's certificate store, read once per process (each read cost ~0.1 s).

    Call processes inherit it from the fork server (``runtime/_fork_server.py``), which
    reads it before it forks them.
    """
    return httpx2.create_ssl_context()
