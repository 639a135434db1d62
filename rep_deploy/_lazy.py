"""Lazy package attributes (PEP 562): a package lists which submodule defines each public name, and
the submodule is imported on first use. So ``import rep_deploy`` (and the CLI's ``--help``) costs
milliseconds instead of the seconds torch and onnxruntime take."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``exports`` maps a public name to the
    submodule (relative to ``package``) that defines it; a loaded name is cached in ``namespace``
    (the package's ``globals()``), so later look-ups skip ``__getattr__``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
