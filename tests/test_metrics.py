"""The metrics module: names, types and tags as sent through Airflow's Stats, and sending that never fails."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from onlinesim_provider import metrics
from onlinesim_provider.api.errors import NetworkError, NoNumbersError
from onlinesim_provider.metrics import METRICS, Labels, MetricType
from tests.statsd_receiver import Packet, reconfigure_stats

LABELS = Labels("tg", "7", dag_id="my.dag", ordered_at="2026-01-01T10:00:00+00:00")
TAGS = {"dag_id": "my.dag", "service": "tg", "country": "7"}


def arrived(receiver, count):
    return receiver.wait_for(lambda packets: len(packets) >= count)


def test_a_counter_arrives_with_its_tags(statsd_receiver):
    metrics.count(metrics.NUMBER_ORDERED, LABELS)
    assert arrived(statsd_receiver, 1) == [Packet("onlinesim.number.ordered", 1, "c", TAGS)]


def test_a_timer_arrives_in_milliseconds(statsd_receiver):
    ended = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    metrics.wait_over(Labels("tg", "7", dag_id="my.dag"), "timeout", ended - timedelta(seconds=1.5), ended)
    packet = next(p for p in arrived(statsd_receiver, 2) if p.type == "ms")
    assert (packet.name, packet.value) == ("onlinesim.wait.duration", 1500)
    assert packet.tags == {**TAGS, "outcome": "timeout"}


def test_a_negative_duration_is_sent_as_zero(statsd_receiver):
    ended = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    metrics.wait_over(Labels("tg", "7", dag_id="my.dag"), "timeout", ended + timedelta(seconds=3), ended)
    assert [p.value for p in arrived(statsd_receiver, 2) if p.type == "ms"] == [0]


def test_without_tag_support_the_tag_values_extend_the_name(statsd_receiver):
    with mock.patch.dict(os.environ, {"AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "False"}):
        reconfigure_stats()
        metrics.error(NoNumbersError("no numbers"), Labels("tg", "7", dag_id="my.dag"))
        [packet] = arrived(statsd_receiver, 1)
    assert packet == Packet("onlinesim.error.my_dag.tg.7.NO_NUMBERS", 1, "c", {})


@pytest.mark.parametrize(
    ("err", "token"),
    [
        pytest.param(NoNumbersError("none"), "NO_NUMBERS", id="token"),
        pytest.param(NetworkError("refused"), "NetworkError", id="transport-error-class"),
    ],
)
def test_errors_are_counted_by_token(statsd_receiver, err, token):
    metrics.error(err, LABELS)
    [packet] = arrived(statsd_receiver, 1)
    assert (packet.name, packet.tags["token"]) == ("onlinesim.error", token)


def test_a_wait_with_a_code_sends_the_count_the_time_to_code_and_the_duration(statsd_receiver):
    ordered = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    metrics.wait_over(LABELS, "code", ordered + timedelta(seconds=5), ordered + timedelta(seconds=65))
    packets = {p.name: p for p in arrived(statsd_receiver, 3)}
    assert packets["onlinesim.code.received"].type == "c"
    assert packets["onlinesim.time_to_code"].value == 65_000
    assert packets["onlinesim.wait.duration"].value == 60_000
    assert packets["onlinesim.wait.duration"].tags["outcome"] == "code"


def test_a_wait_without_a_code_or_an_order_time_sends_no_time_to_code(statsd_receiver):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    metrics.wait_over(Labels("tg", "7", dag_id="d"), "timeout", now - timedelta(seconds=2), now)
    packets = arrived(statsd_receiver, 2)
    assert sorted((p.name, p.tags["outcome"]) for p in packets) == [
        ("onlinesim.wait.duration", "timeout"),
        ("onlinesim.wait.no_code", "timeout"),
    ]


def test_inside_an_event_loop_the_send_leaves_the_loop_thread(statsd_receiver):
    threads = []
    real = metrics._send

    def spy(*args):
        threads.append(threading.current_thread())
        real(*args)

    async def in_loop():
        metrics.count(metrics.CODE_RECEIVED, LABELS)
        return threading.current_thread()

    with mock.patch.object(metrics, "_send", spy):
        loop_thread = asyncio.run(in_loop())
        arrived(statsd_receiver, 1)
    assert threads
    assert threads[0] is not loop_thread


def test_a_failing_backend_never_raises(statsd_receiver, caplog):
    from airflow.providers.common.compat.sdk import Stats

    with (
        mock.patch.object(Stats, "incr") as incr,
        caplog.at_level("DEBUG", logger=metrics.__name__),
    ):
        incr.side_effect = OSError("backend down")
        metrics.count(metrics.NUMBER_ORDERED, LABELS)
    assert "not sent: backend down" in caplog.text


def test_labels_of_an_order_and_back():
    order = {"activation_id": 1, "service": "wa", "country": "44", "ordered_at": "2026-01-01T00:00:00"}
    labels = Labels.of_order(order)
    assert (labels.service, labels.country, labels.ordered_at) == ("wa", "44", "2026-01-01T00:00:00")
    assert Labels.from_dict(labels.to_dict()) == labels
    assert Labels.of_order(None, service="rent") == Labels("rent", "unknown")
    assert Labels.of_order({"country": None}).country == "unknown"


def test_outside_a_task_the_dag_label_is_unknown():
    assert Labels("tg", "7").with_dag().dag_id == "unknown"
    assert LABELS.with_dag() is LABELS


def test_the_registry_names_are_unique_and_prefixed():
    assert all(name.startswith("onlinesim.") for name in METRICS)
    assert {m.type for m in METRICS.values()} == {MetricType.COUNTER, MetricType.TIMER}
    assert all(m.tags[:3] == ("dag_id", "service", "country") for m in METRICS.values())
