"""One call to a Flink REST API, decoded from JSON; failures become a ``StackError``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from flink_agents.errors import StackError


def call(base_url: str, path: str, method: str = "GET", body: Any = None) -> Any:
    """``method`` ``base_url + path`` with a JSON ``body``; the decoded answer, or None."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise StackError(f"Flink REST {method} {path}: {exc.code} {exc.read()[:500]!r}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise StackError(f"Flink REST API not reachable at {base_url}{path}: {exc}") from None
    return json.loads(raw) if raw else None
