"""The constraint files: one per tested Airflow version, each saying how it was made.

Tests marked ``no_airflow`` (the ``api`` and ``sandbox`` packages, which import-linter keeps free of
Airflow) run in the Airflow 3 suite only. The two suites' constraint files must therefore pin the
same version of every library those layers import, and of everything those libraries pull in.
"""

from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPO / "constraints"
MAKEFILE = (REPO / "Makefile").read_text(encoding="utf-8")
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


def _make_variable(name: str) -> list[str]:
    match = re.search(rf"^{name} [?:]?= (.+)$", MAKEFILE, re.MULTILINE)
    assert match, f"the Makefile sets no {name}"
    return match[1].split()


SUITES = [*_make_variable("AIRFLOW_VERSION"), *_make_variable("AIRFLOW2_VERSION")]


def test_each_tested_airflow_version_has_a_constraint_file_that_says_how_it_was_made() -> None:
    tested = SUITES + _make_variable("SMOKE_VERSIONS")
    assert sorted(path.name for path in CONSTRAINTS.glob("*.txt")) == sorted(
        f"constraints-{version}.txt" for version in tested
    )
    assert re.search(r"^constraints: ", MAKEFILE, re.MULTILINE)
    for version in tested:
        header = (CONSTRAINTS / f"constraints-{version}.txt").read_text(encoding="utf-8").splitlines()[0]
        assert f"Airflow {version} " in header
        assert header.endswith(f"(make constraints VERSION={version})."), header
        assert _pins(CONSTRAINTS / f"constraints-{version}.txt")["apache-airflow"] == version


def test_both_suites_constraint_files_pin_the_same_versions_of_what_the_airflow_free_layers_use() -> None:
    files = [CONSTRAINTS / f"constraints-{version}.txt" for version in SUITES]
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
