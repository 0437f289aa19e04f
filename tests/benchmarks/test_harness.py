from __future__ import annotations

import math

import pytest

from benchmarks._harness import Row, fmt, percentile, ratio, table


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([float(i) for i in range(1, 101)], 99, 99.0),
        ([float(i) for i in range(1, 101)], 100, 100.0),
        ([5.0], 99, 5.0),
    ],
    ids=["median-of-three", "p99-of-100", "max", "single"],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


@pytest.mark.parametrize(
    ("value", "text"),
    [(2518.4, "2,518"), (42.37, "42.4"), (0.8251, "0.825"), (0.0, "0"), (math.nan, "n/a")],
    ids=["thousands", "tens", "fraction", "zero", "nan"],
)
def test_fmt_keeps_three_significant_digits(value: float, text: str) -> None:
    assert fmt(value) == text


def test_ratio_against_a_missing_baseline_is_nan() -> None:
    assert ratio(1.0, 2.0) == 0.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(1.0, math.nan))


def test_table_aligns_columns_and_marks_targets() -> None:
    rows = [
        Row("4 sandbox", "saturation", "throughput", 2518.0, "req/s", target=">= 2,000", ok=True),
        Row("2 client", "hook", "vs session", 534.0, "calls/s", 0.8, "session", ">= 0.9x", False),
        Row("3 worker", "poke", "task starts", 1.0),
    ]
    lines = table(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    assert len({len(line.rstrip()) for line in lines[:2]}) == 1
    assert lines[2].rstrip().endswith("yes")
    assert lines[3].rstrip().endswith("NO")
    assert "0.80x" in lines[3]
    assert not lines[4].rstrip().endswith(("yes", "NO"))
