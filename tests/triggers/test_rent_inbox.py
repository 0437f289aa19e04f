"""The rent-inbox event trigger, its async generator driven directly against the sandbox over HTTP.

The asset state store is injected as the triggerer injects it (an object with ``aget``/``aset``);
here it is a dict in memory, so a "restart" is a new trigger built from ``serialize()`` with the
same store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import pytest

from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.triggers.rent_inbox import IDLE_PAUSE, OnlineSimRentMessageTrigger
from onlinesim_provider.version_compat import AIRFLOW_V_3_3_PLUS

needs_3_3 = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="event triggers with a state store: Airflow 3.3+"
)
PATTERN = r"code is (?P<code>\d+)"


class Store:
    """The asset state store as the triggerer injects it: async get and set of JSON values."""

    def __init__(self):
        self.values = {}
        self.writes = 0

    async def aget(self, key, default=None):
        return self.values.get(key, default)

    async def aset(self, key, value):
        self.values[key] = value
        self.writes += 1


class Stopped(Exception):
    """Raised by the injected pause to end a test run at a chosen pause."""


class Pauses:
    """An injected pause: no real time passes; ``on_pause(n)`` runs in a thread at pause n.

    :param stop_at: the pause at which the run ends (raises :class:`Stopped`).
    """

    def __init__(self, stop_at, on_pause=None):
        self.stop_at = stop_at
        self.on_pause = on_pause
        self.seconds = []

    async def sleep(self, seconds):
        self.seconds.append(seconds)
        if len(self.seconds) >= self.stop_at:
            raise Stopped
        if self.on_pause is not None:
            await asyncio.to_thread(self.on_pause, len(self.seconds))


def run(trigger):
    """Run the trigger until its pause stops it; return the payloads it yielded."""

    async def main():
        payloads = []
        try:
            async for event in trigger.run():
                payloads.append(event.payload)
        except Stopped:
            pass
        return payloads

    return asyncio.run(main())


def watcher(rent_id, store, pauses, **kwargs):
    trigger = OnlineSimRentMessageTrigger(rent_id=rent_id, poll_interval=0.1, sleep=pauses.sleep, **kwargs)
    trigger.asset_state_store = store
    return trigger


@pytest.fixture
def rent(onlinesim_conn):
    return OnlineSimHook().client.get_rent_number("7", 1)


def texts(payloads):
    """Return the texts of the events' messages, one list per event (per poll that found some)."""
    assert all(set(p) == {"rent_id", "messages"} and p["messages"] for p in payloads), payloads
    return [[m["text"] for m in p["messages"]] for p in payloads]


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ has event triggers")
def test_needs_airflow_3_before_it_is_built():
    from airflow import __version__

    with pytest.raises(RuntimeError, match=r"needs Airflow 3\.3 or later") as refused:
        OnlineSimRentMessageTrigger(rent_id=1)
    assert f"this is Airflow {__version__}" in str(refused.value)
    assert "OnlineSimRentSmsSensor" in str(refused.value)


@needs_3_3
def test_serializes_plain_values_and_shares_one_poll_per_rent():
    a = OnlineSimRentMessageTrigger(rent_id="5", sender="twitter", text_pattern=PATTERN)
    b = OnlineSimRentMessageTrigger(rent_id=5, received_after="2030-01-01T00:00:00Z")
    assert a.serialize() == (
        "onlinesim_provider.triggers.rent_inbox.OnlineSimRentMessageTrigger",
        {
            "rent_id": 5,
            "onlinesim_conn_id": "onlinesim_default",
            "poll_interval": 30.0,
            "sender": "twitter",
            "text_pattern": PATTERN,
            "received_after": None,
        },
    )
    assert b.serialize()[1]["received_after"] == "2030-01-01T00:00:00+00:00"
    assert (
        a.shared_stream_key() == b.shared_stream_key() == ("onlinesim-rent-messages", "onlinesim_default", 5)
    )
    assert a.watermark_key != b.watermark_key, "each watcher keeps its own watermark"
    other = OnlineSimRentMessageTrigger(rent_id=6)
    assert other.shared_stream_key() != a.shared_stream_key()


@needs_3_3
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rent_id": "abc"}, "Invalid rent_id: got 'abc'"),
        ({"rent_id": 1, "text_pattern": "("}, "text_pattern='(' is not a valid regular expression"),
        (
            {"rent_id": 1, "received_after": "yesterday"},
            "Invalid received_after: got 'yesterday'; expected an ISO 8601",
        ),
    ],
    ids=["rent_id", "pattern", "received_after"],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(Exception, match=message.replace("(", r"\(")):
        OnlineSimRentMessageTrigger(**kwargs)


@needs_3_3
def test_each_message_fires_once_with_its_fields_notices_never(onlinesim_conn, rent):
    onlinesim_conn.deliver_rent_sms(rent.id, "Number active", service="notify")
    onlinesim_conn.deliver_rent_sms(rent.id, "Your code is 111", sender="+1555", service="twitter")

    def deliver(pause):
        if pause == 1:
            onlinesim_conn.deliver_rent_sms(rent.id, "Your code is 222", sender="+1555", service="twitter")

    store = Store()
    payloads = run(watcher(rent.id, store, Pauses(stop_at=3, on_pause=deliver), text_pattern=PATTERN))
    assert texts(payloads) == [["Your code is 111"], ["Your code is 222"]], "one event per poll"
    messages = [m for p in payloads for m in p["messages"]]
    assert [(m["code"], m["service"], m["phone_from"]) for m in messages] == [
        ("111", "twitter", "+1555"),
        ("222", "twitter", "+1555"),
    ]
    assert set(messages[0]) == {"rent_id", "phone_from", "text", "service", "date", "code"}
    assert payloads[0]["rent_id"] == messages[0]["rent_id"] == rent.id
    assert messages[0]["date"] is not None
    polls = [r["action"] for r in onlinesim_conn.requests()]
    assert polls.count("getRentStatus") == 3, "one poll per pause, read-only"
    assert [key.split(":")[0] for key in store.values] == ["onlinesim_rent_messages"]


@needs_3_3
def test_a_restart_sends_only_what_came_after_the_watermark(onlinesim_conn, rent):
    store = Store()
    for code in ("1", "2"):
        onlinesim_conn.deliver_rent_sms(rent.id, f"code is {code}")
    first = run(watcher(rent.id, store, Pauses(stop_at=1)))
    # The triggerer dies; a new one builds the trigger from its stored kwargs, same asset store.
    onlinesim_conn.deliver_rent_sms(rent.id, "code is 3")
    _, kwargs = watcher(rent.id, store, Pauses(stop_at=1)).serialize()
    pauses = Pauses(stop_at=2)
    again = OnlineSimRentMessageTrigger(**kwargs, sleep=pauses.sleep)
    again.asset_state_store = store
    second = run(again)
    assert texts(first) == [["code is 1", "code is 2"]], "a burst one poll finds is one event"
    assert texts(second) == [["code is 3"]]


@needs_3_3
def test_identical_messages_in_the_same_second_each_count(onlinesim_conn, rent):
    for _ in range(2):
        onlinesim_conn.deliver_rent_sms(rent.id, "code is 7", sender="+1", service="x")
    store = Store()
    assert texts(run(watcher(rent.id, store, Pauses(stop_at=1)))) == [["code is 7", "code is 7"]]
    assert run(watcher(rent.id, store, Pauses(stop_at=2))) == [], "a restart sends neither again"
    onlinesim_conn.deliver_rent_sms(rent.id, "code is 7", sender="+1", service="x")
    assert texts(run(watcher(rent.id, store, Pauses(stop_at=1)))) == [["code is 7"]], "the third one is new"


class TwoAssets(Store):
    """What the triggerer injects when one trigger watches two assets: no single store to use."""

    async def aget(self, key, default=None):
        raise ValueError("Task has 2 concrete inlets and outlets")


@needs_3_3
def test_a_trigger_shared_by_two_assets_keeps_going_in_memory(onlinesim_conn, rent, caplog, capsys):
    onlinesim_conn.deliver_rent_sms(rent.id, "code is 5")
    store = TwoAssets()
    with caplog.at_level(logging.INFO):
        payloads = run(watcher(rent.id, store, Pauses(stop_at=2)))
    assert texts(payloads) == [["code is 5"]], "sent once, not again at the next poll"
    assert store.writes == 0
    assert "kept in memory only (Task has 2 concrete inlets" in caplog.text + capsys.readouterr().out


@needs_3_3
def test_sender_and_pattern_filter_as_the_rent_sensor_does(onlinesim_conn, rent):
    onlinesim_conn.deliver_rent_sms(rent.id, "Telegram code is 1", sender="+7000", service="telegram")
    onlinesim_conn.deliver_rent_sms(rent.id, "Twitter says hello", sender="+7001", service="twitter")
    onlinesim_conn.deliver_rent_sms(rent.id, "Twitter code is 2", sender="+7001", service="twitter")
    payloads = run(watcher(rent.id, Store(), Pauses(stop_at=1), sender="TWITTER", text_pattern=PATTERN))
    assert texts(payloads) == [["Twitter code is 2"]]
    assert payloads[0]["messages"][0]["code"] == "2"


@needs_3_3
def test_messages_before_received_after_do_not_count(onlinesim_conn, rent):
    onlinesim_conn.deliver_rent_sms(rent.id, "code is old")
    later = onlinesim_conn.advance(10)
    onlinesim_conn.deliver_rent_sms(rent.id, "code is new")
    start = datetime.fromtimestamp(later, UTC).isoformat()
    assert texts(run(watcher(rent.id, Store(), Pauses(stop_at=1), received_after=start))) == [["code is new"]]


@needs_3_3
def test_a_closed_rent_stops_the_watcher_with_one_log_line(onlinesim_conn, rent, caplog, capsys):
    onlinesim_conn.deliver_rent_sms(rent.id, "code is 1")
    OnlineSimHook().close_rent(rent.id)
    pauses = Pauses(stop_at=3)
    with caplog.at_level(logging.INFO):
        payloads = run(watcher(rent.id, Store(), pauses))
    logged = caplog.text + capsys.readouterr().out
    assert payloads == [], "a closed rent reports no messages"
    assert f"Rent {rent.id} is over (STATUS_FINISH): this watcher stops polling" in logged
    assert pauses.seconds[-2:] == [IDLE_PAUSE, IDLE_PAUSE], "parked: it sleeps, it does not fail"
    polls = [r["action"] for r in onlinesim_conn.requests()]
    assert polls.count("getRentStatus") == 1, "no poll once the rent is over"


@needs_3_3
def test_errors_back_off_and_the_watcher_keeps_going(onlinesim_conn, rent):
    onlinesim_conn.inject_fault("http_status", "getRentStatus", count=4, status=500)  # two polls of two tries

    def deliver(pause):
        if pause == 2:
            onlinesim_conn.deliver_rent_sms(rent.id, "code is 9")

    pauses = Pauses(stop_at=4, on_pause=deliver)
    payloads = run(watcher(rent.id, Store(), pauses))
    assert texts(payloads) == [["code is 9"]]
    assert pauses.seconds[1] > pauses.seconds[0], "the second failure waits longer"


@needs_3_3
def test_in_a_shared_poll_the_watermark_waits_for_stored_events(onlinesim_conn, rent):
    """Ack mode: Airflow calls the producer's advance() once the events are in its database."""
    from airflow.triggers.shared_stream import AdvanceItem, AdvanceOutcome

    onlinesim_conn.deliver_rent_sms(rent.id, "code is 1")
    store = Store()
    trigger = watcher(rent.id, store, Pauses(stop_at=99))
    producer = OnlineSimRentMessageTrigger.create_shared_stream_producer(trigger.serialize()[1])

    async def main():
        polls = producer.open_stream()
        seqs = []

        async def shared():
            async for poll, seq in polls:
                seqs.append(seq)
                yield poll

        events = trigger.filter_shared_stream(shared())
        first = await anext(events)
        assert store.writes == 0, "nothing is saved before Airflow confirms the event"
        pending = asyncio.ensure_future(anext(events))  # moves past poll 1, waits on poll 2
        while len(seqs) < 2:
            await asyncio.sleep(0.01)
        await producer.advance([AdvanceItem(seqs[0], AdvanceOutcome(acked=0, failed=1))])
        assert store.writes == 0, "a failed delivery is not covered by the watermark"
        await producer.advance([AdvanceItem(seqs[0], AdvanceOutcome(acked=1, failed=0))])
        assert store.writes == 1
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending
        await events.aclose()
        await polls.aclose()
        return first

    first = asyncio.run(main())
    assert texts([first.payload]) == [["code is 1"]]
    [watermark] = store.values.values()
    assert len(watermark["seen"]) == 1
