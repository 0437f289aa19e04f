"""Provider registration: the metadata Airflow reads, the connection form, the CLI listing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import onlinesim_provider
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL
from onlinesim_provider.get_provider_info import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    get_provider_info,
)
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.hooks.settings import EXTRA_SETTINGS


def _airflow_schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("airflow").joinpath(name).read_text())  # type: ignore[no-any-return]


def test_provider_info_is_valid_for_the_installed_airflow() -> None:
    info = get_provider_info()
    jsonschema.validate(info, _airflow_schema("provider_info.schema.json"))
    # provider.yaml's schema also describes conn-fields and ui-field-behaviour (where it knows them)
    item_schema = _airflow_schema("provider.yaml.schema.json")["properties"]["connection-types"]
    jsonschema.validate(info["connection-types"], item_schema)


def test_the_version_is_written_once() -> None:
    # __init__ holds it; the build (setuptools dynamic version) and get_provider_info() read it
    assert get_provider_info()["versions"] == [onlinesim_provider.__version__]
    assert metadata.version("airflow-provider-onlinesim") == onlinesim_provider.__version__
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert onlinesim_provider.__version__ not in pyproject


def test_provider_info_names_every_module_and_the_connection_type() -> None:
    info = get_provider_info()
    modules = {
        kind: [m for entry in info[kind] for m in entry["python-modules"]]
        for kind in ("hooks", "operators", "sensors", "triggers")
    }
    assert modules == {
        "hooks": ["onlinesim_provider.hooks.onlinesim"],
        "operators": ["onlinesim_provider.operators.onlinesim", "onlinesim_provider.operators.rotation"],
        "sensors": ["onlinesim_provider.sensors.onlinesim"],
        "triggers": ["onlinesim_provider.triggers.onlinesim"],
    }
    assert info["task-decorators"] == [
        {
            "class-name": "onlinesim_provider.decorators.onlinesim.onlinesim_verification_task",
            "name": "onlinesim_verification",
        }
    ]
    [conn_type] = info["connection-types"]
    assert conn_type["connection-type"] == OnlineSimHook.conn_type == "onlinesim"
    assert conn_type["hook-class-name"] == f"{OnlineSimHook.__module__}.{OnlineSimHook.__name__}"
    assert conn_type["hook-name"] == OnlineSimHook.hook_name
    assert conn_type["ui-field-behaviour"]["relabeling"] == {"password": "API key", "host": "Base URL"}
    assert conn_type["ui-field-behaviour"]["placeholders"]["host"] == DEFAULT_BASE_URL
    assert set(conn_type["conn-fields"]) == set(EXTRA_SETTINGS)  # a field for each client setting


def test_legacy_field_behaviour_matches_the_declaration() -> None:
    legacy = OnlineSimHook.get_ui_field_behaviour()
    jsonschema.validate(legacy, _airflow_schema("customized_form_field_behaviours.schema.json"))
    assert legacy == {
        "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
        "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
        "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
    }


def _form_field(widget: Any) -> tuple[str, Any, str, list[Any] | None]:
    """Return (label, default, description, choices) of a form field as Airflow registered it."""
    field = widget.field
    if isinstance(field, dict):  # Airflow 3.2+: read from conn-fields
        schema = field["schema"]
        return schema["title"], field["value"], field["description"], schema.get("enum")
    # Airflow 2.11-3.1: a wtforms field from get_connection_form_widgets()
    choices = [list(v.values) for v in field.kwargs["validators"] if hasattr(v, "values")]
    return str(field.args[0]), field.kwargs["default"], field.kwargs["description"], (choices or [None])[0]


def test_airflow_registers_the_declared_form_on_this_version() -> None:
    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = ProvidersManager()
        widgets = manager.connection_form_widgets
        behaviour = manager.field_behaviours["onlinesim"]
        hook = manager.hooks["onlinesim"]

    registered = {
        w.field_name: _form_field(w) for k, w in widgets.items() if k.startswith("extra__onlinesim__")
    }
    declared = {
        name: (spec["label"], spec["schema"].get("default"), spec["description"], spec["schema"].get("enum"))
        for name, spec in CONN_FIELDS.items()
    }
    assert registered == declared
    assert behaviour["hidden_fields"] == UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert behaviour["relabeling"] == UI_FIELD_BEHAVIOUR["relabeling"]
    assert behaviour["placeholders"]["extra__onlinesim__cancel_status"] == "6"
    assert hook is not None
    assert (hook.hook_name, hook.connection_testable) == ("OnlineSIM", True)


@pytest.mark.airflow
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["providers", "list"], {"package_name": "airflow-provider-onlinesim", "version": "0.1.0"}),
        (
            ["providers", "hooks"],
            {"connection_type": "onlinesim", "class": "onlinesim_provider.hooks.onlinesim.OnlineSimHook"},
        ),
    ],
    ids=["providers-list", "providers-hooks"],
)
def test_airflow_cli_lists_the_provider(command: list[str], expected: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *command, "--output", "json"],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    # the JSON table is the last line; Airflow may log to stdout before it
    rows = json.loads(next(line for line in reversed(result.stdout.splitlines()) if line.startswith("[")))
    matching = [row for row in rows if all(row.get(k) == v for k, v in expected.items())]
    assert matching, f"{expected} not in {rows}"
