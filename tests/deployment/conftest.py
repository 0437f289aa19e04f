"""The deployment test runs only when asked for with ``-m deployment`` (``make test-deployment``).

It starts PostgreSQL, four Airflow components, the sandbox and Chromium, and needs Airflow 3, so
the plain test runs (``make unit``, ``make test-airflow2``) leave it out; ``make test`` runs it
through its own target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collect this folder's tests only when the ``deployment`` marker is selected."""
    if collection_path.name.startswith("test_") and "deployment" not in (config.getoption("markexpr") or ""):
        return True
    return None
