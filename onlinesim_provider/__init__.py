"""Apache Airflow provider for OnlineSIM's Alternative API (SMS-Activate compatible)."""

from __future__ import annotations

#: The one place the version is written: the build (``[tool.setuptools.dynamic]``) and
#: ``get_provider_info()`` read it from here.
__version__ = "0.1.0"

__all__ = ["__version__"]
