"""The triggers, driven with asyncio against the sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import pytest

from onlinesim_provider.hooks.onlinesim import OnlineSimHook, get_async_client
from onlinesim_provider.sensors.deadline import parse_instant, utcnow
from onlinesim_provider.triggers import pool
from onlinesim_provider.triggers.onlinesim import (
    JITTER,
    OnlineSimRentSmsTrigger,
    OnlineSimSmsTrigger,
)
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


@pytest.fixture
def activation(onlinesim_conn):
    return OnlineSimHook().get_number("tg", "7")


@pytest.fixture
def rent(onlinesim_conn):
    return OnlineSimHook().get_rent_number("7", 1)


# --- serialize() and restart -------------------------------------------------------------------


def test_sms_trigger_serializes_plain_values_without_the_key():
    trigger = OnlineSimSmsTrigger(
        activation_id=5,
        deadline=DEADLINE,
        onlinesim_conn_id="my_conn",
        poll_interval=3,
        wait_for="full_sms",
        code_pattern=r"(?P<code>\d+)",
        expect_new_code=True,
        cancel_on_kill=False,
    )
    assert trigger.serialize() == (
        "onlinesim_provider.triggers.onlinesim.OnlineSimSmsTrigger",
        {
            "activation_id": 5,
            "deadline": DEADLINE,
            "onlinesim_conn_id": "my_conn",
            "poll_interval": 3.0,
            "wait_for": "full_sms",
            "code_pattern": r"(?P<code>\d+)",
            "expect_new_code": True,
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
        OnlineSimSmsTrigger(activation_id=5, deadline=DEADLINE, poll_interval=2, expect_new_code=True),
        OnlineSimRentSmsTrigger(rent_id=9, deadline=DEADLINE, sender="x", received_after=DEADLINE),
    ],
    ids=["sms", "rent"],
)
def test_restart_from_serialized_state_keeps_the_same_absolute_deadline(trigger):
    classpath, kwargs = trigger.serialize()
    restarted = type(trigger)(**kwargs)
    assert restarted.serialize() == (classpath, kwargs)
    assert restarted.deadline == trigger.deadline == parse_instant(DEADLINE, name="deadline")


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
    with pytest.raises(ValueError, match="deadline"):
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
    trigger = OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(10), poll_interval=0.2)

    async def deliver_later():
        await asyncio.sleep(0.5)
        return await asyncio.to_thread(onlinesim_conn.deliver_sms, activation.id, code="424242")

    async def main():
        return await asyncio.gather(collect(trigger), deliver_later())

    events, _ = asyncio.run(main())
    assert [e.payload for e in events] == [
        {"status": "success", "result": {"activation_id": activation.id, "code": "424242", "text": None}}
    ]
    polls = actions(onlinesim_conn)[1:]
    assert len(polls) >= 2, "it polled before the SMS and once after"
    assert set(polls) == {"getStatus"}, "read-only: never orders, never cancels"


def test_timeout_fires_once_at_the_deadline_and_stops(onlinesim_conn, activation):
    trigger = OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(1.0), poll_interval=0.2)
    started = utcnow()
    events = run(trigger)
    elapsed = (utcnow() - started).total_seconds()
    assert len(events) == 1
    assert events[0].payload["status"] == "timeout"
    assert trigger.deadline.isoformat() in events[0].payload["message"]
    assert 0.9 <= elapsed < 3.0
    calls = len(onlinesim_conn.requests())
    assert set(actions(onlinesim_conn)[1:]) == {"getStatus"}
    assert onlinesim_conn.summary()["refunded"] == "0.00", "the trigger only reads; the sensor cancels"
    asyncio.run(asyncio.sleep(0.3))
    assert len(onlinesim_conn.requests()) == calls, "no call after the outcome is known"


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
    trigger = OnlineSimSmsTrigger(activation_id=activation.id, deadline=in_seconds(20), poll_interval=0.1)
    with caplog.at_level(logging.WARNING):
        events = run(trigger)
    assert [e.payload for e in events] == [
        {"status": "success", "result": {"activation_id": activation.id, "code": "123123", "text": None}}
    ]
    assert actions(onlinesim_conn).count("getStatus") == 6, "5 failed reads, then the good one"
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


def test_expect_new_code_ignores_the_previous_one(onlinesim_conn, activation):
    hook = OnlineSimHook()
    onlinesim_conn.deliver_sms(activation.id, code="111111")
    hook.request_another_code(activation.id)
    trigger = OnlineSimSmsTrigger(
        activation_id=activation.id, deadline=in_seconds(10), poll_interval=0.1, expect_new_code=True
    )

    async def main():
        async def deliver_later():
            await asyncio.sleep(0.4)
            await asyncio.to_thread(onlinesim_conn.deliver_sms, activation.id, code="222222")

        return (await asyncio.gather(collect(trigger), deliver_later()))[0]

    [event] = asyncio.run(main())
    assert event.payload["result"]["code"] == "222222"
    assert actions(onlinesim_conn).count("getStatus") >= 2


def test_rent_message_from_sender_after_start(onlinesim_conn, rent):
    onlinesim_conn.deliver_rent_sms(rent.id, "Old code 000000", sender="+15550000000", service="twitter")
    received_after = utcnow().replace(microsecond=0) + timedelta(seconds=1)  # the API dates to the second
    delay = (received_after - utcnow()).total_seconds() + 0.05
    trigger = OnlineSimRentSmsTrigger(
        rent_id=rent.id,
        deadline=in_seconds(10),
        poll_interval=0.1,
        sender="twitter",
        text_pattern=r"code (?P<code>\d{6})",
        received_after=received_after.isoformat(),
    )

    async def main():
        async def deliver_later():
            await asyncio.sleep(delay)
            for text, service in [("Your number is ready", "notify"), ("Hi", "whatsapp")]:
                await asyncio.to_thread(onlinesim_conn.deliver_rent_sms, rent.id, text, service=service)
            await asyncio.to_thread(onlinesim_conn.deliver_rent_sms, rent.id, "Twitter code 654321")

        return (await asyncio.gather(collect(trigger), deliver_later()))[0]

    [event] = asyncio.run(main())
    result = event.payload["result"]
    assert event.payload["status"] == "success"
    assert {k: result[k] for k in ("rent_id", "text", "service", "code")} == {
        "rent_id": rent.id,
        "text": "Twitter code 654321",
        "service": "twitter",
        "code": "654321",
    }
    assert parse_instant(result["date"], name="date") >= received_after
    assert set(actions(onlinesim_conn)[1:]) == {"getRentStatus"}


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
    activation = OnlineSimHook().get_number("tg", "7")
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


def test_pauses_are_jittered_and_never_pass_the_deadline():
    trigger = OnlineSimSmsTrigger(activation_id=1, deadline=in_seconds(3600), poll_interval=10)
    pauses = {trigger._pause(0, None) for _ in range(200)}
    assert len(pauses) > 100
    assert all(10 * (1 - JITTER) <= p <= 10 * (1 + JITTER) for p in pauses)
    assert 20 * (1 - JITTER) <= trigger._pause(1, None) <= 20 * (1 + JITTER), "doubled per failure"
    assert 60 * (1 - JITTER) <= trigger._pause(30, None) <= 60 * (1 + JITTER), "backoff is capped"
    assert trigger._pause(0, 100.0) >= 100.0, "Retry-After is honoured"
    near = OnlineSimSmsTrigger(activation_id=1, deadline=in_seconds(0.5), poll_interval=10)
    assert near._pause(0, None) <= 0.5
    zero = OnlineSimSmsTrigger(activation_id=1, deadline=in_seconds(60), poll_interval=0)
    assert zero._pause(0, None) > 0, "never spins"


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
    ids = [hook.get_number("tg", "7").id for _ in range(10)]
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
