"""Names a package exports but loads only when one is first used (a module ``__getattr__``).

Heavy dependencies (PyFlink, the model and MCP clients) stay out of the processes that never
use them: the client that builds a job, the command line, tests of the state machine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that gives each of ``names`` from the module
    it maps to, imported on first use.

    >>> getattr_ = lazy_names("pkg", {"dumps": "json"})
    >>> getattr_("dumps")([1])
    '[1]'
    >>> getattr_("loads")
    Traceback (most recent call last):
    ...
    AttributeError: module 'pkg' has no attribute 'loads'
    """

    def module_getattr(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return module_getattr
