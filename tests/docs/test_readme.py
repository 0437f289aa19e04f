"""The README: a short front page whose every code block is checked against what the tests run."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.docs.snippets import check_shell_line, code_blocks, quoted_file

README = (REPO / "README.md").read_text()
BLOCKS = code_blocks(README)
SECTIONS = [
    "Install",
    "Connection",
    "A complete verification DAG",
    "Operators and sensors at a glance",
    "The sandbox in ten lines",
    "Documentation",
    "Develop",
]


def test_readme_is_a_short_front_page_in_a_users_order() -> None:
    assert len(README.splitlines()) < 210
    assert re.findall(r"^## (.+)$", README, re.MULTILINE) == SECTIONS


def test_readme_links_only_to_real_urls() -> None:
    # The README is the package's long description: a relative link would be broken there.
    targets = re.findall(r"\]\(([^)]*)\)", README)
    assert targets
    assert [t for t in targets if not t.startswith("https://")] == []


@pytest.mark.parametrize(
    "body", [body for lang, body in BLOCKS if lang == "python"], ids=lambda body: body.split("\n")[0][:40]
)
def test_readme_python_is_a_slice_of_a_file_the_tests_run(body: str) -> None:
    assert quoted_file(body) is not None, f"not found verbatim in an example DAG, test or script:\n{body}"


def test_readme_dag_is_the_verification_example_with_its_imports() -> None:
    example = REPO / "example_dags" / "example_onlinesim_verification.py"
    [dag] = [body for lang, body in BLOCKS if lang == "python" and body.startswith("with DAG(")]
    assert quoted_file(dag) == example
    assert "[END howto_operator_onlinesim_verification]" in dag
    [imports] = [body for lang, body in BLOCKS if lang == "python" and "import OnlineSimSmsSensor" in body]
    assert quoted_file(imports) == example
    for name in re.findall(r"\b(DAG|datetime|OnlineSim\w+)\(", dag):
        assert re.search(rf"\b{name}\b", imports), f"the README's DAG uses {name}, which its imports lack"


@pytest.mark.parametrize(
    "line",
    [line for lang, body in BLOCKS if lang == "bash" for line in body.splitlines()],
)
def test_readme_shell_lines_work_as_written(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    check_shell_line(line, monkeypatch)
