"""Metrics under ``dag.test()``: what a StatsD receiver on loopback gets from whole verifications.

Each scenario runs a verification DAG in one wait mode and compares every ``onlinesim.*`` line
the receiver got with the scenario's table: name, type and tags, each exactly once. The tables
together name every metric of the registry, and with no receiver listening the same runs end in
the same states.
"""

from __future__ import annotations

from collections import Counter

import pytest

from onlinesim_provider.metrics import METRICS
from tests.conftest import REPO, load_dag

pytestmark = pytest.mark.airflow

DAG_FILE = REPO / "tests" / "dags_for_tests" / "test_dag_metrics.py"
TG = {"service": "tg"}
NO_NUMBERS = ("onlinesim.error", "c", {**TG, "country": "44", "token": "NO_NUMBERS"})
ORDERED = ("onlinesim.number.ordered", "c", {**TG, "country": "7"})
CANCELLED = ("onlinesim.number.cancelled", "c", {**TG, "country": "7"})


def wait_end(outcome):
    """The lines of a wait that ended with ``outcome``."""
    tags = {**TG, "country": "7"}
    if outcome == "code":
        ended = [("onlinesim.code.received", "c", tags), ("onlinesim.time_to_code", "ms", tags)]
    else:
        ended = [("onlinesim.wait.no_code", "c", {**tags, "outcome": outcome})]
    return [*ended, ("onlinesim.wait.duration", "ms", {**tags, "outcome": outcome})]


# scenario -> (run conf, sandbox set-up, expected lines, final states of the wait and the run)
SCENARIOS = {
    "code": ({"deliver": True}, None, [NO_NUMBERS, ORDERED, *wait_end("code")], ("success", "success")),
    "timeout": ({}, None, [NO_NUMBERS, ORDERED, *wait_end("timeout"), CANCELLED], ("failed", "failed")),
    "refund_after_failure": (
        {},
        lambda sandbox: sandbox.inject_fault("token", action="getStatus", token="NO_ACTIVATION"),
        [
            NO_NUMBERS,
            ORDERED,
            ("onlinesim.error", "c", {**TG, "country": "7", "token": "NO_ACTIVATION"}),
            *wait_end("error"),
            CANCELLED,
        ],
        ("failed", "failed"),
    ),
}
RENT = [
    ("onlinesim.rent.opened", "c", {"service": "rent", "country": "7"}),
    ("onlinesim.code.received", "c", {"service": "rent", "country": "7"}),
    ("onlinesim.time_to_code", "ms", {"service": "rent", "country": "7"}),
    ("onlinesim.wait.duration", "ms", {"service": "rent", "country": "7", "outcome": "code"}),
    ("onlinesim.rent.closed", "c", {"service": "rent", "country": "7"}),
]
CASES = [
    pytest.param(mode, scenario, id=f"{mode}-{scenario}")
    for mode in ("deferrable", "poke", "reschedule")
    for scenario in SCENARIOS
    if (mode, scenario) != ("reschedule", "refund_after_failure")
]


@pytest.fixture
def sandbox(monkeypatch, onlinesim_conn, airflow_db):
    monkeypatch.setenv("ONLINESIM_SANDBOX_URL", onlinesim_conn.url)
    onlinesim_conn.set_stock("44", "tg", 0)
    return onlinesim_conn


def run(sandbox, mode, scenario):
    conf, prepare, _, _ = SCENARIOS[scenario]
    if prepare:
        prepare(sandbox)
    dag = load_dag(DAG_FILE, f"test_dag_metrics_{mode}")
    dr = dag.test(run_conf=conf)
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    return dag.dag_id, str(dr.state), states


def lines(packets):
    return Counter((p.name, p.type, tuple(sorted(p.tags.items()))) for p in packets)


def expected_lines(expected, dag_id):
    return Counter(
        (name, kind, tuple(sorted({"dag_id": dag_id, **tags}.items()))) for name, kind, tags in expected
    )


@pytest.mark.parametrize(("mode", "scenario"), CASES)
def test_each_metric_arrives_once_with_its_type_and_tags(sandbox, statsd_receiver, mode, scenario):
    expected = SCENARIOS[scenario][2]
    dag_id, state, states = run(sandbox, mode, scenario)
    assert (states["wait_for_code"], state) == SCENARIOS[scenario][3]
    packets = statsd_receiver.wait_for(lambda got: len(got) >= len(expected))
    assert lines(packets) == expected_lines(expected, dag_id)
    timers = {p.name: p.value for p in packets if p.type == "ms"}
    assert all(value >= 0 for value in timers.values())
    if scenario == "code":
        assert timers["onlinesim.time_to_code"] >= timers["onlinesim.wait.duration"] * 0.99


def test_a_rent_sends_its_metrics(monkeypatch, onlinesim_conn, airflow_db, statsd_receiver):
    monkeypatch.setenv("ONLINESIM_SANDBOX_URL", onlinesim_conn.url)
    monkeypatch.setenv("ONLINESIM_POKE_INTERVAL", "0.2")
    dr = load_dag(REPO / "example_dags" / "example_onlinesim_rent.py").test()
    assert dr.state == "success"
    packets = statsd_receiver.wait_for(lambda got: len(got) >= len(RENT))
    assert lines(packets) == expected_lines(RENT, "example_onlinesim_rent")


def test_the_scenarios_cover_every_metric_of_the_registry():
    named = {line[0] for _, _, expected, _ in SCENARIOS.values() for line in expected}
    assert named | {line[0] for line in RENT} == set(METRICS)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_with_the_receiver_down_the_runs_end_the_same(sandbox, statsd_down, scenario):
    _, state, states = run(sandbox, "deferrable", scenario)
    assert (states["wait_for_code"], state) == SCENARIOS[scenario][3]
    summary = sandbox.summary()
    refunded = "0.00" if scenario == "code" else summary["charged"]
    assert (summary["orders"], summary["refunded"]) == (1, refunded)
