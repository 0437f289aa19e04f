"""Both sensors in poke, reschedule and deferrable mode, run by real Airflow against the sandbox.

Each DAG under ``tests/dags_for_tests/test_dag_sensor_*.py`` holds one sensor; ``dag.test()``
runs it (deferrable tasks' triggers run inline), and the sandbox's ledger and request log show
what happened to the money and which calls were made.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import DAG, AirflowSensorTimeout, TaskDeferred

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.sensors.onlinesim import DEFER_GRACE, OnlineSimRentSmsSensor, OnlineSimSmsSensor
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS
from onlinesim_provider.waits.deadline import utcnow
from onlinesim_provider.waits.inputs import instant
from tests.conftest import REPO, load_dag

pytestmark = pytest.mark.airflow

SMS_DAGS = REPO / "tests" / "dags_for_tests" / "test_dag_sensor_sms.py"
RENT_DAGS = REPO / "tests" / "dags_for_tests" / "test_dag_sensor_rent.py"
MODES = ["poke", "reschedule", "deferrable"]
DEADLINE_LINE = re.compile(r"Waiting for (?:an SMS code on activation|a message on rent) \d+ until (\S+)")


def run_dag(path, dag_id, **conf):
    """Run one sensor DAG; return the run and its only task instance."""
    dr = load_dag(path, dag_id).test(run_conf=conf)
    [ti] = dr.get_task_instances()
    return dr, ti


def actions(sandbox, name=None):
    calls = [r["action"] for r in sandbox.requests()]
    return calls if name is None else [c for c in calls if c == name]


@contextmanager
def on_first(sandbox, action, deliver):
    """Call ``deliver()`` from a thread once the sandbox has answered one ``action`` request."""
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            if action in actions(sandbox):
                deliver()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@pytest.fixture
def logged_deadlines(capfd, caplog):
    """Return a function giving the deadlines the sensors logged so far (Airflow 3: stdout)."""
    caplog.set_level(logging.INFO)

    def read():
        text = capfd.readouterr().out + caplog.text
        return [instant("deadline", found) for found in DEADLINE_LINE.findall(text)]

    return read


def cancel_time(sandbox, activation_id):
    """Return when the sandbox saw the activation cancelled (its clock runs at real speed)."""
    [event] = [
        e
        for e in sandbox.ledger()
        if e["event"] == "status" and e.get("activation_id") == activation_id and e.get("to") == "cancelled"
    ]
    return instant("time", event["time"])


@pytest.fixture
def activation(airflow_db, onlinesim_conn):
    return OnlineSimHook().client.get_number("tg", "7")


@pytest.fixture
def rent(airflow_db, onlinesim_conn):
    return OnlineSimHook().client.get_rent_number("7", 1)


# --- OnlineSimSmsSensor ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_sms_code_arriving_mid_wait_is_returned(onlinesim_conn, activation, mode):
    delivered = {}

    def deliver():
        delivered.update(onlinesim_conn.deliver_sms(activation.id, code="246810"))

    with on_first(onlinesim_conn, "getStatus", deliver):
        dr, ti = run_dag(SMS_DAGS, f"test_dag_sensor_sms_{mode}", activation_id=activation.id)
    assert dr.state == "success"
    assert (ti.state, ti.try_number) == ("success", 1)
    assert ti.xcom_pull(task_ids="wait_for_code") == {
        "activation_id": activation.id,
        "code": "246810",
        "text": None,
    }
    assert delivered["code"] == "246810"
    assert len(actions(onlinesim_conn, "getStatus")) >= 2, "it waited: polled before and after the SMS"
    assert "setStatus" not in actions(onlinesim_conn), "a wait that succeeded leaves the order alone"
    summary = onlinesim_conn.summary()
    assert (summary["charged"], summary["refunded"], summary["open_activations"]) == ("10.00", "0.00", 1)


@pytest.mark.parametrize("mode", MODES)
def test_sms_timeout_cancels_and_refunds_without_retry(onlinesim_conn, activation, mode, logged_deadlines):
    dr, ti = run_dag(SMS_DAGS, f"test_dag_sensor_sms_{mode}", activation_id=activation.id)
    assert dr.state == "failed"
    assert (ti.state, ti.try_number) == ("failed", 1), "AirflowSensorTimeout: no retry despite retries=1"
    summary = onlinesim_conn.summary()
    assert (summary["charged"], summary["refunded"], summary["cancelled"]) == ("10.00", "10.00", 1)
    assert actions(onlinesim_conn, "setStatus") == ["setStatus"], "cancelled exactly once"
    found = logged_deadlines()
    assert found, "the sensor logs its deadline"
    cancelled_at = cancel_time(onlinesim_conn, activation.id)
    assert found[-1] <= cancelled_at <= found[-1] + timedelta(seconds=3)


def test_reschedule_mode_keeps_one_absolute_deadline(onlinesim_conn, activation, logged_deadlines):
    _dr, ti = run_dag(SMS_DAGS, "test_dag_sensor_sms_reschedule", activation_id=activation.id)
    assert ti.state == "failed"
    found = logged_deadlines()
    # Every try logs the deadline it works to, the last one too (it finds the deadline passed);
    # how many tries fit in the timeout depends on the machine, but there are always two or more.
    assert len(found) >= 2, "a reschedule, each try logging the deadline it works to"
    if AIRFLOW_V_3_3_PLUS:
        assert len(set(found)) == 1, "the task state store keeps the very same instant"
    else:
        # Airflow 2 records when the first try began; that try itself reads the clock a moment
        # later, so its own deadline may be that moment later (far less than the timeout).
        assert len(set(found)) <= 2, "the first try's instant, then Airflow's first-reschedule record"
        assert max(found) - min(found) < timedelta(seconds=3), "Airflow's first-reschedule record"
    assert len(actions(onlinesim_conn, "getStatus")) == len(found)


@pytest.mark.parametrize("mode", MODES)
def test_sms_transient_errors_are_survived(onlinesim_conn, activation, mode):
    onlinesim_conn.deliver_sms(activation.id, code="135790")
    onlinesim_conn.inject_fault("http_status", action="getStatus", status=503, count=2)
    onlinesim_conn.inject_fault("reset", action="getStatus", count=1)
    dr, ti = run_dag(SMS_DAGS, f"test_dag_sensor_sms_{mode}", activation_id=activation.id)
    assert (dr.state, ti.state, ti.try_number) == ("success", "success", 1)
    assert ti.xcom_pull(task_ids="wait_for_code")["code"] == "135790"
    statuses = [r["status"] for r in onlinesim_conn.requests() if r["action"] == "getStatus"]
    assert statuses.count(503) == 2
    assert len(statuses) == 4, "two 503s and a reset, then the reply"


def test_poke_outlasts_an_outage_longer_than_the_client_retries(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id, code="112233")
    onlinesim_conn.inject_fault("http_status", action="getStatus", status=503, count=6)
    dr, ti = run_dag(SMS_DAGS, "test_dag_sensor_sms_poke_patient", activation_id=activation.id)
    assert (dr.state, ti.try_number) == ("success", 1)
    assert ti.xcom_pull(task_ids="wait_for_code")["code"] == "112233"
    assert len(actions(onlinesim_conn, "getStatus")) == 7, "one poke gave up after 5 tries; the next got it"


@pytest.mark.parametrize("mode", MODES)
def test_sms_fatal_error_fails_at_once(onlinesim_conn, airflow_db, mode):
    started = time.monotonic()
    dr, ti = run_dag(SMS_DAGS, f"test_dag_sensor_sms_{mode}", activation_id=424242)
    assert (dr.state, ti.state, ti.try_number) == ("failed", "failed", 1), "AirflowFailException: no retry"
    calls = actions(onlinesim_conn)
    assert calls[:2] == ["getStatus", "setStatus"], "NO_ACTIVATION is not retried; cleanup is tried"
    assert onlinesim_conn.summary()["orders"] == 0
    assert time.monotonic() - started < 30


def test_expires_at_caps_the_wait(onlinesim_conn, activation, logged_deadlines):
    expires_at = utcnow() + timedelta(seconds=1)
    _dr, ti = run_dag(
        SMS_DAGS,
        "test_dag_sensor_sms_poke_patient",
        activation_id=activation.id,
        expires_at=expires_at.isoformat(),
    )
    assert ti.state == "failed"
    assert logged_deadlines() == [expires_at], "min(start + 30 s, expires_at)"
    assert onlinesim_conn.summary()["refunded"] == "10.00"


def test_full_sms_with_a_code_pattern(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id, text="Your Telegram code: 98765. Never share it.")
    _dr, ti = run_dag(SMS_DAGS, "test_dag_sensor_sms_full_sms", activation_id=activation.id)
    assert ti.xcom_pull(task_ids="wait_for_code") == {
        "activation_id": activation.id,
        "code": "98765",
        "text": "Your Telegram code: 98765. Never share it.",
    }
    assert set(actions(onlinesim_conn)[1:]) == {"getFullSms"}


def test_on_kill_before_the_code_cancels(onlinesim_conn, activation):
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, timeout=60)
    assert not sensor.poke({})
    sensor.on_kill()
    summary = onlinesim_conn.summary()
    assert (summary["refunded"], summary["cancelled"]) == ("10.00", 1)


def test_on_kill_after_the_code_does_nothing(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id)
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, timeout=60)
    assert sensor.poke({})
    sensor.on_kill()
    assert "setStatus" not in actions(onlinesim_conn)


def test_cancel_on_failure_false_keeps_the_order(onlinesim_conn, activation):
    sensor = OnlineSimSmsSensor(
        task_id="wait", activation_id=activation.id, timeout=0, cancel_on_failure=False
    )
    with pytest.raises(Exception, match="timed out at the deadline") as info:
        sensor.poke({})
    assert type(info.value).__name__ == "AirflowSensorTimeout"
    assert onlinesim_conn.summary()["open_activations"] == 1


def test_cleanup_of_an_already_closed_activation_is_fine(onlinesim_conn, activation):
    OnlineSimHook().cancel_activation(activation.id)
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, timeout=60)
    with pytest.raises(Exception, match="is closed") as info:
        sensor.poke({})
    assert type(info.value).__name__ == "AirflowFailException"
    assert onlinesim_conn.summary()["refunded"] == "10.00"


@pytest.mark.parametrize(
    ("error", "raised"),
    [("Trigger timeout", "AirflowSensorTimeout"), ("Trigger failure", "AirflowFailException")],
    ids=["trigger_timeout", "trigger_crash"],
)
def test_airflow_failing_a_deferred_wait_still_cleans_up(onlinesim_conn, activation, error, raised):
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, deferrable=True)
    with pytest.raises(Exception, match=re.escape(error)) as info:
        sensor.resume_execution("__fail__", {"error": error}, {})
    assert type(info.value).__name__ == raised, "never retried: the number is gone"
    assert onlinesim_conn.summary()["refunded"] == "10.00"


def test_unexpected_trigger_event_fails_and_cleans_up(onlinesim_conn, activation):
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, deferrable=True)
    with pytest.raises(Exception, match="unexpected trigger event") as info:
        sensor.execute_complete({}, {"status": "done"})
    assert type(info.value).__name__ == "AirflowFailException"
    assert onlinesim_conn.summary()["refunded"] == "10.00"


# --- validation at parse time and after templating ---------------------------------------------

BAD_ARGS = [
    ("zero_id", {"activation_id": 0}, "activation_id"),
    ("text_id", {"activation_id": "abc"}, "activation_id"),
    ("wait_for", {"activation_id": 1, "wait_for": "sms"}, "wait_for='sms'"),
    ("pattern_without_full_sms", {"activation_id": 1, "code_pattern": r"(?P<code>\d+)"}, "full_sms"),
    ("pattern_without_group", {"activation_id": 1, "wait_for": "full_sms", "code_pattern": r"\d+"}, "'code'"),
    ("pattern_invalid", {"activation_id": 1, "wait_for": "full_sms", "code_pattern": "("}, "regular expr"),
]


@pytest.mark.parametrize(("kwargs", "message"), [c[1:] for c in BAD_ARGS], ids=[c[0] for c in BAD_ARGS])
def test_bad_sms_arguments_fail_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(Exception, match=re.escape(message)):
        OnlineSimSmsSensor(task_id="wait", **kwargs)


def test_templated_arguments_are_checked_after_rendering(onlinesim_conn, airflow_db):
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id="{{ x }}", expires_at="{{ y }}")
    sensor.activation_id, sensor.expires_at = "12", "next week"
    with pytest.raises(Exception, match="Invalid expires_at: got 'next week'") as info:
        sensor.poke({})
    assert type(info.value).__name__ == "AirflowFailException"
    assert onlinesim_conn.requests() == [], "refused before any call"


def test_deferrable_follows_the_airflow_default(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert OnlineSimSmsSensor(task_id="a", activation_id=1).deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert OnlineSimSmsSensor(task_id="b", activation_id=1).deferrable is False
    assert OnlineSimSmsSensor(task_id="c", activation_id=1, deferrable=True).deferrable is True


# --- OnlineSimRentSmsSensor --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_rent_message_from_the_sender_is_returned(onlinesim_conn, rent, mode):
    onlinesim_conn.deliver_rent_sms(rent.id, "Old twitter code 000000")
    # the API dates messages to the second: move the sandbox a minute on, and filter from the middle
    received_after = datetime.fromtimestamp(onlinesim_conn.now() + 30, UTC)
    onlinesim_conn.advance(60)

    def deliver():
        onlinesim_conn.deliver_rent_sms(rent.id, "Your number is ready", service="notify")
        onlinesim_conn.deliver_rent_sms(rent.id, "WhatsApp code 111111", service="whatsapp")
        onlinesim_conn.deliver_rent_sms(rent.id, "Twitter code 654321")

    with on_first(onlinesim_conn, "getRentStatus", deliver):
        dr, ti = run_dag(
            RENT_DAGS,
            f"test_dag_sensor_rent_{mode}",
            rent_id=rent.id,
            received_after=received_after.isoformat(),
        )
    assert (dr.state, ti.try_number) == ("success", 1)
    message = ti.xcom_pull(task_ids="wait_for_message")
    assert {k: v for k, v in message.items() if k != "date"} == {
        "rent_id": rent.id,
        "phone_from": "+79990001122",
        "text": "Twitter code 654321",
        "service": "twitter",
        "code": "654321",
    }
    assert instant("date", message["date"]) >= received_after
    assert onlinesim_conn.summary()["open_rents"] == 1, "a wait that succeeded leaves the rent open"


@pytest.mark.parametrize("mode", MODES)
def test_rent_timeout_closes_the_rent_and_refunds(onlinesim_conn, rent, mode):
    dr, ti = run_dag(RENT_DAGS, f"test_dag_sensor_rent_{mode}", rent_id=rent.id)
    assert (dr.state, ti.state, ti.try_number) == ("failed", "failed", 1)
    summary = onlinesim_conn.summary()
    assert (summary["open_rents"], summary["refunded"]) == (0, summary["charged"]), "close_on_failure=True"
    assert "setRentStatus" in actions(onlinesim_conn)


@pytest.mark.parametrize("mode", MODES)
def test_rent_transient_errors_are_survived(onlinesim_conn, rent, mode):
    onlinesim_conn.inject_fault("http_status", action="getRentStatus", status=502, count=3)
    with on_first(
        onlinesim_conn, "getRentStatus", lambda: onlinesim_conn.deliver_rent_sms(rent.id, "code 777777")
    ):
        dr, ti = run_dag(RENT_DAGS, f"test_dag_sensor_rent_{mode}", rent_id=rent.id)
    assert (dr.state, ti.try_number) == ("success", 1)
    assert ti.xcom_pull(task_ids="wait_for_message")["code"] == "777777"
    statuses = [r["status"] for r in onlinesim_conn.requests() if r["action"] == "getRentStatus"]
    assert statuses[:3] == [502, 502, 502]


@pytest.mark.parametrize("mode", MODES)
def test_rent_fatal_error_fails_at_once(onlinesim_conn, airflow_db, mode):
    dr, ti = run_dag(RENT_DAGS, f"test_dag_sensor_rent_{mode}", rent_id=777777)
    assert (dr.state, ti.state, ti.try_number) == ("failed", "failed", 1)
    assert actions(onlinesim_conn, "getRentStatus") == ["getRentStatus"], "NO_ID_RENT is not retried"


def sandbox_clock(sandbox):
    """Return a clock that reads the sandbox's time (which the test moves with ``advance``)."""
    return lambda: datetime.fromtimestamp(sandbox.now(), UTC)


def test_rent_received_after_defaults_to_the_sensor_start(onlinesim_conn, rent):
    onlinesim_conn.deliver_rent_sms(rent.id, "Twitter code 123456")
    onlinesim_conn.advance(60)  # the API dates messages to the second: the start is a minute later
    sensor = OnlineSimRentSmsSensor(
        task_id="wait", rent_id=rent.id, timeout=600, clock=sandbox_clock(onlinesim_conn)
    )
    assert not sensor.poke({}), "a message from before the start does not count"
    onlinesim_conn.deliver_rent_sms(rent.id, "Twitter code 654321")
    result = sensor.poke({})
    assert result.xcom_value["text"] == "Twitter code 654321"


def test_poke_times_out_on_the_injected_clock_and_cleans_up(onlinesim_conn, activation):
    now = [utcnow()]
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, timeout=60, clock=lambda: now[0])
    assert not sensor.poke({})
    now[0] += timedelta(seconds=59)
    assert not sensor.poke({}), "one second before the deadline it still waits"
    assert sensor.poke_interval == pytest.approx(1.0), "the next pause ends at the deadline, not past it"
    now[0] += timedelta(seconds=1)
    with pytest.raises(AirflowSensorTimeout, match="timed out at the deadline"):
        sensor.poke({})
    assert actions(onlinesim_conn, "getStatus") == ["getStatus"] * 3
    assert onlinesim_conn.summary()["refunded"] == "10.00", "a timed-out wait cancels its activation"


def test_deferral_carries_the_deadline_from_the_injected_clock(onlinesim_conn, activation):
    start = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
    sensor = OnlineSimSmsSensor(
        task_id="wait",
        activation_id=activation.id,
        timeout=300,
        poke_interval=7,
        deferrable=True,
        clock=lambda: start,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert trigger.deadline == start + timedelta(seconds=300)
    assert trigger.poll_interval == 7.0
    assert deferred.value.timeout == timedelta(seconds=300) + DEFER_GRACE
    # One read before deferring (the number has no code yet), then nothing until the trigger runs.
    assert [r["action"] for r in onlinesim_conn.requests()[1:]] == ["getStatus"]


def test_deferrable_wait_returns_a_code_already_there_without_deferring(onlinesim_conn, activation):
    """A code that is already there (on a retry, always) is returned at once: no deferral.

    A task that does not defer cannot be failed by Airflow's requeue race (docs/sensors.md).
    """
    onlinesim_conn.deliver_sms(activation.id, code="271828")
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=activation.id, deferrable=True)
    assert sensor.execute({}) == {"activation_id": activation.id, "code": "271828", "text": None}
    assert onlinesim_conn.summary()["refunded"] == "0.00"


def test_waits_retry_failures_from_outside_by_default_and_the_dag_can_say_otherwise():
    """Only failures Airflow inflicts reach a retry: the wait's own failures are final."""
    sensor = OnlineSimSmsSensor(task_id="wait", activation_id=1)
    assert (sensor.retries, sensor.retry_delay) == (2, timedelta(seconds=5))
    with DAG("retries", schedule=None, default_args={"retries": 0}):
        chosen = OnlineSimRentSmsSensor(task_id="wait", rent_id=1)
    assert chosen.retries == 0


def test_bad_rent_pattern_fails_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match=r"text_pattern='\(' is not a valid regular expression"):
        OnlineSimRentSmsSensor(task_id="wait", rent_id=1, text_pattern="(")


def test_an_order_that_is_no_dict_fails_when_the_dag_is_parsed():
    from airflow.providers.common.compat.sdk import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"Invalid order: got \[1, 2\]"):
        OnlineSimSmsSensor(task_id="wait", activation_id=5, order=[1, 2], timeout=5)


# --- start_from_trigger: the whole wait in the triggerer (Airflow 3.3+) ---------------------------

ORDER_ID = "{{ ti.xcom_pull(task_ids='order_number')['activation_id'] }}"
ORDER_EXPIRY = "{{ ti.xcom_pull(task_ids='order_number')['expires_at'] }}"
needs_3_3 = pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="start_from_trigger needs Airflow 3.3+")


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ has what start_from_trigger needs")
@pytest.mark.parametrize(
    ("sensor", "order"), [(OnlineSimSmsSensor, "activation_id"), (OnlineSimRentSmsSensor, "rent_id")]
)
def test_start_from_trigger_is_refused_at_parse_time_before_airflow_3_3(sensor, order):
    from airflow import __version__

    with pytest.raises(ValueError, match=r"needs Airflow 3\.3 or later") as refused:
        sensor(task_id="wait", **{order: 1}, deferrable=True, start_from_trigger=True)
    assert f"this is Airflow {__version__}" in str(refused.value)
    assert "deferrable=True" in str(refused.value)


@needs_3_3
def test_start_from_trigger_hands_airflow_the_trigger_with_templates_unrendered():
    sensor = OnlineSimSmsSensor(
        task_id="wait",
        activation_id=ORDER_ID,
        expires_at=ORDER_EXPIRY,
        timeout=300,
        poke_interval=7,
        deferrable=True,
        start_from_trigger=True,
    )
    args = sensor.start_trigger_args
    assert sensor.start_from_trigger is True
    assert args.trigger_cls == "onlinesim_provider.triggers.onlinesim.OnlineSimSmsTrigger"
    assert args.timeout == timedelta(seconds=300) + DEFER_GRACE
    assert args.next_method == "execute_complete"
    kwargs = args.trigger_kwargs
    assert (kwargs["activation_id"], kwargs["expires_at"]) == (ORDER_ID, ORDER_EXPIRY)
    assert (kwargs["timeout"], kwargs["end_task"], kwargs["deadline"]) == (300.0, True, None)
    assert (kwargs["poll_interval"], kwargs["cancel_on_kill"]) == (7.0, True)
    # The triggerer renders exactly the sensor's template fields that the trigger has.
    assert set(sensor.template_fields) <= set(kwargs)


@needs_3_3
def test_start_from_trigger_of_the_rent_sensor_carries_its_filters():
    sensor = OnlineSimRentSmsSensor(
        task_id="wait",
        rent_id="{{ ti.xcom_pull(task_ids='rent')['rent_id'] }}",
        sender="twitter",
        text_pattern=r"(?P<code>\d+)",
        close_on_failure=True,
        deferrable=True,
        start_from_trigger=True,
    )
    kwargs = sensor.start_trigger_args.trigger_kwargs
    assert sensor.start_trigger_args.trigger_cls.endswith("OnlineSimRentSmsTrigger")
    assert (kwargs["sender"], kwargs["text_pattern"], kwargs["close_on_kill"]) == (
        "twitter",
        r"(?P<code>\d+)",
        True,
    )
    assert set(sensor.template_fields) <= set(kwargs)


@needs_3_3
def test_start_from_trigger_survives_dag_serialization():
    """What the scheduler and the triggerer read is the serialized DAG, not the Python object."""
    from airflow.providers.common.compat.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("start_from_trigger", schedule=None, start_date=datetime(2025, 1, 1)) as dag:
        OnlineSimSmsSensor(task_id="wait", activation_id=ORDER_ID, deferrable=True, start_from_trigger=True)
    from airflow.serialization.enums import Encoding

    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("wait")
    assert task.start_from_trigger is True
    stored = task.start_trigger_args.trigger_kwargs
    assert stored.get(Encoding.VAR, stored)["activation_id"] == ORDER_ID
    assert task.start_trigger_args.timeout == timedelta(minutes=15) + DEFER_GRACE


@needs_3_3
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deferrable": False}, "start_from_trigger=True needs deferrable=True"),
        ({"execution_timeout": timedelta(seconds=10)}, "execution_timeout=0:00:10 shorter than timeout=900"),
    ],
    ids=["not-deferrable", "short-execution-timeout"],
)
def test_start_from_trigger_refuses_what_cannot_work(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        OnlineSimSmsSensor(
            task_id="wait", activation_id=1, start_from_trigger=True, **{"deferrable": True, **kwargs}
        )


@needs_3_3
def test_start_from_trigger_refuses_an_xcomarg_it_cannot_render():
    from airflow.providers.common.compat.sdk import DAG, task

    @task
    def order():
        return {"activation_id": 1}

    with DAG("xcomarg", schedule=None, start_date=datetime(2025, 1, 1)):
        ordered = order()
        with pytest.raises(ValueError, match=r"activation_id must be a value or a Jinja template string"):
            OnlineSimSmsSensor(
                task_id="wait",
                activation_id=ordered["activation_id"],
                deferrable=True,
                start_from_trigger=True,
            )


@needs_3_3
def test_start_from_trigger_task_that_lands_on_a_worker_still_defers(onlinesim_conn, activation):
    """dag.test() and a cleared task run execute() on a worker: it defers as a deferrable sensor does."""
    sensor = OnlineSimSmsSensor(
        task_id="wait", activation_id=activation.id, timeout=60, deferrable=True, start_from_trigger=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert trigger.end_task is False, "the worker resumes it: execute_complete cleans up as usual"
    assert trigger.deadline is not None
