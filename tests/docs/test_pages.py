"""The docs pages: code comes from files the tests run, and the connection forms really parse.

``make docs`` builds the site with warnings as errors, which also fails on a ``literalinclude``
whose file or ``[START howto_...]`` marker is gone.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.docs.snippets import QUOTABLE, check_shell_line, code_blocks

DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
BLOCKS = [(page.name, lang, body) for page in PAGES for lang, body in code_blocks(page.read_text())]
INCLUDE = re.compile(r"^\{literalinclude\} (\S+)$")


def test_the_pages_an_official_provider_has_exist() -> None:
    names = {page.stem for page in PAGES} | {page.stem for page in DOCS.glob("*.rst")}
    assert names >= {
        "index",
        "connections",
        "operators",
        "sensors",
        "triggers",
        "testing",
        "production",
        "reliability",
        "fault-matrix",
        "performance",
        "changelog",
        "api",
    }
    assert (DOCS / "connection-form.png").is_file()


def test_examples_are_included_from_files_the_tests_run() -> None:
    included = [INCLUDE.match(lang) for _, lang, _ in BLOCKS]
    files = {(DOCS / m.group(1)).resolve() for m in included if m}
    assert REPO / "example_dags" / "example_onlinesim_verification.py" in files
    assert all(f.is_file() for f in files)
    assert files <= set(QUOTABLE)  # example DAGs, tests and scripts the suite runs


def test_no_python_is_written_into_a_page() -> None:
    assert [(page, body) for page, lang, body in BLOCKS if lang == "python"] == []


@pytest.mark.parametrize(
    "line",
    [line for _, lang, body in BLOCKS if lang == "bash" for line in body.splitlines()],
)
def test_shell_lines_work_as_written(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    check_shell_line(line, monkeypatch)


def test_the_rejected_uri_form_is_named_as_invalid() -> None:
    from airflow.models.connection import Connection

    page = (DOCS / "connections.md").read_text()
    assert "`onlinesim://:KEY@http://127.0.0.1:8765`" in page
    with pytest.raises(Exception, match="Invalid connection string"):
        Connection(conn_id="c", uri="onlinesim://:KEY@http://127.0.0.1:8765")


def test_the_connection_page_documents_every_field_of_the_form() -> None:
    from onlinesim_provider.get_provider_info import get_provider_info

    [connection_type] = get_provider_info()["connection-types"]
    page = (DOCS / "connections.md").read_text()
    documented = set(re.findall(r"^\| [^|]*\(`(\w+)`\) \|", page, re.MULTILINE))
    assert set(connection_type["conn-fields"]) - documented == set()


def test_the_testing_page_lists_every_example_dag() -> None:
    page = (DOCS / "testing.md").read_text()
    section = page[page.index("## The example DAGs") :]
    listed = re.findall(r"^- `(example_onlinesim_\w+)`", section, re.MULTILINE)
    assert sorted(listed) == sorted(path.stem for path in (REPO / "example_dags").glob("example_*.py"))


def test_every_marked_example_block_is_shown_in_the_docs() -> None:
    shown = {lang + body for _, lang, body in BLOCKS if INCLUDE.match(lang)}
    for path in sorted((REPO / "example_dags").glob("example_*.py")):
        markers = re.findall(r"# \[START (howto_\w+)\]", path.read_text())
        assert markers, f"{path.name} has no [START howto_...] block"
        for marker in markers:
            assert any(f'"[START {marker}]"' in body and path.name in body for body in shown), marker
