"""The deployment test runs only when asked for with ``-m deployment`` (``make test-deployment``).

The harness's own fast tests (``test_harness.py``) run everywhere.

It starts PostgreSQL, four Airflow components, the sandbox and Chromium, and needs Airflow 3, so
the plain test runs (``make unit``, ``make test-airflow2``) leave it out; ``make test`` runs it
through its own target.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


_SELECTED = re.compile(r"(?<!not )\bdeployment\b")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collect the deployment test only when the ``deployment`` marker is selected."""
    selected = _SELECTED.search(config.getoption("markexpr") or "")
    if collection_path.name == "test_deployment.py" and not selected:
        return True
    return None
