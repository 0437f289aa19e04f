"""The metrics page lists exactly the metrics the code emits, and its exporter mapping maps each one."""

from __future__ import annotations

import re

import yaml

from onlinesim_provider.metrics import METRICS, MetricType
from tests.conftest import REPO

PAGE = REPO / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(onlinesim\.[a-z_.]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \|$", re.MULTILINE)


def documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    rows = ROW.findall(PAGE.read_text())
    assert len(rows) == len({name for name, *_ in rows}), "a metric is listed twice"
    return {name: (kind, tuple(re.findall(r"`(\w+)`", tags))) for name, kind, tags, _ in rows}


def test_the_page_lists_every_emitted_metric_with_its_type_and_tags():
    assert documented() == {name: (m.type.value, m.tags) for name, m in METRICS.items()}


def test_the_page_names_every_outcome_and_the_plain_statsd_names():
    text = PAGE.read_text()
    for outcome in ("code", "timeout", "error", "killed"):
        assert f"`{outcome}`" in text
    assert "onlinesim.number.ordered.<dag_id>.<service>.<country>" in text


def test_the_exporter_mapping_maps_every_metric_by_its_type():
    mapping = yaml.safe_load((REPO / "docs" / "statsd_exporter_mapping.yml").read_text())
    assert mapping["defaults"]["observer_type"] == "histogram"
    names = {rule["match"].removeprefix("airflow."): rule["name"] for rule in mapping["mappings"]}
    assert set(names) == set(METRICS)
    for metric, exported in names.items():
        suffix = "_seconds" if METRICS[metric].type is MetricType.TIMER else "_total"
        assert exported.startswith("onlinesim_")
        assert exported.endswith(suffix), exported
    page = PAGE.read_text()
    queried = set(re.findall(r"\b(onlinesim_\w+?)(?:_bucket)?\[", page))
    assert queried <= set(names.values()), "a query names a metric the mapping does not export"
    assert queried
