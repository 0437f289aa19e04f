"""The example DAGs: they load cleanly, and each runs end-to-end with ``dag.test()`` on the sandbox."""

from __future__ import annotations

import pytest

from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS
from tests.conftest import REPO, load_dag
from tests.dags.smoke import error_lines

pytestmark = pytest.mark.airflow

EXAMPLES = REPO / "example_dags"
EXAMPLE_IDS = {
    "example_onlinesim_verification",
    "example_onlinesim_rent",
    "example_onlinesim_parallel",
    "example_onlinesim_delivery_monitor",
    "example_onlinesim_rotation",
    "example_onlinesim_start_from_trigger",
} | ({"example_onlinesim_rent_inbox"} if AIRFLOW_V_3_3_PLUS else set())  # asset watchers: 3.3+


@pytest.fixture
def fast_examples(monkeypatch, onlinesim_conn, airflow_db):
    """Point the examples at the sandbox (which plays the services) and make their waits short."""
    monkeypatch.setenv("ONLINESIM_SANDBOX_URL", onlinesim_conn.url)
    monkeypatch.setenv("ONLINESIM_POKE_INTERVAL", "0.2")
    monkeypatch.setenv("ONLINESIM_WAIT_TIMEOUT", "10")
    return onlinesim_conn


def run_example(name):
    dr = load_dag(EXAMPLES / f"{name}.py").test()
    tis = {(ti.task_id, ti.map_index): ti for ti in dr.get_task_instances()}
    return dr, tis


def states(tis):
    return {key: str(ti.state) for key, ti in tis.items()}


def xcom(ti):
    return ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)


def xcom_text(ti):
    """Return a plain-string XCom (read from the metadata DB, Airflow 3 decodes "123" as 123)."""
    return str(xcom(ti))


def api_calls(sandbox):
    return [r["action"] for r in sandbox.requests()]


def test_example_dags_load_without_import_errors(fast_examples):
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(EXAMPLES))
    else:
        from airflow.models.dagbag import DagBag

        bag = DagBag(dag_folder=str(EXAMPLES), include_examples=False)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXAMPLE_IDS
    for dag_id in EXAMPLE_IDS:
        assert "onlinesim" in bag.get_dag(dag_id).tags


# --- example_onlinesim_verification ---------------------------------------------------------------


def test_verification_succeeds_and_the_teardown_completes_the_number(fast_examples, capfd):
    dr, tis = run_example("example_onlinesim_verification")
    assert dr.state == "success"
    assert error_lines(capfd.readouterr().out) == []
    assert states(tis) == {
        ("check_balance", -1): "success",
        ("order_number", -1): "success",
        ("submit_number", -1): "success",
        ("wait_for_code", -1): "success",
        ("use_code", -1): "success",
        ("close_number", -1): "success",
    }
    [activation] = fast_examples.activations()
    [sms] = activation["messages"]
    order = xcom(tis["order_number", -1])
    assert order["activation_id"] == activation["id"]
    assert xcom_text(tis["submit_number", -1]) == order["phone"] == activation["phone"]
    assert xcom(tis["wait_for_code", -1]) == {
        "activation_id": activation["id"],
        "code": sms["code"],
        "text": None,
    }
    assert xcom_text(tis["use_code", -1]) == sms["code"]
    assert xcom(tis["close_number", -1])["closed_as"] == "complete"
    summary = fast_examples.summary()
    assert (summary["charged"], summary["refunded"], summary["completed"]) == ("10.00", "0.00", 1)
    # the wait's getStatus, then the teardown's: it reads the state before it closes
    assert api_calls(fast_examples) == ["getBalance", "getNumber", "getStatus", "getStatus", "setStatus"]


def test_verification_cancels_when_no_code_comes(fast_examples, monkeypatch):
    monkeypatch.delenv("ONLINESIM_SANDBOX_URL")  # nobody sends the SMS
    monkeypatch.setenv("ONLINESIM_WAIT_TIMEOUT", "1")
    dr, tis = run_example("example_onlinesim_verification")
    assert dr.state == "failed"
    assert states(tis)["wait_for_code", -1] == "failed"
    assert states(tis)["use_code", -1] == "upstream_failed"
    assert states(tis)["close_number", -1] == "success"
    assert xcom(tis["close_number", -1])["already_closed"] is True, "the wait had cancelled it"
    summary = fast_examples.summary()
    assert (summary["charged"], summary["refunded"], summary["cancelled"]) == ("10.00", "10.00", 1)


def test_verification_orders_nothing_when_the_balance_is_low(fast_examples, capfd):
    fast_examples.set_balance("5.00")
    dr, tis = run_example("example_onlinesim_verification")
    assert dr.state == "failed"
    assert error_lines(capfd.readouterr().out, besides_failures=True) == [], (
        "the teardown with nothing to close logs no error"
    )
    assert states(tis)["check_balance", -1] == "failed"
    assert states(tis)["order_number", -1] == "upstream_failed"
    assert states(tis)["close_number", -1] == "skipped", "nothing was ordered, nothing to close"
    assert api_calls(fast_examples) == ["getBalance"]
    assert fast_examples.summary()["charged"] == "0.00"


# --- example_onlinesim_rent -----------------------------------------------------------------------


def test_rent_gets_the_senders_message_and_closes(fast_examples, capfd):
    dr, tis = run_example("example_onlinesim_rent")
    assert dr.state == "success"
    assert error_lines(capfd.readouterr().out) == []
    assert states(tis) == {
        ("rent_number", -1): "success",
        ("submit_number", -1): "success",
        ("wait_for_message", -1): "success",
        ("use_message", -1): "success",
        ("close_rent", -1): "success",
    }
    message = xcom(tis["wait_for_message", -1])
    assert message["rent_id"] == xcom(tis["rent_number", -1])["rent_id"]
    assert (message["service"], message["code"]) == ("twitter", "314159"), "the notice was skipped"
    assert xcom_text(tis["use_message", -1]) == "314159"
    summary = fast_examples.summary()
    assert (summary["rent_orders"], summary["open_rents"], summary["refunded"]) == (1, 0, "0.00")


def test_rent_is_closed_and_refunded_when_no_message_comes(fast_examples, monkeypatch):
    monkeypatch.delenv("ONLINESIM_SANDBOX_URL")
    monkeypatch.setenv("ONLINESIM_WAIT_TIMEOUT", "1")
    dr, tis = run_example("example_onlinesim_rent")
    assert dr.state == "failed"
    assert states(tis)["wait_for_message", -1] == "failed"
    assert states(tis)["close_rent", -1] == "success", "the teardown closes the rent anyway"
    summary = fast_examples.summary()
    assert summary["open_rents"] == 0
    assert summary["refunded"] == summary["charged"] != "0.00"


# --- example_onlinesim_parallel -------------------------------------------------------------------


def test_parallel_verifies_every_target(fast_examples):
    dr, tis = run_example("example_onlinesim_parallel")
    assert dr.state == "success"
    assert sorted(states(tis).items()) == sorted(
        ((f"verify.{task}", index), "success")
        for task in ("order_number", "submit_number", "wait_for_code", "close_number")
        for index in range(3)
    )
    by_id = {a["id"]: a for a in fast_examples.activations()}
    assert sorted((a["service"], a["country"]) for a in by_id.values()) == [
        ("tg", "7"),
        ("vk", "380"),
        ("wa", "44"),
    ]
    for index in range(3):
        result = xcom(tis["verify.wait_for_code", index])
        assert result["code"] == by_id[result["activation_id"]]["messages"][0]["code"]
    summary = fast_examples.summary()
    assert (summary["orders"], summary["completed"], summary["refunded"]) == (3, 3, "0.00")


def test_parallel_closes_every_number_on_failure(fast_examples, monkeypatch):
    monkeypatch.delenv("ONLINESIM_SANDBOX_URL")
    monkeypatch.setenv("ONLINESIM_WAIT_TIMEOUT", "1")
    monkeypatch.setenv("ONLINESIM_TARGETS", "tg:7,wa:44")
    dr, tis = run_example("example_onlinesim_parallel")
    assert dr.state == "failed"
    assert [states(tis)["verify.close_number", index] for index in range(2)] == ["success"] * 2
    summary = fast_examples.summary()
    assert (summary["orders"], summary["cancelled"], summary["refunded"]) == (2, 2, summary["charged"])


def test_rent_teardown_is_skipped_when_no_rent_was_made(fast_examples, capfd):
    fast_examples.set_rent_stock("7", 0)
    dr, tis = run_example("example_onlinesim_rent")
    assert dr.state == "failed"
    assert error_lines(capfd.readouterr().out, besides_failures=True) == [], (
        "the teardown with nothing to close logs no error"
    )
    assert states(tis)["rent_number", -1] == "failed"
    assert states(tis)["close_rent", -1] == "skipped"
    assert fast_examples.summary()["charged"] == "0.00"


# --- example_onlinesim_delivery_monitor -----------------------------------------------------------

MONITOR = "example_onlinesim_delivery_monitor"
#: Every pair's code arrives half a sandbox second after the order ...
DELIVERING = ["*:*:1.0:0.5"]
#: ... except country 380's, which never arrives.
SILENT_380 = ["380:*:0.0", *DELIVERING]


@pytest.fixture
def monitor(fast_examples, monkeypatch):
    """The sandbox plays the product's SMS by its delivery rules; the monitor starts with no history."""
    from airflow.models.variable import Variable

    monkeypatch.delenv("ONLINESIM_SANDBOX_URL")
    monkeypatch.setenv("ONLINESIM_WAIT_TIMEOUT", "3")
    fast_examples.set_delivery(DELIVERING, seed=1)
    Variable.delete(f"onlinesim_delivery_monitor__{MONITOR}")
    return fast_examples


def report_of(tis):
    report = tis["report", -1]
    summary = report.xcom_pull(task_ids="report", key="summary")
    rows = [(p["pair"], p["delivered"], p["attempts"], p["refunded"], p["stopped"]) for p in summary["pairs"]]
    return summary, rows


def test_monitor_reports_every_pair(monitor):
    dr, tis = run_example(MONITOR)
    assert dr.state == "success"
    summary, rows = report_of(tis)
    assert rows == [
        ("tg:7", True, 1, False, False),
        ("vk:380", True, 1, False, False),
        ("wa:44", True, 1, False, False),
    ]
    assert (summary["delivered"], summary["stopped"]) == (3, [])
    assert all(p["time_to_code"] > 0 for p in summary["pairs"])
    ledger = monitor.summary()
    assert (ledger["orders"], ledger["completed"], ledger["refunded"]) == (3, 3, "0.00")


def test_monitor_turns_the_run_red_when_a_pair_stops_delivering(monitor):
    first, _ = run_example(MONITOR)
    assert first.state == "success"
    monitor.set_delivery(SILENT_380)
    dr, tis = run_example(MONITOR)
    assert dr.state == "failed"
    assert states(tis)["report", -1] == "failed"
    summary, rows = report_of(tis)
    assert rows == [
        ("tg:7", True, 1, False, False),
        ("vk:380", False, 1, True, True),
        ("wa:44", True, 1, False, False),
    ]
    assert (summary["delivered"], summary["stopped"]) == (2, ["vk:380"])
    silent = next(p for p in summary["pairs"] if p["pair"] == "vk:380")
    assert silent["time_to_code"] is None
    assert silent["last_delivered"] is not None, "it delivered in the first run"
    ledger = monitor.summary()
    assert (ledger["orders"], ledger["cancelled"]) == (6, 1)
    assert ledger["refunded"] != "0.00"


def test_monitor_keeps_the_run_green_for_a_pair_that_never_delivered(monitor):
    monitor.set_delivery(SILENT_380)
    dr, tis = run_example(MONITOR)
    assert dr.state == "success"
    summary, rows = report_of(tis)
    assert ("vk:380", False, 1, True, False) in rows
    assert summary["stopped"] == []


# --- example_onlinesim_rotation -------------------------------------------------------------------


@pytest.fixture
def rotation(fast_examples, monkeypatch):
    monkeypatch.setenv("ONLINESIM_ATTEMPT_TIMEOUT", "1.5")
    return fast_examples


def _attempts(tis):
    return [(a["country"], a["outcome"]) for a in xcom(tis["verify", -1])["attempts"]]


def test_rotation_moves_on_from_a_country_the_service_ignores(rotation):
    dr, tis = run_example("example_onlinesim_rotation")
    assert dr.state == "success"
    assert states(tis) == {("verify", -1): "success", ("use_code", -1): "success"}
    assert _attempts(tis) == [("44", "no_code"), ("7", "code")]
    silent, good = rotation.activations()
    [sms] = good["messages"]
    assert silent["messages"] == []
    result = xcom(tis["verify", -1])
    assert (result["activation_id"], result["phone"], result["code"]) == (
        good["id"],
        good["phone"],
        sms["code"],
    )
    assert xcom_text(tis["use_code", -1]) == sms["code"]
    summary = rotation.summary()
    assert (summary["charged"], summary["refunded"], summary["completed"]) == ("20.00", "10.00", 1)
    assert summary["open_activations"] == 0


def test_rotation_cancels_a_refused_number_and_tries_the_next(rotation, monkeypatch):
    monkeypatch.setenv("ONLINESIM_SILENT_COUNTRY", "none")
    monkeypatch.setenv("ONLINESIM_REFUSED_PREFIXES", "44")
    dr, tis = run_example("example_onlinesim_rotation")
    assert dr.state == "success"
    assert _attempts(tis) == [("44", "rejected"), ("7", "code")]
    summary = rotation.summary()
    assert (summary["refunded"], summary["completed"], summary["open_activations"]) == ("10.00", 1, 0)


def test_rotation_refunds_every_number_when_no_code_ever_comes(rotation, monkeypatch):
    monkeypatch.delenv("ONLINESIM_SANDBOX_URL")  # nobody sends the SMS
    dr, tis = run_example("example_onlinesim_rotation")
    assert dr.state == "failed"
    assert states(tis) == {("verify", -1): "failed", ("use_code", -1): "upstream_failed"}
    summary = rotation.summary()
    assert (summary["orders"], summary["refunded"], summary["open_activations"]) == (3, "30.00", 0)


# --- example_onlinesim_start_from_trigger ---------------------------------------------------------


def test_start_from_trigger_example_gets_the_code_and_completes_the_number(fast_examples):
    """dag.test() runs every task in-process: the wait defers from there, with the same trigger."""
    dag = load_dag(EXAMPLES / "example_onlinesim_start_from_trigger.py")
    assert dag.get_task("wait_for_code").start_from_trigger is AIRFLOW_V_3_3_PLUS
    dr = dag.test()
    tis = {(ti.task_id, ti.map_index): ti for ti in dr.get_task_instances()}
    assert dr.state == "success"
    assert set(states(tis).values()) == {"success"}
    [activation] = fast_examples.activations()
    assert xcom(tis["wait_for_code", -1]) == {
        "activation_id": activation["id"],
        "code": activation["messages"][0]["code"],
        "text": None,
    }
    assert xcom(tis["close_number", -1])["closed_as"] == "complete"


# --- example_onlinesim_rent_inbox -----------------------------------------------------------------


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ defines the DAG")
def test_rent_inbox_example_defines_no_dag_before_airflow_3_3():
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES / "example_onlinesim_rent_inbox.py"), include_examples=False)
    assert bag.import_errors == {}
    assert bag.dag_ids == []


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="asset watchers with a state store: Airflow 3.3+")
def test_rent_inbox_example_watches_the_rent_and_runs(fast_examples, monkeypatch):
    monkeypatch.setenv("ONLINESIM_INBOX_RENT_ID", "4242")
    monkeypatch.setenv("ONLINESIM_INBOX_SENDER", "twitter")
    dag = load_dag(EXAMPLES / "example_onlinesim_rent_inbox.py")
    [inbox] = dag.timetable.asset_condition.objects
    [watcher] = inbox.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "onlinesim_provider.triggers.rent_inbox.OnlineSimRentMessageTrigger"
    assert (kwargs["rent_id"], kwargs["sender"]) == (4242, "twitter")
    # A manual run has no asset event: the task handles none, and makes no API call.
    dr = dag.test()
    [ti] = dr.get_task_instances()
    assert (dr.state, xcom(ti)) == ("success", [])
    assert api_calls(fast_examples) == []


def store_inbox_event(*messages):
    """Store an event of the inbox asset as a watcher's poll would, with these messages' texts."""
    from airflow.assets.manager import AssetManager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    sent = [{"rent_id": 4242, "phone_from": "+1555", "text": text, "service": "twitter"} for text in messages]
    payload = {"rent_id": 4242, "messages": sent}
    with create_session() as session:
        asset = session.scalars(select(AssetModel).where(AssetModel.name == "onlinesim_rent_inbox")).one()
        AssetManager.register_asset_change(asset=asset, extra={"payload": payload}, session=session)


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="asset watchers with a state store: Airflow 3.3+")
def test_each_inbox_message_is_handled_by_exactly_one_run(fast_examples, monkeypatch):
    """A run takes every message no earlier run took, whichever events the scheduler gave it."""
    monkeypatch.setenv("ONLINESIM_INBOX_RENT_ID", "4242")
    dag = load_dag(EXAMPLES / "example_onlinesim_rent_inbox.py")
    assert dag.max_active_runs == 1
    assert [xcom(ti) for ti in dag.test().get_task_instances()] == [[]], "nothing stored yet"
    store_inbox_event("code is 1", "code is 2")  # a burst one poll found
    store_inbox_event("code is 3")  # the next poll, before any run
    [first] = dag.test().get_task_instances()
    store_inbox_event("code is 4")
    [second] = dag.test().get_task_instances()
    assert [m["text"] for m in xcom(first)] == ["code is 1", "code is 2", "code is 3"]
    assert [m["text"] for m in xcom(second)] == ["code is 4"]
    assert api_calls(fast_examples) == [], "the DAG reads Airflow's events, not the API"


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="asset watchers with a state store: Airflow 3.3+")
def test_rent_inbox_example_without_a_rent_polls_nothing(fast_examples, monkeypatch):
    monkeypatch.delenv("ONLINESIM_INBOX_RENT_ID", raising=False)
    dag = load_dag(EXAMPLES / "example_onlinesim_rent_inbox.py")
    [inbox] = dag.timetable.asset_condition.objects
    assert inbox.watchers == []
