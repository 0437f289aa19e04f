"""Check the code blocks of the README and the docs pages against what the tests run.

Every Python block must be a verbatim slice of a file the tests run (an example DAG, a test, a
script with a test); every shell line must be a command this project provides, with arguments
that its parser accepts; every ``AIRFLOW_CONN_*`` value must be a connection Airflow parses into
working client settings.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from onlinesim_provider import __version__
from onlinesim_provider.hooks.settings import client_settings
from onlinesim_provider.sandbox.cli import build_parser, config_from_args
from tests.conftest import REPO

if TYPE_CHECKING:
    import pytest

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
EXAMPLES = sorted((REPO / "example_dags").glob("example_*.py"))
#: Files whose text Python blocks may quote: each is run by the test suite.
QUOTABLE = [
    *EXAMPLES,
    *sorted((REPO / "tests").rglob("test_*.py")),
    REPO / "tests" / "conftest.py",
    REPO / "scripts" / "tour.py",
    # The distributed deployment's settings, which tests/deployment/test_distributed.py starts.
    REPO / "deploy" / "distributed.py",
    # The many-waits DAG (mapped waits that start in the triggerer): tests/deployment/test_scale.py
    # parses it, and `python -m deploy.waits` runs it.
    REPO / "deploy" / "dags" / "onlinesim_scale_waits.py",
    # Checked against the metrics registry by tests/docs/test_metrics_page.py.
    REPO / "docs" / "statsd_exporter_mapping.yml",
]
#: API keys the docs write in place of a real one.
PLACEHOLDER_KEYS = {"YOUR_API_KEY", "sandbox-key"}
WHEEL = f"dist/airflow_provider_onlinesim-{__version__}-py3-none-any.whl"


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """Return ``(language, body)`` of each fenced block (directives such as ``{literalinclude}`` too)."""
    return [(lang.strip(), body) for lang, body in FENCE.findall(markdown)]


def quoted_file(block: str) -> Path | None:
    """Return the first quotable file that contains ``block`` line for line, at any one indent."""
    lines = textwrap.dedent(block).rstrip("\n").splitlines()
    for path in QUOTABLE:
        if _contains(path.read_text().splitlines(), lines):
            return path
    return None


def _contains(text: list[str], block: list[str]) -> bool:
    for start, line in enumerate(text):
        if not block[0] or not line.endswith(block[0]):
            continue
        indent = line[: len(line) - len(block[0])]
        window = text[start : start + len(block)]
        if not indent.strip() and window == [f"{indent}{b}" if b else "" for b in block]:
            return True
    return False


def makefile_targets() -> set[str]:
    """Return the targets the Makefile defines."""
    return set(re.findall(r"^([a-z0-9-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))


def check_shell_line(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail unless one shell line is a command this project provides, used the way it accepts.

    :param line: one line of a ``bash`` block.
    :param monkeypatch: to set the ``AIRFLOW_CONN_*`` variable the line exports.
    """
    argv = shlex.split(line, comments=True)
    if not argv:
        return
    match argv:
        case ["export", assignment] if assignment.startswith("AIRFLOW_CONN_"):
            name, value = assignment.split("=", 1)
            check_connection(name, value, monkeypatch)
        case ["export", assignment] if assignment.startswith("ONLINESIM_"):
            name, value = assignment.split("=", 1)
            assert any(f'"{name}"' in path.read_text() for path in EXAMPLES), f"no example DAG reads {name}"
            assert value.startswith("http://127.0.0.1:"), line
        case ["pip", "install", *args]:
            check_pip_install(args, line)
        case ["cp", *_]:
            check_copy(line)
        case ["python", "-m", "build"]:
            pass
        case ["make", *targets]:
            assert set(targets) <= makefile_targets(), line
        case ["onlinesim-sandbox", *args] | ["python", "-m", "onlinesim_provider.sandbox", *args]:
            config_from_args(build_parser().parse_args(args))  # the settings are valid too
        case _:
            raise AssertionError(f"no rule checks this command: {line}")


def check_pip_install(args: list[str], line: str) -> None:
    """Fail unless ``pip install`` gets the checkout, ``build``, the wheel, or Airflow and the wheel pinned.

    :param args: the arguments after ``pip install``.
    :param line: the whole line, for the message.
    """
    if args in (["."], ["build"], [WHEEL]):
        return
    match args:
        case [requirement, wheel, "-c", constraints] if requirement.startswith("apache-airflow=="):
            version = requirement.removeprefix("apache-airflow==")
            assert wheel == WHEEL, line
            assert constraints == f"constraints/constraints-{version}.txt", line
            assert (REPO / constraints).is_file(), line
        case _:
            raise AssertionError(f"no rule checks this pip install: {line}")


def check_copy(line: str) -> None:
    """Run a ``cp`` line in bash with this Python first on the PATH; it must copy the example DAGs.

    :param line: the line, which copies into ``$AIRFLOW_HOME/dags/``.
    """
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "dags").mkdir()
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        subprocess.run(
            ["bash", "-c", line], env={**os.environ, "AIRFLOW_HOME": home, "PATH": path}, check=True
        )
        copied = sorted(p.name for p in (Path(home) / "dags").iterdir())
    assert copied == sorted(p.name for p in EXAMPLES), line


def check_connection(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail unless Airflow reads ``name=value`` as an ``onlinesim`` connection that makes a client.

    :param name: the environment variable, ``AIRFLOW_CONN_<ID>``.
    :param value: its value, JSON or URI.
    :param monkeypatch: sets the variable for this test only.
    """
    from airflow.providers.common.compat.sdk import BaseHook

    monkeypatch.setenv(name, value)
    conn = BaseHook.get_connection(name.removeprefix("AIRFLOW_CONN_").lower())
    assert conn.conn_type == "onlinesim", value
    settings = client_settings(conn)
    assert settings.api_key in PLACEHOLDER_KEYS, value
    assert settings.base_url.startswith(("http://", "https://")), value
