"""The triggers, driven with asyncio against the sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.triggers.base import TaskFailedEvent, TaskSuccessEvent

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.hooks.settings import get_async_client
from onlinesim_provider.triggers import _polling as pool
from onlinesim_provider.triggers._polling import JITTER
from onlinesim_provider.triggers.onlinesim import OnlineSimRentSmsTrigger, OnlineSimSmsTrigger
from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS
from onlinesim_provider.waits.deadline import DEFER_GRACE, utcnow
from onlinesim_provider.waits.inputs import instant
from tests.conftest import connection_uri_json

DEADLINE = "2030-01-31T12:00:00+00:00"
READS = {"getStatus", "getFullSms", "getRentStatus"}


def in_seconds(seconds: float) -> str:
    return (utcnow() + timedelta(seconds=seconds)).isoformat()


async def collect(trigger):
    """Run the trigger to its end; return every event it yielded."""
    return [event async for event in trigger.run()]


def run(trigger):
    return asyncio.run(collect(trigger))


def actions(sandbox):
    return [r["action"] for r in sandbox.requests()]


class Pacing:
    """A clock and a pause for a trigger: no real time passes, each pause moves the clock on.

    :param on_pause: called (in a thread) with the pause's number after each pause, e.g. to
        deliver an SMS between two polls.
    """

    def __init__(self, on_pause=None):
        self.now = utcnow()
        self.pauses = []
        self.on_pause = on_pause

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.pauses.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.on_pause is not None:
            await asyncio.to_thread(self.on_pause, len(self.pauses))

    def deadline_in(self, seconds):
        return (self.now + timedelta(seconds=seconds)).isoformat()

    def kwargs(self):
        return {"clock": self.clock, "sleep": self.sleep}


@pytest.fixture
def activation(onlinesim_conn):
    return OnlineSimHook().client.get_number("tg", "7")


@pytest.fixture
def rent(onlinesim_conn):
    return OnlineSimHook().client.get_rent_number("7", 1)


# --- what the triggerer loads -------------------------------------------------------------------


def test_the_triggerer_loads_neither_the_sync_hook_nor_the_sensors():
    code = (
        "import sys, onlinesim_provider.triggers.onlinesim; "
        "print(sorted(m for m in sys.modules if m.startswith(('onlinesim_provider.hooks.onlinesim', "
        "'onlinesim_provider.api.client', 'onlinesim_provider.sensors', 'onlinesim_provider.operators'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]", "the last line is the list (Airflow may log first)"


# --- serialize() and restart -------------------------------------------------------------------


METRIC_LABELS = {
    "service": "tg",
    "country": "7",
    "dag_id": "verify",
    "ordered_at": "2030-01-31T11:00:00+00:00",
    "started_at": "2030-01-31T11:00:05+00:00",
}


def test_sms_trigger_serializes_plain_values_without_the_key():
    trigger = OnlineSimSmsTrigger(
        activation_id=5,
        deadline=DEADLINE,
        onlinesim_conn_id="my_conn",
        poll_interval=3,
        wait_for="full_sms",
        code_pattern=r"(?P<code>\d+)",
        cancel_on_kill=False,
        metrics=METRIC_LABELS,
    )
    assert trigger.serialize() == (
        "onlinesim_provider.triggers.onlinesim.OnlineSimSmsTrigger",
        {
            "activation_id": 5,
            "deadline": DEADLINE,
            "onlinesim_conn_id": "my_conn",
            "poll_interval": 3.0,
            "metrics": METRIC_LABELS,
            "wait_for": "full_sms",
            "code_pattern": r"(?P<code>\d+)",
            "cancel_on_kill": False,
        },
    )


def test_rent_trigger_serializes_plain_values_without_the_key():
    trigger = OnlineSimRentSmsTrigger(
        rent_id=9,
        deadline=DEADLINE,
        sender="twitter",
        text_pattern="code",
        received_after="2030-01-31T11:00:00Z",
    )
    assert trigger.serialize() == (
        "onlinesim_provider.triggers.onlinesim.OnlineSimRentSmsTrigger",
        {
            "rent_id": 9,
            "deadline": DEADLINE,
            "onlinesim_conn_id": "onlinesim_default",
            "poll_interval": 10.0,
            "sender": "twitter",
            "text_pattern": "code",
            "received_after": "2030-01-31T11:00:00+00:00",
            "close_on_kill": False,
        },
    )


@pytest.mark.parametrize(
    "trigger",
    [
        OnlineSimSmsTrigger(activation_id=5, deadline=DEADLINE, poll_interval=2, wait_for="full_sms"),
        OnlineSimRentSmsTrigger(rent_id=9, deadline=DEADLINE, sender="x", received_after=DEADLINE),
    ],
    ids=["sms", "rent"],
)
def test_restart_from_serialized_state_keeps_the_same_absolute_deadline(trigger):
    classpath, kwargs = trigger.serialize()
    restarted = type(trigger)(**kwargs)
    assert restarted.serialize() == (classpath, kwargs)
    assert restarted.deadline == trigger.deadline == instant("deadline", DEADLINE)


@pytest.mark.parametrize(
    ("deadline", "iso"),
    [
        (1896091200, "2030-01-31T12:00:00+00:00"),
        ("2030-01-31T15:00:00+03:00", "2030-01-31T12:00:00+00:00"),
        ("2030-01-31T12:00:00", "2030-01-31T12:00:00+00:00"),
    ],
    ids=["epoch", "offset", "naive_is_utc"],
)
def test_deadline_is_stored_as_one_utc_instant(deadline, iso):
    assert OnlineSimSmsTrigger(activation_id=1, deadline=deadline).serialize()[1]["deadline"] == iso


@pytest.mark.parametrize("deadline", [None, "", "tomorrow"], ids=["none", "empty", "not_a_date"])
def test_bad_deadline_is_refused(deadline):
    with pytest.raises((ValueError, AirflowFailException), match="deadline"):
        OnlineSimSmsTrigger(activation_id=1, deadline=deadline)


def test_key_never_in_kwargs_or_repr(onlinesim_conn, activation):
    trigger = OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(0.5), poll_interval=0.1)
    assert onlinesim_conn.api_key not in repr(trigger.serialize())
    assert onlinesim_conn.api_key not in repr(trigger)
    events = run(trigger)
    assert onlinesim_conn.api_key not in repr([e.payload for e in events])


# --- run(): exactly one event --------------------------------------------------------------------


def test_code_arrives_during_the_wait(onlinesim_conn, activation):
    onlinesim_conn.configure(sms_delay=None)

    def deliver_after_the_second_pause(pause):
        if pause == 2:
            onlinesim_conn.deliver_sms(activation.id, code="424242")

    pacing = Pacing(deliver_after_the_second_pause)
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id, deadline=pacing.deadline_in(10), poll_interval=0.2, **pacing.kwargs()
    )
    events = run(trigger)
    assert [e.payload for e in events] == [
        {"status": "success", "result": {"activation_id": activation.id, "code": "424242", "text": None}}
    ]
    assert actions(onlinesim_conn)[1:] == ["getStatus"] * 3, "two polls before the SMS, one after; read-only"
    assert len(pacing.pauses) == 2, "no pause once the outcome is known"


def test_timeout_fires_once_at_the_deadline_and_stops(onlinesim_conn, activation):
    pacing = Pacing()
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id, deadline=pacing.deadline_in(1.0), poll_interval=0.2, **pacing.kwargs()
    )
    events = run(trigger)
    assert len(events) == 1
    assert events[0].payload["status"] == "timeout"
    assert trigger.deadline.isoformat() in events[0].payload["message"]
    assert pacing.now == trigger.deadline, "the last pause ends at the deadline, never past it"
    assert all(0 < pause <= 0.2 * (1 + JITTER) for pause in pacing.pauses)
    assert len(pacing.pauses) >= 5, "1 s of pauses of at most 0.22 s"
    polls = actions(onlinesim_conn)[1:]
    assert polls == ["getStatus"] * (len(pacing.pauses) + 1), "a poll before each pause, one at the deadline"
    assert onlinesim_conn.summary()["refunded"] == "0.00", "the trigger only reads; the sensor cancels"
    assert not {"clock", "sleep"} & set(trigger.serialize()[1]), "a restarted trigger uses real time"


def test_past_deadline_still_reads_once_then_times_out(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id, code="777")
    events = run(OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(-5)))
    assert [e.payload["status"] for e in events] == ["success"], "a code that is there is taken"
    events = run(OnlineSimSmsTrigger(activation_id=activation.id + 1000, deadline=in_seconds(-5)))
    assert [e.payload["status"] for e in events] == ["error"]


@pytest.mark.parametrize(
    ("fault", "kwargs"),
    [
        ("http_status", {"status": 503}),
        ("http_status", {"status": 429, "retry_after": 0.1}),
        ("reset", {}),
        ("garbage", {}),
    ],
    ids=["503", "429", "reset", "garbage"],
)
def test_transient_errors_are_survived_with_backoff(
    onlinesim_conn, activation, fault, kwargs, caplog, capsys
):
    onlinesim_conn.deliver_sms(activation.id, code="123123")
    onlinesim_conn.inject_fault(fault, action="getStatus", count=5, **kwargs)
    pacing = Pacing()
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id, deadline=pacing.deadline_in(60), poll_interval=0.1, **pacing.kwargs()
    )
    with caplog.at_level(logging.WARNING):
        events = run(trigger)
    assert [e.payload for e in events] == [
        {"status": "success", "result": {"activation_id": activation.id, "code": "123123", "text": None}}
    ]
    assert actions(onlinesim_conn).count("getStatus") == 6, "5 failed reads, then the good one"
    assert pacing.pauses == sorted(pacing.pauses), "each failed poll doubles the pause"
    assert "transient error, still waiting" in caplog.text + capsys.readouterr().out


def test_fatal_error_fails_at_once(onlinesim_conn):
    events = run(OnlineSimSmsTrigger(activation_id=987654, deadline=in_seconds(30), poll_interval=0.1))
    assert len(events) == 1
    assert events[0].payload["status"] == "error"
    assert "NO_ACTIVATION" in events[0].payload["message"]
    assert actions(onlinesim_conn) == ["getStatus"], "fatal: not retried"


def test_closed_activation_fails(onlinesim_conn, activation):
    OnlineSimHook().cancel_activation(activation.id)
    events = run(OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(30)))
    assert [e.payload for e in events] == [
        {
            "status": "error",
            "message": f"activation {activation.id} is closed (cancelled, completed or expired)",
        }
    ]


def test_unknown_connection_is_an_error_event(onlinesim_conn):
    events = run(OnlineSimSmsTrigger(activation_id=1, deadline=in_seconds(5), onlinesim_conn_id="nope"))
    assert len(events) == 1
    assert events[0].payload["status"] == "error"
    assert "nope" in events[0].payload["message"]
    assert onlinesim_conn.requests() == []


def test_misconfigured_connection_is_an_error_event(onlinesim_conn, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROKEN", connection_uri_json("ftp://127.0.0.1:1", onlinesim_conn.api_key)
    )
    events = run(OnlineSimSmsTrigger(activation_id=1, deadline=in_seconds(5), onlinesim_conn_id="broken"))
    assert [e.payload["status"] for e in events] == ["error"]
    assert "base_url" in events[0].payload["message"]
    assert onlinesim_conn.api_key not in events[0].payload["message"]


def test_full_sms_with_pattern(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id, text="Telegram code: 55512. Do not share it")
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id,
        deadline=in_seconds(5),
        wait_for="full_sms",
        code_pattern=r"code: (?P<code>\d+)",
    )
    [event] = run(trigger)
    assert event.payload == {
        "status": "success",
        "result": {
            "activation_id": activation.id,
            "code": "55512",
            "text": "Telegram code: 55512. Do not share it",
        },
    }
    assert set(actions(onlinesim_conn)[1:]) == {"getFullSms"}


def test_after_another_code_was_requested_the_previous_one_does_not_count(onlinesim_conn, activation):
    hook = OnlineSimHook()
    onlinesim_conn.deliver_sms(activation.id, code="111111")
    hook.client.request_another_code(activation.id)
    pacing = Pacing(lambda pause: onlinesim_conn.deliver_sms(activation.id, code="222222"))
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id,
        deadline=pacing.deadline_in(10),
        poll_interval=0.1,
        **pacing.kwargs(),
    )
    [event] = run(trigger)
    assert event.payload["result"]["code"] == "222222"
    assert actions(onlinesim_conn).count("getStatus") == 2, "the old code did not count; the new one did"


def test_rent_message_from_sender_after_start(onlinesim_conn, rent):
    onlinesim_conn.deliver_rent_sms(rent.id, "Old code 000000", sender="+15550000000", service="twitter")
    # the API dates messages to the second: move the sandbox a minute on, and filter from the middle
    received_after = datetime.fromtimestamp(onlinesim_conn.now() + 30, UTC)
    onlinesim_conn.advance(60)

    def deliver(pause):
        if pause == 1:
            for text, service in [("Your number is ready", "notify"), ("Hi", "whatsapp")]:
                onlinesim_conn.deliver_rent_sms(rent.id, text, service=service)
            onlinesim_conn.deliver_rent_sms(rent.id, "Twitter code 654321")

    pacing = Pacing(deliver)
    trigger = OnlineSimRentSmsTrigger(
        rent_id=rent.id,
        deadline=pacing.deadline_in(10),
        poll_interval=0.1,
        sender="twitter",
        text_pattern=r"code (?P<code>\d{6})",
        received_after=received_after.isoformat(),
        **pacing.kwargs(),
    )
    [event] = run(trigger)
    result = event.payload["result"]
    assert event.payload["status"] == "success"
    assert {k: result[k] for k in ("rent_id", "text", "service", "code")} == {
        "rent_id": rent.id,
        "text": "Twitter code 654321",
        "service": "twitter",
        "code": "654321",
    }
    assert instant("date", result["date"]) >= received_after
    assert actions(onlinesim_conn)[1:] == ["getRentStatus"] * 2, "the old message did not count"


def test_closed_rent_is_an_error(onlinesim_conn, rent):
    OnlineSimHook().close_rent(rent.id)
    [event] = run(OnlineSimRentSmsTrigger(rent_id=rent.id, deadline=in_seconds(5)))
    assert event.payload["status"] == "error"
    assert "STATUS_FINISH" in event.payload["message"] or "closed" in event.payload["message"]


# --- on_kill: a user killed the deferred task -----------------------------------------------------


@pytest.mark.parametrize(
    ("cancel_on_kill", "refunded"), [(True, "10.00"), (False, "0.00")], ids=["cancel", "keep"]
)
def test_on_kill_cancels_the_activation(onlinesim_conn, activation, cancel_on_kill, refunded):
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id, deadline=in_seconds(30), poll_interval=0.1, cancel_on_kill=cancel_on_kill
    )

    async def main():
        task = asyncio.create_task(collect(trigger))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await trigger.on_kill()

    asyncio.run(main())
    assert onlinesim_conn.summary()["refunded"] == refunded
    assert ("setStatus" in actions(onlinesim_conn)) is cancel_on_kill


# Airflow 3.3 calls on_kill on the triggerer that loses a trigger to another one, too (the trigger
# was reassigned after a late heartbeat): the task is then still deferred and must keep its number.
# The supervisor's answer is stubbed: only a running triggerer has the channel it travels on.
@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 3's triggerer sets task_instance")
@pytest.mark.parametrize(
    ("map_index", "state", "cancelled"),
    [
        (3, "deferred", False),
        (-1, "deferred", False),
        (3, "failed", True),
        (3, "success", True),
        (3, None, True),
        (3, RuntimeError("supervisor gone"), True),
    ],
    ids=["moved-mapped", "moved", "marked-failed", "marked-success", "cleared", "lookup-failed"],
)
def test_on_kill_keeps_the_order_of_a_wait_moved_to_another_triggerer(
    onlinesim_conn, activation, monkeypatch, map_index, state, cancelled
):
    from types import SimpleNamespace

    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    asked = []

    def get_task_states(**query):
        asked.append(query)
        if isinstance(state, Exception):
            raise state
        key = "wait" if map_index < 0 else f"wait_{map_index}"
        return {"run-1": {key: state}}

    monkeypatch.setattr(RuntimeTaskInstance, "get_task_states", staticmethod(get_task_states))
    trigger = OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(30))
    trigger.task_instance = SimpleNamespace(dag_id="dag", task_id="wait", run_id="run-1", map_index=map_index)
    asyncio.run(trigger.on_kill())
    assert asked == [{"dag_id": "dag", "map_index": map_index, "task_ids": ["wait"], "run_ids": ["run-1"]}]
    assert ("setStatus" in actions(onlinesim_conn)) is cancelled
    assert onlinesim_conn.summary()["refunded"] == ("10.00" if cancelled else "0.00")


def test_on_kill_after_the_event_does_nothing(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id)
    trigger = OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(5))

    async def main():
        events = await collect(trigger)
        await trigger.on_kill()
        return events

    assert len(asyncio.run(main())) == 1
    assert "setStatus" not in actions(onlinesim_conn)


def test_on_kill_of_a_closed_activation_is_quiet(onlinesim_conn, activation):
    OnlineSimHook().cancel_activation(activation.id)
    asyncio.run(OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(5)).on_kill())
    assert onlinesim_conn.summary()["refunded"] == "10.00"


def _logged(caplog, capsys):
    """What the trigger logged: Airflow 3 writes trigger logs to stdout, Airflow 2 to logging."""
    return caplog.text + capsys.readouterr().out


def test_on_kill_of_a_closed_activation_checks_it_is_closed(onlinesim_conn, activation, caplog, capsys):
    OnlineSimHook().cancel_activation(activation.id)
    with caplog.at_level(logging.INFO):
        asyncio.run(OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(5)).on_kill())
    assert actions(onlinesim_conn)[-2:] == ["setStatus", "getStatus"]
    logged = _logged(caplog, capsys)
    assert f"Activation {activation.id} was already closed" in logged
    assert "failed" not in logged


def test_on_kill_refused_for_an_open_activation_is_a_warning(onlinesim_sandbox, monkeypatch, caplog, capsys):
    # an SMS-Activate-style cancel (8) sent to an OnlineSIM server is refused while the order is open
    monkeypatch.setenv(
        "AIRFLOW_CONN_ONLINESIM_DEFAULT",
        connection_uri_json(onlinesim_sandbox.url, onlinesim_sandbox.api_key, cancel_status=8),
    )
    activation = OnlineSimHook().client.get_number("tg", "7")
    with caplog.at_level(logging.INFO):
        asyncio.run(OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(5)).on_kill())
    assert onlinesim_sandbox.summary()["open_activations"] == 1
    lines = [line for line in _logged(caplog, capsys).splitlines() if "Cleanup after" in line]
    assert lines  # Airflow 2 may show the record twice: in logging and on stdout
    assert all("warning" in line.lower() and "BAD_STATUS" in line for line in lines)
    assert not any("already closed" in line for line in lines)


def test_on_kill_of_a_closed_rent_is_quiet(onlinesim_conn, rent, caplog, capsys):
    OnlineSimHook().close_rent(rent.id)
    trigger = OnlineSimRentSmsTrigger(rent_id=rent.id, deadline=in_seconds(5), sender="x", close_on_kill=True)
    with caplog.at_level(logging.INFO):
        asyncio.run(trigger.on_kill())
    logged = _logged(caplog, capsys)
    assert f"Rent {rent.id} was already closed" in logged
    assert "failed" not in logged


def test_rent_on_kill_closes_when_asked(onlinesim_conn, rent):
    trigger = OnlineSimRentSmsTrigger(rent_id=rent.id, deadline=in_seconds(5), close_on_kill=True)
    asyncio.run(trigger.on_kill())
    assert onlinesim_conn.summary()["open_rents"] == 0


# --- pacing and the shared pool ------------------------------------------------------------------


def test_one_shared_pool_per_event_loop(onlinesim_conn):
    async def pools():
        first, second = pool.shared_http_client(), pool.shared_http_client()
        hook_client = await get_async_client("onlinesim_default", http_client=first)
        await hook_client.aclose()
        assert not first.closed, "closing an API client leaves the shared pool open"
        await pool.aclose_shared_http_client()
        assert first.closed
        return first, second

    a1, a2 = asyncio.run(pools())
    b1, _ = asyncio.run(pools())
    assert a1 is a2
    assert a1 is not b1


def test_many_triggers_wait_concurrently_in_one_loop(onlinesim_conn):
    """Ten polls that each take 1 s on the server end together after about 1 s: nothing blocks."""
    hook = OnlineSimHook()
    ids = [hook.client.get_number("tg", "7").id for _ in range(10)]
    for activation_id in ids:
        onlinesim_conn.deliver_sms(activation_id, code=str(activation_id))
    triggers = [OnlineSimSmsTrigger(activation_id=i, deadline=in_seconds(30), poll_interval=0.1) for i in ids]

    async def main():
        await collect(OnlineSimSmsTrigger(activation_id=ids[0], deadline=in_seconds(5)))  # warm imports
        onlinesim_conn.inject_fault("delay", action="getStatus", count=len(ids), delay=1.0)
        started = time.monotonic()
        results = await asyncio.gather(*(collect(t) for t in triggers))
        return results, time.monotonic() - started

    results, elapsed = asyncio.run(main())
    assert [[e.payload["result"]["code"] for e in events] for events in results] == [[str(i)] for i in ids]
    assert elapsed < 5.0, f"10 delayed polls took {elapsed:.1f} s: the event loop was blocked"


def test_a_burst_of_polls_waits_in_the_pool_queue_never_more_than_the_bound_in_flight(
    onlinesim_conn, activation
):
    """Two and a half pools' worth of slow polls at once: at most MAX_CONNECTIONS reach the server."""
    polls, delay = pool.MAX_CONNECTIONS * 5 // 2, 0.4
    onlinesim_conn.deliver_sms(activation.id, code="909090")
    triggers = [
        OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(60), poll_interval=0.1)
        for _ in range(polls)
    ]

    async def main():
        await collect(OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(5)))  # warm up
        onlinesim_conn.inject_fault("delay", action="getStatus", count=polls, delay=delay)
        return await asyncio.gather(*(collect(t) for t in triggers))

    results = asyncio.run(main())
    assert [[e.payload["result"]["code"] for e in events] for events in results] == [["909090"]] * polls
    # Measured at the server: a slot holds each request for `delay`, so no window shorter than
    # that sees more arrivals than there are slots.
    arrivals = sorted(r["time"] for r in onlinesim_conn.requests() if r["fault"] == "delay")
    assert len(arrivals) == polls
    busiest = max(sum(t <= u < t + delay * 0.75 for u in arrivals) for t in arrivals)
    assert pool.MAX_CONNECTIONS * 3 // 4 <= busiest <= pool.MAX_CONNECTIONS


# --- end_task: a sensor's start_from_trigger, the whole task in the triggerer ---------------------

TEMPLATE = "{{ ti.xcom_pull(task_ids='order_number')['activation_id'] }}"


def started(trigger, span, pacing):
    """Give the trigger what the triggerer gives a task it starts: the stored trigger timeout."""
    trigger.timeout_after = pacing.now + timedelta(seconds=span) + DEFER_GRACE
    return trigger


def start_sms_trigger(activation_id, span, pacing, **kwargs):
    trigger = OnlineSimSmsTrigger(
        activation_id=activation_id,
        timeout=span,
        end_task=True,
        poll_interval=0.2,
        **kwargs,
        **pacing.kwargs(),
    )
    return started(trigger, span, pacing)


def test_start_mode_keeps_templates_unrendered_in_its_kwargs():
    trigger = OnlineSimSmsTrigger(activation_id=TEMPLATE, expires_at="{{ x }}", timeout=300, end_task=True)
    assert trigger.serialize() == (
        "onlinesim_provider.triggers.onlinesim.OnlineSimSmsTrigger",
        {
            "activation_id": TEMPLATE,
            "deadline": None,
            "onlinesim_conn_id": "onlinesim_default",
            "poll_interval": 10.0,
            "timeout": 300.0,
            "end_task": True,
            "expires_at": "{{ x }}",
            "wait_for": "code",
            "code_pattern": None,
            "cancel_on_kill": True,
        },
    )


def test_start_mode_ends_the_task_with_the_result_as_xcom(onlinesim_conn, activation):
    onlinesim_conn.configure(sms_delay=None)

    def deliver(pause):
        if pause == 1:
            onlinesim_conn.deliver_sms(activation.id, code="515151")

    pacing = Pacing(deliver)
    # As the triggerer renders it: the XCom template gives the id as text.
    [event] = run(start_sms_trigger(str(activation.id), 60, pacing))
    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms == {"return_value": {"activation_id": activation.id, "code": "515151", "text": None}}
    assert onlinesim_conn.summary()["refunded"] == "0.00"


def test_start_mode_deadline_is_read_back_from_the_trigger_timeout_after_a_restart(
    onlinesim_conn, activation
):
    pacing = Pacing()
    first = start_sms_trigger(activation.id, 120, pacing)
    first._prepare()
    pacing.now += timedelta(seconds=45)  # a triggerer restart, later: same stored timeout
    again = OnlineSimSmsTrigger(**first.serialize()[1], **pacing.kwargs())
    again.timeout_after = first.timeout_after
    again._prepare()
    assert again.deadline == first.deadline == first.timeout_after - DEFER_GRACE
    assert actions(onlinesim_conn)[1:] == [], "fixing the deadline reads nothing"


def test_start_mode_deadline_is_capped_by_the_expiry(onlinesim_conn, activation):
    pacing = Pacing()
    expires = pacing.now + timedelta(seconds=30)
    trigger = start_sms_trigger(activation.id, 600, pacing, expires_at=expires.isoformat())
    trigger._prepare()
    assert trigger.deadline == expires


def test_start_mode_timeout_cancels_the_activation_and_fails_the_task(onlinesim_conn, activation):
    pacing = Pacing()
    trigger = start_sms_trigger(activation.id, 1, pacing)
    [event] = run(trigger)
    assert isinstance(event, TaskFailedEvent)
    assert pacing.now == trigger.deadline, "timed out at the deadline read from the trigger timeout"
    summary = onlinesim_conn.summary()
    assert (summary["charged"], summary["refunded"], summary["cancelled"]) == ("10.00", "10.00", 1)
    assert actions(onlinesim_conn)[-1] == "setStatus"


def test_start_mode_keeps_the_activation_when_asked(onlinesim_conn, activation):
    pacing = Pacing()
    [event] = run(start_sms_trigger(activation.id, 1, pacing, cancel_on_kill=False))
    assert isinstance(event, TaskFailedEvent)
    assert onlinesim_conn.summary()["refunded"] == "0.00"
    assert "setStatus" not in actions(onlinesim_conn)


def test_start_mode_without_a_trigger_timeout_fails_clearly(onlinesim_conn, activation, caplog, capsys):
    trigger = OnlineSimSmsTrigger(activation_id=activation.id, timeout=60, end_task=True)
    with caplog.at_level(logging.INFO):
        [event] = run(trigger)
    assert isinstance(event, TaskFailedEvent)
    assert "reads its deadline from the task's trigger timeout, and Airflow set none" in _logged(
        caplog, capsys
    )
    assert "getStatus" not in actions(onlinesim_conn)
    assert onlinesim_conn.summary()["refunded"] == "10.00", "still cancelled: the id was good"


def test_start_mode_with_a_bad_rendered_id_fails_before_any_call(onlinesim_conn, caplog, capsys):
    pacing = Pacing()
    with caplog.at_level(logging.INFO):
        [event] = run(start_sms_trigger("None", 60, pacing))
    assert isinstance(event, TaskFailedEvent)
    assert "Invalid activation_id: got 'None'" in _logged(caplog, capsys)
    assert actions(onlinesim_conn)[1:] == []


def test_start_mode_rent_counts_messages_from_the_start_of_the_wait(onlinesim_conn, rent):
    onlinesim_conn.deliver_rent_sms(rent.id, "old code is 111", service="twitter")
    onlinesim_conn.advance(5)  # the wait starts later than that message

    def deliver(pause):
        if pause == 1:
            onlinesim_conn.deliver_rent_sms(rent.id, "new code is 222", service="twitter")

    pacing = Pacing(deliver)
    pacing.now = instant("now", onlinesim_conn.now())
    trigger = OnlineSimRentSmsTrigger(
        rent_id=str(rent.id),
        sender="twitter",
        text_pattern=r"code is (?P<code>\d+)",
        timeout=60,
        end_task=True,
        poll_interval=0.2,
        **pacing.kwargs(),
    )
    [event] = run(started(trigger, 60, pacing))
    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms["return_value"]["code"] == "222"
    assert event.xcoms["return_value"]["rent_id"] == rent.id


# --- result: a rotation's end_from_trigger, the task deferred by a worker ends here ---------------


def rotation_result(activation):
    """The rotation's result for the number held, as the operator hands it over: no code yet."""
    attempt = {"activation_id": activation.id, "country": "7", "outcome": "code"}
    return {
        "activation_id": activation.id,
        "phone": activation.phone,
        "country": "7",
        "code": None,
        "attempts": [{"activation_id": 1, "country": "44", "outcome": "no_code"}, attempt],
    }


def ending_sms_trigger(activation, pacing, **kwargs):
    return OnlineSimSmsTrigger(
        activation_id=activation.id,
        deadline=pacing.deadline_in(10),
        poll_interval=0.2,
        result=rotation_result(activation),
        **kwargs,
        **pacing.kwargs(),
    )


@pytest.mark.parametrize("multiple_outputs", [True, False])
def test_result_mode_completes_the_number_and_ends_the_task_with_the_result(
    onlinesim_conn, activation, multiple_outputs
):
    onlinesim_conn.configure(sms_delay=None)

    def deliver(pause):
        if pause == 1:
            onlinesim_conn.deliver_sms(activation.id, code="626262")

    pacing = Pacing(deliver)
    [event] = run(ending_sms_trigger(activation, pacing, multiple_outputs=multiple_outputs))
    assert isinstance(event, TaskSuccessEvent)
    result = {**rotation_result(activation), "code": "626262"}
    assert event.xcoms == (
        {**result, "return_value": result} if multiple_outputs else {"return_value": result}
    )
    # What dag.test() hands a resumed task instead of ending it: the ordinary success.
    assert event.payload == {
        "status": "success",
        "result": {"activation_id": activation.id, "code": "626262", "text": None},
    }
    [closed] = onlinesim_conn.activations()
    assert closed["state"] == "completed"
    assert actions(onlinesim_conn)[-1] == "setStatus"
    summary = onlinesim_conn.summary()
    assert (summary["completed"], summary["refunded"], summary["open_activations"]) == (1, "0.00", 0)


def test_result_mode_on_a_number_closed_meanwhile_resumes_the_worker(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id, code="737373")
    OnlineSimHook().complete_activation(activation.id)  # e.g. by a triggerer that died after it
    [event] = run(ending_sms_trigger(activation, Pacing()))
    # A closed number no longer shows its code: the worker resumes with the error and settles it.
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "error"


def test_result_mode_timeout_resumes_the_worker_which_rotates(onlinesim_conn, activation):
    pacing = Pacing()
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id,
        deadline=pacing.deadline_in(1.0),
        poll_interval=0.2,
        result=rotation_result(activation),
        **pacing.kwargs(),
    )
    [event] = run(trigger)
    assert type(event).__name__ == "TriggerEvent", "not a task end: the worker cancels and orders next"
    assert event.payload["status"] == "timeout"
    assert "setStatus" not in actions(onlinesim_conn), "the worker, not the trigger, cancels"
    assert onlinesim_conn.summary()["open_activations"] == 1


def test_result_mode_survives_a_restart_from_its_kwargs_without_the_key(onlinesim_conn, activation):
    trigger = ending_sms_trigger(activation, Pacing(), multiple_outputs=True)
    classpath, kwargs = trigger.serialize()
    assert kwargs["result"] == rotation_result(activation)
    assert kwargs["multiple_outputs"] is True
    assert kwargs["deadline"] == trigger.deadline.isoformat()
    assert onlinesim_conn.api_key not in repr(kwargs)
    restarted = OnlineSimSmsTrigger(**kwargs)
    assert restarted.serialize() == (classpath, kwargs)
    assert restarted.deadline == trigger.deadline, "the same absolute deadline after a restart"


def test_result_mode_is_refused_with_end_task():
    with pytest.raises(ValueError, match="end_task=True already ends the task"):
        OnlineSimSmsTrigger(activation_id=1, timeout=60, end_task=True, result={"code": None})


def test_result_mode_leaves_the_number_to_the_worker_when_completing_it_fails(onlinesim_conn, activation):
    onlinesim_conn.deliver_sms(activation.id, code="929292")
    onlinesim_conn.inject_fault("token", action="setStatus", count=1, token="BAD_KEY")
    [event] = run(ending_sms_trigger(activation, Pacing()))
    assert type(event).__name__ == "TriggerEvent", "the worker resumes and completes the number"
    assert event.payload == {
        "status": "success",
        "result": {"activation_id": activation.id, "code": "929292", "text": None},
    }
    assert onlinesim_conn.summary()["open_activations"] == 1, "still open: the worker completes it"
