"""The Airflow-free layers run on one Airflow version only; that holds while nothing they use differs.

Tests marked ``no_airflow`` (the ``api`` and ``sandbox`` packages, which import-linter keeps free of
Airflow) run in the Airflow 3 suite only. Both constraint files must therefore pin the same
version of every library those layers import, and of everything those libraries pull in.
"""

from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement

CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints"
#: The libraries the api and sandbox layers import (pyproject's dependencies besides Airflow).
ROOTS = ("requests", "aiohttp", "tenacity", "pydantic")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[_normal(match[1])] = match[2]
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: tuple[str, ...]) -> set[str]:
    """Return the roots and every library they require when installed (no extras)."""
    seen: set[str] = set()
    todo = [_normal(root) for root in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_normal(requirement.name))
    return seen


def test_both_constraint_files_pin_the_same_versions_of_what_the_airflow_free_layers_use() -> None:
    files = sorted(CONSTRAINTS.glob("constraints-*.txt"))
    assert len(files) == 2, files
    first, second = (_pins(path) for path in files)
    libraries = _closure(ROOTS)
    assert {"requests", "urllib3", "aiohttp", "yarl", "tenacity"} <= libraries
    differing = {
        name: (first.get(name), second.get(name)) for name in libraries if first.get(name) != second.get(name)
    }
    assert differing == {}, (
        f"{files[0].name} and {files[1].name} pin these differently: {differing}; "
        "run the no_airflow tests on both Airflow versions (Makefile: test-airflow2)"
    )
