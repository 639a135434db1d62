"""The rep-deploy model zoo (installed as ``rep_deploy.models``).

One file per architecture; each is imported here explicitly so that every registered model is
present whenever the registry is used.
"""
from __future__ import annotations

__all__: list[str] = []
