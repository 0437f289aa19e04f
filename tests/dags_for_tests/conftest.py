"""DAG files used by tests through ``tests.conftest.load_dag``; they hold no tests themselves."""

from __future__ import annotations

collect_ignore_glob = ["test_dag_*.py"]
