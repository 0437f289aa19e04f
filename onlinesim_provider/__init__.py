"""Apache Airflow provider for OnlineSIM's Alternative API (SMS-Activate compatible)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
