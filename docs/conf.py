"""Sphinx configuration of the airflow-provider-onlinesim documentation (``make docs``)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# autodoc imports the package, which imports Airflow: give Airflow a throw-away home instead of
# letting it write a configuration into the user's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="onlinesim-docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import onlinesim_provider  # noqa: E402

project = "airflow-provider-onlinesim"
author = "airflow-provider-onlinesim maintainers"
copyright = "airflow-provider-onlinesim maintainers"
release = onlinesim_provider.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_api_stubs"]

# The API reference is generated from the docstrings on every build (never listed by hand).
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# The client's argument types by their names, not as the pydantic constraints they stand for.
_ARGUMENT_TYPES = "ObjectId ServiceCode CountryKey OperatorName RentHours ActivationStatusCode RentStatusCode"
autodoc_type_aliases = {name: f"onlinesim_provider.api.models.{name}" for name in _ARGUMENT_TYPES.split()}
autoclass_content = "both"
napoleon_google_docstring = False

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = f"OnlineSIM provider for Apache Airflow {release}"
html_static_path: list[str] = []

# Type hints name classes by their short names (``Rent``), which the API client's models and the
# sandbox's records share: Sphinx then links to one of them and warns that it had a choice.
suppress_warnings = ["ref.python"]
