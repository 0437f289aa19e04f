"""Smoke test: the four loops make exactly the calls counted (sizes tiny; no timing asserted)."""

from __future__ import annotations

import pytest

from benchmarks import client_overhead

pytestmark = pytest.mark.benchmark


def test_quick_run_measures_every_loop_and_the_sandbox_counts_every_call() -> None:
    rows = client_overhead.run(quick=True)

    rates = {r.subject: r.value for r in rows if r.metric == "calls/s"}
    assert set(rates) == {
        client_overhead.RAW,
        client_overhead.SESSION,
        client_overhead.HOOK,
        client_overhead.HTTPHOOK,
    }
    assert all(rate > 0 for rate in rates.values())
    [logged] = [r for r in rows if r.metric == "getStatus calls"]
    assert logged.ok is True
    assert logged.value == 4 * (2 * 20 + 1)
    targets = {r.baseline for r in rows if r.subject == client_overhead.HOOK and r.target}
    assert targets == {client_overhead.SESSION, client_overhead.HTTPHOOK}
