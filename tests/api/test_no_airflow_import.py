"""The API layer must work without Airflow: importing it loads no ``airflow`` module."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.no_airflow

MODULES = [
    "onlinesim_provider.api",
    "onlinesim_provider.api.errors",
    "onlinesim_provider.api.models",
    "onlinesim_provider.api.protocol",
    "onlinesim_provider.api.actions",
    "onlinesim_provider.api.retry",
    "onlinesim_provider.api.base",
    "onlinesim_provider.api.client",
    "onlinesim_provider.api.aio",
]


def test_api_imports_no_airflow():
    code = (
        f"import {', '.join(MODULES)}; import sys; "
        "loaded = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')); "
        "assert not loaded, loaded; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
