"""The distribution: the wheel carries the package, its type marker and the example DAGs, nothing else.

Built offline (``--no-isolation``, with the environment's setuptools) from a copy of the source
tree, so that a build running next to other tests never shares ``build/`` or ``*.egg-info``.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from onlinesim_provider import __version__
from tests.conftest import REPO

pytestmark = pytest.mark.packaging

NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", ".smoke", "build", "dist", "_build", "_api", "*.egg-info", "__pycache__", ".*_cache"
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist, then the wheel from it, as ``python -m build`` does; return the folder."""
    tmp = tmp_path_factory.mktemp("dist")
    source = tmp / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=280,
        check=True,
    )
    return tmp / "dist"


@pytest.fixture(scope="module")
def wheel(dist: Path) -> zipfile.ZipFile:
    """Open the built wheel."""
    with zipfile.ZipFile(dist / f"airflow_provider_onlinesim-{__version__}-py3-none-any.whl") as built:
        yield built


def test_wheel_has_every_module_the_marker_and_the_example_dags(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    package = {p.relative_to(REPO).as_posix() for p in (REPO / "onlinesim_provider").rglob("*.py")}
    examples = {f"onlinesim_provider/example_dags/{p.name}" for p in (REPO / "example_dags").glob("*.py")}
    assert package - names == set()
    assert "onlinesim_provider/py.typed" in names
    assert "onlinesim_provider/example_dags/example_onlinesim_verification.py" in examples
    assert examples - names == set()
    assert "airflow_provider_onlinesim/__init__.py" in names
    assert f"airflow_provider_onlinesim-{__version__}.dist-info/licenses/LICENSE" in names


def test_wheel_has_nothing_from_tests_benchmarks_or_deploy(wheel: zipfile.ZipFile) -> None:
    top_level = {name.split("/")[0] for name in wheel.namelist()}
    assert top_level == {
        "onlinesim_provider",
        "airflow_provider_onlinesim",
        f"airflow_provider_onlinesim-{__version__}.dist-info",
    }
    assert [n for n in wheel.namelist() if {"tests", "benchmarks", "deploy"} & set(n.split("/"))] == []


def test_metadata_names_no_url_that_does_not_exist(wheel: zipfile.ZipFile) -> None:
    info = f"airflow_provider_onlinesim-{__version__}.dist-info"
    meta = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
    assert meta.get_all("Project-URL") is None
    assert meta.get_all("Home-page") is None
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Description-Content-Type"] == "text/markdown"
    entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "onlinesim_provider.get_provider_info:get_provider_info" in entry_points


def test_twine_accepts_the_distribution(dist: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_installed_wheel_shows_airflow_its_example_dags(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    # A wheel's files unpacked onto the path are what an install imports (ahead of the editable one).
    wheel.extractall(tmp_path)
    probe = (
        "import os, airflow_provider_onlinesim as m, onlinesim_provider as p;"
        "print(p.__file__); print(*(os.path.join(d, 'example_dags') for d in m.__path__))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,  # not the checkout, whose folders would be found first
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    package_file, example_folder = result.stdout.splitlines()
    assert Path(package_file) == tmp_path / "onlinesim_provider" / "__init__.py"
    assert Path(example_folder) == tmp_path / "onlinesim_provider" / "example_dags"
    assert (Path(example_folder) / "example_onlinesim_verification.py").is_file()
