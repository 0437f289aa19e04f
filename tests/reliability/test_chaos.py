"""Money under chaos: hundreds of flows, faults on ~10% of calls, kills and crashes mid-wait.

After the run the sandbox's ledger must show: every paid order either completed with a delivered
code or refunded, no flow paid twice, nothing left open. Orders whose outcome the client could
not know (their reply was lost) are the only ones the flows cannot close; the sandbox's own
rules must then refund them (an activation expires after 15 minutes, a rent without SMS is
cancelled after 20), which the run checks by moving the sandbox clock forward.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO, load_dag
from tests.reliability.chaos import FATES, MODES
from tests.reliability.conftest import SEED
from tests.reliability.ledger import audit

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl
    from tests.reliability.plugin import Report

pytestmark = [pytest.mark.airflow, pytest.mark.chaos]

FLOWS = 240
CONCURRENCY = 40
#: Transient faults, each on ~1% of all API calls (together ~10%), seeded.
FAULTS: list[dict[str, Any]] = [
    {"kind": "http_status", "status": 429, "retry_after": 0},
    {"kind": "http_status", "status": 500},
    {"kind": "http_status", "status": 502},
    {"kind": "http_status", "status": 503},
    {"kind": "reset"},
    {"kind": "reset", "processed": True},
    {"kind": "garbage"},
    {"kind": "html"},
    {"kind": "empty"},
    {"kind": "truncated_json"},
    {"kind": "token", "token": "ERROR_SQL"},
]


@pytest.fixture(scope="module")
def chaos_run(airflow_db: Any, onlinesim_sandbox_server: Any) -> dict[str, Any]:
    """Run the chaos once for the module; return its results and the ledger audit."""
    import os

    from tests.conftest import CONN_ENV, connection_uri_json

    control: SandboxControl = onlinesim_sandbox_server.control
    control.reset()
    control.set_balance("100000.00")
    for stock in ((c, s) for c in ("7", "380", "44", "49", "1") for s in ("tg", "wa", "vk", "google", "ig")):
        control.set_stock(*stock, 500)
    for country in ("7", "380", "44", "49", "1"):
        control.set_rent_stock(country, 500)
    for number, fault in enumerate(FAULTS):
        control.inject_fault(action="*", probability=0.01, seed=SEED + number, count=None, **fault)
    old = os.environ.get(CONN_ENV)
    os.environ[CONN_ENV] = connection_uri_json(control.url, control.api_key)
    try:
        dag = load_dag(REPO / "tests" / "dags_for_tests" / "test_dag_rel_chaos.py")
        conf = {"sandbox_url": control.url, "seed": SEED, "flows": FLOWS, "concurrency": CONCURRENCY}
        dag_run = dag.test(run_conf=conf)
        [ti] = dag_run.get_task_instances()
        outcome = ti.xcom_pull(task_ids="chaos")
    finally:
        if old is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = old
    faults_fired = sum(rule["fired"] for rule in control.faults())
    calls = len(control.requests())
    control.clear_faults()
    open_before = control.summary()
    control.advance(2 * 86400)  # let the sandbox's own rules end whatever the flows could not
    report = audit(control, "100000.00")
    return {
        "state": str(ti.state),
        "outcome": outcome,
        "faults_fired": faults_fired,
        "calls": calls,
        "open_before": open_before,
        "audit": report,
        "ledger": control.ledger(),
    }


def _results(chaos_run: dict[str, Any]) -> list[dict[str, Any]]:
    return chaos_run["outcome"]["results"]


def test_the_run_covers_every_mode_kind_and_incident(chaos_run: dict[str, Any]) -> None:
    assert chaos_run["state"] == "success"
    results = _results(chaos_run)
    assert len(results) == FLOWS >= 200
    assert {(r["kind"], r["mode"], r["fate"]) for r in results} >= {
        (k, m, f) for k in ("activation", "rent") for m in MODES for f in FATES
    }
    troubled = sum(r["fate"] != "normal" for r in results)
    assert 0.08 * FLOWS <= troubled <= 0.25 * FLOWS
    assert 0.06 <= chaos_run["faults_fired"] / chaos_run["calls"] <= 0.14


def test_no_flow_paid_twice(chaos_run: dict[str, Any]) -> None:
    results = _results(chaos_run)
    assert [r["number"] for r in results if len(set(r["order_ids"])) > 1] == []
    ledger = chaos_run["ledger"]
    orders = [e["activation_id"] for e in ledger if e["event"] == "order"]
    orders += [e["rent_id"] for e in ledger if e["event"] == "rent_order"]
    assert len(orders) == len(set(orders))
    known = {order_id for r in results for order_id in r["order_ids"]}
    orphans = set(orders) - known
    # an order no flow knows of is one whose reply was lost: at most one per such reply
    assert len(orphans) <= sum(r["unknown_orders"] for r in results)
    assert len(orders) <= FLOWS


def test_every_paid_order_was_used_or_refunded_and_nothing_is_left_open(chaos_run: dict[str, Any]) -> None:
    report = chaos_run["audit"]
    assert report.problems == []
    assert report.used + report.refunds == sum(report.activations.values()) + sum(report.rents.values())
    assert report.lost == []  # no code was delivered to an order the flow then failed to complete
    assert report.activations.keys() <= {"completed", "cancelled", "expired"}
    assert report.rents.keys() <= {"finished", "cancelled", "expired"}


def test_only_orders_with_an_unknown_outcome_were_left_to_the_sandbox(chaos_run: dict[str, Any]) -> None:
    results = _results(chaos_run)
    open_before = chaos_run["open_before"]
    unknown = sum(r["unknown_orders"] for r in results)
    assert open_before["open_activations"] + open_before["open_rents"] <= unknown
    # what expired did so without a code, and was refunded
    expired = [e for e in chaos_run["ledger"] if e["event"] in ("expire", "rent_expire")]
    assert all(e["refunded"] for e in expired)


def test_flows_that_went_right_completed_with_their_code(chaos_run: dict[str, Any]) -> None:
    results = _results(chaos_run)
    normal = [r for r in results if r["fate"] in ("normal", "crash", "order_crash")]
    completed = [r for r in normal if r["outcome"] == "completed"]
    failures = Counter(r["error"].split(":")[0] for r in normal if r["outcome"] == "failed")
    # faults may fail an order fatally (its outcome unknown); nothing else may stop a healthy flow
    assert set(failures) <= {"AirflowFailException"}
    assert all(r["stage"] == "order" for r in normal if r["outcome"] == "failed")
    assert all(r["code"] for r in completed)
    assert len(completed) >= 0.85 * len(normal)
    assert all(r["deadline_kept"] is not False for r in results)


def test_incidents_end_as_designed(chaos_run: dict[str, Any]) -> None:
    results = _results(chaos_run)
    by_fate = {fate: [r for r in results if r["fate"] == fate and r["order_id"]] for fate in FATES}
    assert all(r["outcome"] == "failed" and r["stage"] == "wait" for r in by_fate["no_sms"])
    assert all("SensorTimeout" in r["error"] for r in by_fate["no_sms"])
    assert all(r["outcome"] == "failed" and r["stage"] == "wait" for r in by_fate["kill"])
    assert all(r["outcome"] == "failed" and r["stage"] == "use" for r in by_fate["fail_after_code"])
    assert all(r["tries"]["wait"] == 2 for r in by_fate["crash"] if r["mode"] != "deferrable")
    assert all(r["tries"]["order"] == 2 for r in by_fate["order_crash"])


def test_print_the_ledger_summary(chaos_run: dict[str, Any], end_of_run_report: Report) -> None:
    results = _results(chaos_run)
    report, open_before = chaos_run["audit"], chaos_run["open_before"]
    outcomes = Counter((r["kind"], r["mode"], r["outcome"]) for r in results)
    lines = [
        f"{FLOWS} flows ({CONCURRENCY} at once) in {chaos_run['outcome']['seconds']} s; "
        f"{chaos_run['calls']} API calls, {chaos_run['faults_fired']} faulted "
        f"({100 * chaos_run['faults_fired'] / chaos_run['calls']:.1f}%)",
        f"incidents: {chaos_run['outcome']['incidents']}",
        "flows: " + ", ".join(f"{k}/{m} {o}: {n}" for (k, m, o), n in sorted(outcomes.items())),
        "left open by the flows (orders whose outcome was unknown): "
        f"{open_before['open_activations']} activations, {open_before['open_rents']} rents",
        *report.lines(),
    ]
    end_of_run_report("chaos run ledger summary", lines)
    assert report.problems == []
