"""The provider in a real Airflow deployment, which ``dag.test()`` cannot show.

Tasks run in worker processes; a deferred sensor moves to the triggerer, which rebuilds the
trigger from the metadata database and reads the connection through its own path; the
connection is created through the REST API and its form looked at in a real browser; the key is
searched for in every log, table and captured output. These tests use the shared deployment
(``conftest.py``): the triggerer they kill is started again, and they check only their own orders.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from deploy.connection_form import capture_connection_form
from deploy.evidence import DEFERRED, FIRED, SecretScan, task_log_dir, trigger_logs, worker_log
from deploy.processes import wait_for
from deploy.runs import RunWatch, trigger_run, watch_runs
from onlinesim_provider.get_provider_info import CONN_FIELDS, CONN_TYPE, HOOK_NAME, UI_FIELD_BEHAVIOUR
from tests.deployment.codes import CodeAtRead
from tests.deployment.conftest import BUDGET, connection_body, search_deployment

if TYPE_CHECKING:
    from deploy.airflow_stack import AirflowDeployment
    from deploy.stack import Stack
    from tests.statsd_receiver import StatsdReceiver

VERIFICATION = "example_onlinesim_verification"
RENT = "example_onlinesim_rent"
#: Number rotation with ``end_from_trigger``: the code's wait ends in the triggerer.
ROTATION = "example_onlinesim_rotation"
#: What each worker start of a task writes first (Airflow 3's task runner).
WORKER_START = "::group::Pre Execute"
ON_KILL = "invoking on_kill"
SENSOR_TRIGGERS = {
    "OnlineSimSmsSensor": "onlinesim_provider.triggers.onlinesim.OnlineSimSmsTrigger",
    "OnlineSimRentSmsSensor": "onlinesim_provider.triggers.onlinesim.OnlineSimRentSmsTrigger",
}
#: Where to save the connection form's picture (``docs/connection-form.png`` refreshes the README's).
SCREENSHOT = os.environ.get("ONLINESIM_SCREENSHOT")

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(BUDGET + 60)]


def sensor_task(airflow: AirflowDeployment, dag_id: str) -> tuple[str, str]:
    """Return the task id and class name of the DAG's one OnlineSIM sensor (as the api-server knows it)."""
    tasks = airflow.api.get(f"/api/v2/dags/{dag_id}/tasks").json()["tasks"]
    sensors = [(t["task_id"], t["class_ref"]["class_name"]) for t in tasks]
    sensors = [(task, cls) for task, cls in sensors if cls in SENSOR_TRIGGERS]
    assert len(sensors) == 1, f"{dag_id}: expected one OnlineSIM sensor, found {sensors}"
    return sensors[0]


@dataclass
class ExampleRuns:
    """The example DAGs' runs, and the sandbox's ledger while they ran (nothing else orders then)."""

    runs: dict[str, RunWatch]
    ledger: list[dict[str, Any]]


@pytest.fixture(scope="session")
def example_runs(stack: Stack, connection: dict[str, Any]) -> ExampleRuns:
    """Trigger the example DAGs through the REST API at once and watch them to the end."""
    airflow = stack.airflow
    for dag_id in (VERIFICATION, RENT, ROTATION):
        airflow.wait_for_dag(dag_id)
    earlier = len(stack.control.ledger())
    # Each code comes once the trigger polls (a sensor's first read is on the worker, before it
    # defers; the rotation's too), so every wait is seen deferred and fired in the triggerer.
    with CodeAtRead(stack.control, read=2):
        runs = {dag_id: trigger_run(airflow, dag_id) for dag_id in (VERIFICATION, RENT, ROTATION)}
        watch_runs(airflow, list(runs.values()), timeout=180)
    return ExampleRuns(runs, stack.control.ledger()[earlier:])


def test_every_component_is_up_and_loads_the_provider(stack: Stack) -> None:
    health = stack.airflow.health()
    assert {k: v["status"] for k, v in health.items()} == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }
    providers = stack.airflow.api.get("/api/v2/providers").json()["providers"]
    assert "airflow-provider-onlinesim" in [p["package_name"] for p in providers]


def test_connection_form_metadata_lists_our_fields(stack: Stack) -> None:
    reply = stack.airflow.api.get("/ui/connections/hook_meta")
    assert reply.status_code == 200, reply.text
    ours = [m for m in reply.json() if m["connection_type"] == CONN_TYPE]
    assert len(ours) == 1, [m["connection_type"] for m in reply.json()]
    meta = ours[0]
    assert meta["hook_name"] == HOOK_NAME
    assert meta["hook_class_name"] == "onlinesim_provider.hooks.onlinesim.OnlineSimHook"
    standard = meta["standard_fields"]
    for hidden in UI_FIELD_BEHAVIOUR["hidden-fields"]:
        if hidden in standard:
            assert standard[hidden]["hidden"] is True, hidden
    for name, label in UI_FIELD_BEHAVIOUR["relabeling"].items():
        assert standard[name] == {
            "hidden": False,
            "title": label,
            "placeholder": UI_FIELD_BEHAVIOUR["placeholders"][name],
        }
    extra = meta["extra_fields"]
    assert set(extra) == set(CONN_FIELDS)
    for name, field in CONN_FIELDS.items():
        assert extra[name]["schema"]["title"] == field["label"], name
        assert extra[name]["description"] == field["description"], name


def test_connection_form_in_a_real_browser(stack: Stack) -> None:
    target = Path(SCREENSHOT) if SCREENSHOT else stack.root / "connection-form.png"
    shown = capture_connection_form(
        stack.airflow.base_url,
        stack.airflow.token,
        HOOK_NAME,
        target,
        stack.airflow.component_logs / "chromium.log",
    )
    standard, extra = shown["standard"], shown["extra"]
    assert {"Base URL", "API key"} <= set(standard), standard
    assert not {"Login", "Port", "Schema", "Host", "Password"} & set(standard), standard
    assert {f["label"] for f in CONN_FIELDS.values()} <= set(extra), extra
    assert shown["placeholders"]["password"] == UI_FIELD_BEHAVIOUR["placeholders"]["password"]
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 20_000, "the picture is suspiciously small: is the form on it?"


def test_test_connection_answers_clearly_for_good_and_bad_keys(
    stack: Stack, connection: dict[str, Any]
) -> None:
    api = stack.airflow.api
    good = api.post("/api/v2/connections/test", json=connection)
    assert good.status_code == 200, good.text
    assert good.json()["status"] is True, good.json()
    balance = re.search(r"Balance: ([\d.]+)", good.json()["message"])
    assert balance, good.json()
    assert Decimal(balance.group(1)) == Decimal(stack.control.summary()["balance"]), good.json()

    wrong_key = "osk-not-the-right-key"
    bad = api.post("/api/v2/connections/test", json=connection_body(stack, wrong_key, "onlinesim_other"))
    assert bad.status_code == 200, bad.text
    answer = bad.json()
    assert answer["status"] is False, answer
    assert "BAD_KEY" in answer["message"], answer
    assert "key" in answer["message"].lower(), answer
    assert wrong_key not in answer["message"]


def test_example_dags_succeed(example_runs: ExampleRuns) -> None:
    for run in example_runs.runs.values():
        assert run.state == "success", run.summary()
        unfinished = [task for task, states in run.seen.items() if states[-1] not in ("success", "skipped")]
        assert not unfinished, run.summary()


@pytest.mark.parametrize(
    ("dag_id", "order_task", "id_key", "doing"),
    [
        (VERIFICATION, "order_number", "activation_id", "waiting for an SMS code on activation {}"),
        (RENT, "rent_number", "rent_id", "waiting for a message on rent {}"),
    ],
    ids=["verification", "rent"],
)
def test_sms_wait_was_deferred_and_fired_by_the_triggerer(
    stack: Stack, example_runs: ExampleRuns, dag_id: str, order_task: str, id_key: str, doing: str
) -> None:
    airflow = stack.airflow
    run = example_runs.runs[dag_id]
    task_id, sensor_class = sensor_task(airflow, dag_id)
    folder = task_log_dir(airflow.task_logs, dag_id, run.run_id, task_id)
    worker = worker_log(folder)
    assert DEFERRED in worker, f"the worker never deferred {task_id}:\n{worker[-2000:]}"
    assert FIRED not in worker, "the event fired inside the worker, not in the triggerer"
    fired_by = {job: text for job, text in trigger_logs(folder).items() if FIRED in text}
    assert len(fired_by) == 1, f"trigger logs of {task_id}: {sorted(trigger_logs(folder))}"
    (job_id, text) = next(iter(fired_by.items()))
    triggerers = airflow.api.get("/api/v2/jobs", params={"job_type": "TriggererJob"}).json()["jobs"]
    assert job_id in [job["id"] for job in triggerers], f"job {job_id} is not a triggerer: {triggerers}"
    event = next(line for line in text.splitlines() if FIRED in line)
    assert "success" in event, event
    ours = doing.format(xcom(airflow, run, order_task)[id_key])
    reported = [json.loads(line) for line in text.splitlines() if f"{ours}:" in line]
    assert reported, f"our trigger did not report its outcome:\n{text[-2000:]}"
    assert reported[-1].get("logger") == SENSOR_TRIGGERS[sensor_class], reported


def test_metrics_arrive_from_the_worker_and_the_triggerer(
    statsd: StatsdReceiver, example_runs: ExampleRuns
) -> None:
    def tagged(name: str, dag_id: str, **tags: str) -> bool:
        return any(
            p.name == name and p.tags.get("dag_id") == dag_id and tags.items() <= p.tags.items()
            for p in statsd.packets()
        )

    rent = {"service": "rent", "country": "7"}
    expected = [
        # the workers: the ordering and closing tasks
        ("onlinesim.number.ordered", VERIFICATION, {"service": "tg", "country": "7"}),
        ("onlinesim.rent.opened", RENT, rent),
        ("onlinesim.rent.closed", RENT, rent),
        # the triggerer: the deferred waits end there
        ("onlinesim.code.received", VERIFICATION, {}),
        ("onlinesim.wait.duration", VERIFICATION, {"outcome": "code"}),
        ("onlinesim.code.received", RENT, rent),
        ("onlinesim.time_to_code", RENT, rent),
        ("onlinesim.wait.duration", RENT, {**rent, "outcome": "code"}),
    ]
    statsd.wait_for(lambda _: all(tagged(name, dag, **tags) for name, dag, tags in expected), timeout=30)
    missing = [line for line in expected if not tagged(line[0], line[1], **line[2])]
    assert missing == [], f"not received: {missing}; got {sorted({p.name for p in statsd.packets()})}"
    # Airflow's own metrics from the scheduler arrive at the same receiver.
    assert any(p.name.startswith("scheduler") for p in statsd.packets(prefix=""))


def xcom(airflow: AirflowDeployment, run: RunWatch, task_id: str) -> Any:
    """Return what a task of the run returned, read through the REST API."""
    reply = airflow.api.get(f"{run.path}/taskInstances/{task_id}/xcomEntries/return_value")
    assert reply.status_code == 200, reply.text
    value = reply.json()["value"]
    return json.loads(value) if isinstance(value, str) and value.startswith("{") else value


def test_ledger_shows_each_order_paid_once_and_closed(stack: Stack, example_runs: ExampleRuns) -> None:
    airflow, control = stack.airflow, stack.control
    order = xcom(airflow, example_runs.runs[VERIFICATION], "order_number")
    rent = xcom(airflow, example_runs.runs[RENT], "rent_number")
    verified = xcom(airflow, example_runs.runs[ROTATION], "verify")
    ledger = example_runs.ledger
    money = sorted(
        (e["event"], e.get("activation_id") or e.get("rent_id"))
        for e in ledger
        if e["event"] in ("charge", "refund")
    )
    charged = [order["activation_id"], rent["rent_id"], verified["activation_id"]]
    assert money == sorted(("charge", paid) for paid in charged), ledger
    for activation_id in (order["activation_id"], verified["activation_id"]):
        (activation,) = [a for a in control.activations() if a["id"] == activation_id]
        assert activation["state"] == "completed", activation
    closes = [e for e in ledger if e["event"] == "rent_close"]
    assert closes == [{**closes[0], "rent_id": rent["rent_id"], "refunded": False}], ledger
    (rented,) = [r for r in control.rents() if r["id"] == rent["rent_id"]]
    assert rented["state"] != "open", rented


def test_rotation_ends_in_the_triggerer_after_one_worker_start(
    stack: Stack, example_runs: ExampleRuns
) -> None:
    """``end_from_trigger``: the worker orders, submits and defers; the trigger completes and ends."""
    airflow, control = stack.airflow, stack.control
    run = example_runs.runs[ROTATION]
    folder = task_log_dir(airflow.task_logs, ROTATION, run.run_id, "verify")
    worker = worker_log(folder)
    assert worker.count(WORKER_START) == 1, f"the worker started more than once:\n{worker[-3000:]}"
    assert DEFERRED in worker, worker[-2000:]
    assert "Pushing xcom" not in worker, "the worker returned the result, not the trigger"
    ended_by = [job for job, text in trigger_logs(folder).items() if "its code was used" in text]
    assert len(ended_by) == 1, sorted(trigger_logs(folder))
    result = xcom(airflow, run, "verify")
    (activation,) = [a for a in control.activations() if a["id"] == result["activation_id"]]
    assert activation["state"] == "completed", activation
    assert result["code"] == activation["messages"][0]["code"]
    assert [a["outcome"] for a in result["attempts"]] == ["code"]
    assert run.seen["use_code"][-1] == "success", run.summary()


def _deadline_of(stored: dict[str, Any]) -> datetime:
    found = re.search(r'"deadline":\s*"([^"]+)"', stored["kwargs"])
    assert found, f"no deadline in the stored trigger kwargs: {stored['kwargs']}"
    return datetime.fromisoformat(found.group(1))


@dataclass
class WaitingRun:
    """A verification run whose SMS sensor is deferred, polled by a triggerer, and has no SMS yet."""

    run: RunWatch
    task_id: str
    activation_id: int
    trigger: dict[str, Any]


def start_waiting_run(stack: Stack) -> WaitingRun:
    """Trigger a verification run that gets no SMS by itself; return once its wait is polled."""
    airflow, control = stack.airflow, stack.control
    before = {a["id"] for a in control.activations()}
    run = trigger_run(airflow, VERIFICATION)
    task_id, sensor_class = sensor_task(airflow, VERIFICATION)

    def deferred_and_polled() -> list[dict[str, Any]] | None:
        run.observe(airflow)
        stored = [t for t in airflow.stored_triggers(run.run_id) if t["triggerer"]]
        ordered = {str(a["id"]) for a in control.activations() if a["id"] not in before}
        reads = [r["query"].get("id") for r in control.requests() if r["action"] == "getStatus"]
        polled = bool(ordered.intersection(reads))
        return stored if run.seen.get(task_id, [None])[-1] == "deferred" and stored and polled else None

    processes = list(airflow.processes.values())
    what = f"{task_id} is deferred and its trigger polls the API"
    stored = wait_for(
        what, deferred_and_polled, 120, processes, airflow.processes["triggerer"], stack.deadline
    )
    assert isinstance(stored, list)
    assert len(stored) == 1, stored
    trigger = stored[0]
    assert trigger["classpath"] == SENSOR_TRIGGERS[sensor_class]
    in_kwargs = SecretScan(stack.api_key)
    in_kwargs.scan("trigger kwargs", trigger["kwargs"])
    assert in_kwargs.hits == [], "key in trigger kwargs"
    assert '"onlinesim_conn_id": "onlinesim_default"' in trigger["kwargs"], trigger["kwargs"]
    (activation,) = [a for a in control.activations() if a["id"] not in before]
    return WaitingRun(run, task_id, activation["id"], trigger)


def test_wait_survives_a_triggerer_crash(stack: Stack, example_runs: ExampleRuns) -> None:
    """SIGKILL the triggerer while a wait is deferred; a new triggerer resumes it from the database."""
    airflow, control = stack.airflow, stack.control
    waiting = start_waiting_run(stack)
    run, task_id, old_triggerer = waiting.run, waiting.task_id, waiting.trigger["triggerer"]
    deadline = _deadline_of(waiting.trigger)
    folder = task_log_dir(airflow.task_logs, VERIFICATION, run.run_id, task_id)
    # The triggerer writes a trigger's log lines some time after the trigger polls: wait for them,
    # so that what the SIGKILL leaves behind does not depend on how busy the machine is.
    wait_for(
        "the first triggerer writes the wait's log",
        lambda: old_triggerer in trigger_logs(folder),
        60,
        list(airflow.processes.values()),
        airflow.processes["triggerer"],
        stack.deadline,
    )

    airflow.processes["triggerer"].kill()
    killed_at = len(control.requests())
    airflow.start_component("triggerer")
    airflow.wait_healthy(["triggerer", "api-server"])

    def resumed_elsewhere() -> bool:
        moved = [t for t in airflow.stored_triggers() if t["triggerer"] not in (None, old_triggerer)]
        polled = any(r["action"] == "getStatus" for r in control.requests()[killed_at:])
        return bool(moved) and polled

    processes, triggerer = list(airflow.processes.values()), airflow.processes["triggerer"]
    wait_for("a new triggerer resumes the wait", resumed_elsewhere, 90, processes, triggerer, stack.deadline)
    control.deliver_sms(waiting.activation_id, code="424242")
    watch_runs(airflow, [run], timeout=120)

    assert run.state == "success", run.summary()
    finished = datetime.fromisoformat(run.tasks[task_id]["end_date"].replace("Z", "+00:00"))
    assert finished < deadline, f"finished {finished} after the wait's deadline {deadline}"
    result = airflow.api.get(f"{run.path}/taskInstances/{task_id}/xcomEntries/return_value").json()
    assert "424242" in json.dumps(result["value"]), result
    logs = trigger_logs(folder)
    assert old_triggerer in logs, f"the first triggerer's log is gone: {sorted(logs)}"
    fired_by = [job for job, text in logs.items() if FIRED in text]
    assert len(fired_by) == 1, f"fired by {fired_by}"
    assert fired_by[0] != old_triggerer, f"fired by the killed triggerer {old_triggerer}"
    money = [e for e in control.ledger() if e.get("activation_id") == waiting.activation_id]
    assert [e["event"] for e in money if e["event"] in ("charge", "refund")] == ["charge"], money


def test_failing_a_deferred_wait_by_hand_refunds_the_number_once(
    stack: Stack, example_runs: ExampleRuns
) -> None:
    """Mark a deferred wait failed through the REST API, as a user would in the UI.

    Two cleanups race for the number: the trigger's ``on_kill`` in the triggerer, and the DAG's
    ``close_number`` teardown on a worker. Whichever comes first cancels it; the other finds it
    closed. The price must come back exactly once.
    """
    airflow, control = stack.airflow, stack.control
    waiting = start_waiting_run(stack)
    reply = airflow.api.patch(
        f"{waiting.run.path}/taskInstances/{waiting.task_id}", json={"new_state": "failed"}
    )
    assert reply.status_code == 200, reply.text
    watch_runs(airflow, [waiting.run], timeout=120)

    assert waiting.run.seen[waiting.task_id][-1] == "failed", waiting.run.summary()
    assert waiting.run.seen["close_number"][-1] == "success", waiting.run.summary()
    money = [e for e in control.ledger() if e.get("activation_id") == waiting.activation_id]
    charges = [e["amount"] for e in money if e["event"] == "charge"]
    refunds = [e["amount"] for e in money if e["event"] == "refund"]
    cancels = [e for e in money if e["event"] == "status" and e["to"] == "cancelled"]
    assert len(charges) == 1, money
    assert refunds == charges, money
    assert len(cancels) == 1, money
    folder = task_log_dir(airflow.task_logs, VERIFICATION, waiting.run.run_id, waiting.task_id)
    in_triggerer = any(ON_KILL in text for text in trigger_logs(folder).values())
    print(f"\ncancelled by {'the trigger (on_kill)' if in_triggerer else 'the close_number teardown'}")


def test_the_key_search_finds_the_key_planted_in_a_log_a_table_and_an_encrypted_value(
    stack: Stack, connection: dict[str, Any]
) -> None:
    """Control: a search that cannot find the key proves nothing."""
    airflow, key = stack.airflow, stack.api_key
    planted_log = airflow.task_logs / "planted.log"
    planted_log.write_text(f"GET /stubs/handler_api.php?api_key={quote(key, safe='')}\n")
    airflow.query("INSERT INTO log (dttm, event, extra) VALUES (now(), 'planted', %s)", f"key {key}")
    encrypted = airflow.fernet.encrypt(key.encode()).decode()
    airflow.query("INSERT INTO variable (key, val, is_encrypted) VALUES ('planted', %s, true)", encrypted)
    scan = SecretScan(key)
    try:
        search_deployment(stack, scan)
    finally:
        planted_log.unlink()
        airflow.query("DELETE FROM log WHERE event = 'planted'")
        airflow.query("DELETE FROM variable WHERE key = 'planted'")
    planted = ["database dump", "decrypted values of table public.variable", str(planted_log)]
    assert sorted(place for place, _ in scan.hits) == sorted(planted), scan.hits
    (dumped,) = [line for place, line in scan.hits if place == "database dump"]
    assert "\tplanted\t" in dumped, dumped
    assert "\tkey <KEY>" in dumped, dumped


def test_the_api_key_is_in_no_log_table_or_output(
    stack: Stack, key_scan: SecretScan, example_runs: ExampleRuns
) -> None:
    """Search every log but the sandbox's, the metadata database and each test's captured output.

    It runs after every other test (``conftest.py``), so it sees what they all left behind.
    """
    logs = search_deployment(stack, key_scan)
    names = {p.name for p in logs}
    assert {"scheduler.log", "triggerer.log", "api-server.log", "dag-processor.log"} <= names, names
    assert any(".log.trigger." in n for n in names), "no trigger log was scanned"
    assert any(re.fullmatch(r"attempt=\d+\.log", n) for n in names), "no worker log was scanned"
    used = [r for r in stack.control.requests() if r["auth"] != "none"]
    assert used, "the key was never used: nothing to prove"
    assert {r["auth"] for r in used} == {"header"}, "the key travelled in a URL"
    # The one place the key may be: the connection's password, encrypted.
    [(password,)] = stack.airflow.query("SELECT password FROM connection WHERE conn_id = 'onlinesim_default'")
    assert stack.airflow.fernet.decrypt(password.encode()).decode() == stack.api_key
    assert key_scan.hits == []
