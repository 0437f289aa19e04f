"""The key never leaks: run the example DAGs with a distinctive key and search everything readable.

The verification, rent and parallel example DAGs run with ``dag.test()`` against the sandbox
with the key of :mod:`tests.reliability.secrets_scan`: in header and in query auth (the key then
travels in every URL), succeeding and failing (a lost order reply, an unreachable server). Then the key is
searched, raw, URL-encoded and base64-encoded, in: the captured stdout and stderr, every log
record with its traceback, the task log files, the metadata database file, each task's XCom,
the rendered template fields, the deferred tasks' trigger kwargs, the sandbox's request log,
the text, repr and traceback of the errors the client raises, and the repr of every hook,
client, operator, sensor and trigger. Zero hits are required. (The reliability suite's own
captured output is scanned after every test by ``plugin.py``.)
"""

from __future__ import annotations

import base64
import logging
import re
import traceback
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

import pytest

from onlinesim_provider.api.base import key_forms, scrub
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import OnlineSimError
from onlinesim_provider.hooks.onlinesim import OnlineSimHook
from onlinesim_provider.sensors.onlinesim import OnlineSimRentSmsSensor, OnlineSimSmsSensor
from onlinesim_provider.triggers.onlinesim import OnlineSimRentSmsTrigger, OnlineSimSmsTrigger
from tests.conftest import CONN_ENV, DAGS_FOLDER, REPO, connection_uri_json, load_dag
from tests.reliability.secrets_scan import KEY, SecretScan

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl
    from tests.reliability.plugin import Report

pytestmark = pytest.mark.airflow

EXAMPLES = REPO / "example_dags"
HOME = DAGS_FOLDER.parent

#: (example, auth, how it goes): each is run once and everything it left is searched.
RUNS = [
    ("example_onlinesim_verification", "header", "succeeds"),
    ("example_onlinesim_rent", "header", "succeeds"),
    ("example_onlinesim_parallel", "query", "succeeds"),
    ("example_onlinesim_verification", "query", "order reply lost"),
    ("example_onlinesim_rent", "query", "server unreachable"),
]


def _format(record: logging.LogRecord) -> str:
    return logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)


def _run_example(
    name: str, auth: str, how: str, sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch, closed_url: str
) -> Any:
    sandbox.reset()
    url = closed_url if how == "server unreachable" else sandbox.url
    monkeypatch.setenv(CONN_ENV, connection_uri_json(url, KEY, auth=auth, timeout=1))
    monkeypatch.setenv("ONLINESIM_SANDBOX_URL", sandbox.url)
    monkeypatch.setenv("ONLINESIM_POKE_INTERVAL", "0.2")
    monkeypatch.setenv("ONLINESIM_WAIT_TIMEOUT", "10")
    if how == "order reply lost":
        sandbox.inject_fault("reset", action="getNumber", processed=True)
    return load_dag(EXAMPLES / f"{name}.py").test()


def _database_rows(scan: SecretScan, run_ids: set[str]) -> None:
    """Search XCom, rendered fields, trigger kwargs and next_kwargs of the runs' task instances."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger

    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2
        from airflow.models.xcom import BaseXCom as XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        for xcom in session.scalars(select(XComModel).where(XComModel.run_id.in_(run_ids))):
            scan.scan(f"XCom {xcom.dag_id}.{xcom.task_id}[{xcom.map_index}] {xcom.key}", str(xcom.value))
        rendered = select(RenderedTaskInstanceFields).where(RenderedTaskInstanceFields.run_id.in_(run_ids))
        for row in session.scalars(rendered):
            scan.scan(f"rendered fields {row.dag_id}.{row.task_id}", row.rendered_fields)
        for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id.in_(run_ids))):
            scan.scan(f"next_kwargs {ti.dag_id}.{ti.task_id}", ti.next_kwargs or {})
        for trigger in session.scalars(select(Trigger)):
            scan.scan(f"trigger {trigger.classpath}", trigger.kwargs)


def _files(scan: SecretScan) -> None:
    """Search the task log files and the metadata database itself (raw bytes)."""
    paths = sorted(HOME.rglob("*"))
    scan.scan_files(p for p in paths if p.is_file() and p.suffix in ("", ".log", ".db", ".json", ".txt"))


def _errors_and_reprs(scan: SecretScan, sandbox: SandboxControl, closed_url: str) -> None:
    """Provoke the client's errors with the key in the URL, and search their text, repr, traceback."""
    for url, fault in ((closed_url, None), (sandbox.url, "reset"), (sandbox.url, "garbage")):
        sandbox.reset()
        if fault:
            sandbox.inject_fault(fault, action="getNumber", count=10, processed=fault == "reset")
        with OnlineSimClient(KEY, base_url=url, auth="query", timeout=(0.5, 0.5)) as client:
            try:
                client.get_number("tg", "7")
            except OnlineSimError as error:
                scan.scan(f"error str ({fault or 'refused'})", str(error))
                scan.scan(f"error repr ({fault or 'refused'})", repr(error))
                scan.scan(f"error body ({fault or 'refused'})", error.body)
                scan.scan(f"traceback ({fault or 'refused'})", "".join(traceback.format_exception(error)))
            scan.scan("client repr", repr(client))
    hook = OnlineSimHook()
    scan.scan("hook repr", repr(hook))
    scan.scan("hook client repr", repr(hook.client))
    for sensor in (
        OnlineSimSmsSensor(task_id="w", activation_id=5, deferrable=True),
        OnlineSimRentSmsSensor(task_id="r", rent_id=7, deferrable=True),
    ):
        scan.scan(f"{type(sensor).__name__} repr", repr(sensor))
    deadline = _now() + timedelta(minutes=1)
    for trigger in (
        OnlineSimSmsTrigger(activation_id=5, deadline=deadline),
        OnlineSimRentSmsTrigger(rent_id=7, deadline=deadline, sender="twitter"),
    ):
        scan.scan(f"{type(trigger).__name__} serialize()", trigger.serialize())
        scan.scan(f"{type(trigger).__name__} repr", repr(trigger))
    scan.scan("sandbox request log", sandbox.requests())


def _now() -> Any:
    from onlinesim_provider.waits.deadline import utcnow

    return utcnow()


@pytest.fixture
def closed_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_scanner_finds_every_form_the_api_scrubs_and_never_shows_the_key() -> None:
    """Control: a scan that cannot find the key proves nothing."""
    scan = SecretScan()
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(KEY, safe=""))
    samples = {
        "raw": f"x {KEY} y",
        "query": f"?api_key={quote(KEY, safe='')}&x=1",
        "form": f"api_key={quote_plus(KEY)}",
        "lower-hex": lower_hex,
        "base64": base64.b64encode(KEY.encode()).decode(),
        "a value": {"kwargs": {"password": KEY}},
        "clean": "api_key=***",
    }
    for place, text in samples.items():
        scan.scan(place, text)
    assert {place for place, _ in scan.hits} == set(samples) - {"clean"}
    assert scan.hits[0] == ("raw", "x <KEY> y")
    assert all(form not in line for _, line in scan.hits for form in key_forms(KEY))
    assert len(key_forms(KEY)) >= 6
    assert {scrub(f"x {form} y", KEY) for form in key_forms(KEY)} == {"x *** y"}


def test_the_key_never_leaks_from_the_example_dags(
    airflow_db: Any,
    onlinesim_sandbox: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    closed_url: str,
    end_of_run_report: Report,
) -> None:
    caplog.set_level(logging.DEBUG, logger="onlinesim_provider")
    scan = SecretScan()
    run_ids, states = set(), {}
    for name, auth, how in RUNS:
        dag_run = _run_example(name, auth, how, onlinesim_sandbox, monkeypatch, closed_url)
        run_ids.add(dag_run.run_id)
        states[name, auth, how] = str(dag_run.state)
        requests = onlinesim_sandbox.requests()
        scan.scan(f"sandbox request log ({name}, {how})", requests)
        if auth == "header" and requests:
            assert {r["auth"] for r in requests} == {"header"}  # the key never travelled in a URL
    assert states == {
        ("example_onlinesim_verification", "header", "succeeds"): "success",
        ("example_onlinesim_rent", "header", "succeeds"): "success",
        ("example_onlinesim_parallel", "query", "succeeds"): "success",
        ("example_onlinesim_verification", "query", "order reply lost"): "failed",
        ("example_onlinesim_rent", "query", "server unreachable"): "failed",
    }
    _errors_and_reprs(scan, onlinesim_sandbox, closed_url)
    _database_rows(scan, run_ids)
    _files(scan)
    out, err = capfd.readouterr()
    scan.scan("captured stdout", out)
    scan.scan("captured stderr", err)
    for record in caplog.records:
        scan.scan(f"log record {record.name}", _format(record))
    assert any("api_key=" in text for text in (out, err, caplog.text)), "query auth left no URL to search"
    end_of_run_report(
        "key-leak scan of the example DAGs",
        [f"{scan.searched} places searched (the key raw, URL-encoded, base64): {len(scan.hits)} hits"],
    )
    assert scan.hits == []
    assert scan.searched > 100
