"""The deployment harness's own parts, fast: process groups, bounded waits, log evidence.

These run in every test run (no PostgreSQL, no Airflow), so a broken harness shows up before the
long deployment test starts.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from deploy.evidence import SecretScan, client_logs, encrypted_values, trigger_logs
from deploy.processes import (
    FAMILY_GONE_TIMEOUT,
    ComponentError,
    Deadline,
    ManagedProcess,
    gone,
    stop_all,
    wait_for,
    wait_until_gone,
)

if TYPE_CHECKING:
    from pathlib import Path

#: A parent that ignores SIGTERM and has a child that ignores it too: only SIGKILL ends them.
STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "child = subprocess.Popen([sys.executable, '-c', "
    "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
    "print('child', child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def started(tmp_path: Path, name: str, code: str) -> ManagedProcess:
    return ManagedProcess(name, [sys.executable, "-c", code], tmp_path / f"{name}.log").start()


def child_pid(proc: ManagedProcess) -> int:
    found = wait_for("the child is started", lambda: "child" in proc.log_path.read_text(), 10, [proc])
    assert found
    return int(proc.log_path.read_text().split()[1])


@pytest.mark.parametrize("how", ["stop", "kill"], ids=["sigterm-then-sigkill", "sigkill"])
def test_stopping_ends_the_whole_process_family(tmp_path: Path, how: str) -> None:
    proc = started(tmp_path, "stubborn", STUBBORN)
    child = psutil.Process(child_pid(proc))
    begun = time.monotonic()
    if how == "stop":
        stop_all([proc], grace=0.5)
    else:
        proc.kill()
    assert not proc.alive()
    assert gone(child), "the harness returned while the child still ran"
    assert time.monotonic() - begun < FAMILY_GONE_TIMEOUT


def test_gone_holds_for_an_ended_process_and_not_for_a_running_one(tmp_path: Path) -> None:
    proc = started(tmp_path, "sleeper", "import time; time.sleep(60)")
    process = psutil.Process(proc.pid)
    try:
        assert not gone(process)
    finally:
        proc.kill()
    assert gone(process)


def test_waiting_for_a_family_that_survives_names_the_survivors(tmp_path: Path) -> None:
    proc = started(tmp_path, "survivor", "import time; time.sleep(60)")
    try:
        with pytest.raises(RuntimeError, match=rf"processes \[{proc.pid}\] still run"):
            wait_until_gone([psutil.Process(proc.pid)], timeout=0.2)
    finally:
        proc.kill()


def test_a_wait_that_times_out_names_the_component_and_shows_its_log(tmp_path: Path) -> None:
    proc = started(
        tmp_path, "triggerer", "print('Starting the triggerer', flush=True); import time; time.sleep(30)"
    )
    wait_for("it logs", lambda: "Starting" in proc.log_path.read_text(), 10, [proc])
    try:
        with pytest.raises(ComponentError) as failure:
            wait_for("the triggerer is healthy", lambda: False, 0.3, [proc], proc, interval=0.05)
    finally:
        proc.stop(grace=1)
    message = str(failure.value)
    assert failure.value.component == "triggerer"
    assert message.startswith("triggerer: not ready after 0 s: waited until the triggerer is healthy")
    assert "Starting the triggerer" in message


def test_a_wait_fails_at_once_when_a_watched_process_dies(tmp_path: Path) -> None:
    proc = started(tmp_path, "scheduler", "import sys; print('bad config', flush=True); sys.exit(3)")
    begun = time.monotonic()
    with pytest.raises(
        ComponentError, match=r"scheduler: exited with code 3 while waiting until ready"
    ) as failure:
        wait_for("ready", lambda: False, 30, [proc], proc)
    assert time.monotonic() - begun < 10
    assert "bad config" in str(failure.value)


def test_the_overall_deadline_caps_every_wait() -> None:
    deadline = Deadline(0.2)
    begun = time.monotonic()
    with pytest.raises(ComponentError, match="not ready after 0 s"):
        wait_for("never", lambda: False, 60, [], None, deadline, interval=0.05)
    assert time.monotonic() - begun < 2


def test_the_scan_finds_every_form_in_the_client_logs_and_never_shows_the_key(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.log" for name in ("sandbox", "clean", "raw", "encoded")}
    files["sandbox"].write_text("api key: osk-1/dep+2\n")  # the server holds the key by design
    files["clean"].write_text("nothing here\n")
    files["raw"].write_text("ok\nAuthorization: Bearer osk-1/dep+2\n")
    files["encoded"].write_text("GET /stubs/handler_api.php?api_key=osk-1%2Fdep%2B2&action=getBalance\n")
    scan = SecretScan("osk-1/dep+2")
    scan.scan_files(client_logs(files.values()))
    assert scan.searched == 3
    assert scan.hits == [
        (str(files["raw"]), "Authorization: Bearer <KEY>"),
        (str(files["encoded"]), "GET /stubs/handler_api.php?api_key=<KEY>&action=getBalance"),
    ]


def test_trigger_logs_are_keyed_by_triggerer_job_and_try(tmp_path: Path) -> None:
    (tmp_path / "attempt=1.log").write_text("worker")
    (tmp_path / "attempt=1.log.trigger.4.log").write_text("first triggerer")
    (tmp_path / "attempt=1.log.trigger.7.log").write_text("second triggerer")
    (tmp_path / "attempt=2.log.trigger.9.log").write_text("a later try")
    assert trigger_logs(tmp_path) == {4: "first triggerer", 7: "second triggerer"}
    assert trigger_logs(tmp_path, try_number=2) == {9: "a later try"}


def test_encrypted_values_are_found_in_a_dump_with_their_table() -> None:
    dump = (
        "COPY public.connection (id, conn_id, password) FROM stdin;\n"
        "1\tonlinesim_default\tgAAAAABpass-word_1==\n"
        "\\.\n"
        "COPY public.trigger (id, kwargs) FROM stdin;\n"
        "7\tgAAAAABkw_1\n"
    )
    assert list(encrypted_values(dump)) == [
        ("public.connection", "gAAAAABpass-word_1=="),
        ("public.trigger", "gAAAAABkw_1"),
    ]
