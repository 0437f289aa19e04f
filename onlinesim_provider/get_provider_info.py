"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata (name, versions, hooks, operators, connection types)."""
    return {
        "package-name": "airflow-provider-onlinesim",
        "name": "OnlineSIM",
        "description": "OnlineSIM Alternative API: virtual numbers that receive SMS.",
        "versions": ["0.1.0"],
    }
