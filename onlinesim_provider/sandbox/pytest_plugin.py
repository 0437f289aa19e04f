"""Pytest plugin: the ``onlinesim_sandbox`` fixture (filled in by the sandbox package)."""

from __future__ import annotations
