from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from benchmarks._harness import Row, fmt, percentile, ratio, read_result, table, write_result

if TYPE_CHECKING:
    from pathlib import Path


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


def test_a_result_of_any_size_arrives_whole(tmp_path: Path) -> None:
    # A full run's latencies are megabytes of JSON; the one that broke over a pipe was 480 KiB.
    result = {"latencies": [i / 7 for i in range(200_000)], "errors": 0}
    write_result({"result_path": str(tmp_path / "result.json")}, result)
    assert read_result("benchmarks._loadgen", tmp_path / "result.json") == result


def test_a_cut_result_says_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text('{"latencies": [0.5, 0.25, 0.1', encoding="utf-8")
    with pytest.raises(RuntimeError) as failure:
        read_result("benchmarks._loadgen", path)
    message = str(failure.value)
    assert message.startswith(f"benchmarks._loadgen wrote no valid JSON result to {path}")
    assert "read 29 bytes" in message
    assert "head '{\"latencies\": [0.5, 0.25, 0.1'" in message
    assert 'tail \'{"latencies"' in message


def test_a_missing_result_says_nothing_was_read(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"read 0 bytes, head '', tail ''"):
        read_result("benchmarks._loadgen", tmp_path / "absent.json")
