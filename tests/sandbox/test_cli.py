"""The ``onlinesim-sandbox`` command.

Whatever serves, stops on a signal or is installed as a script runs as a real subprocess; settings
the command refuses before it serves are checked by calling its ``main`` in this process, which
parses the same arguments and fails the same way, without a Python start per case.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from onlinesim_provider.sandbox import SandboxConfig, SandboxControl
from onlinesim_provider.sandbox.cli import build_parser, main
from tests.sandbox.tls import make_tls_files

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.no_airflow

SCRIPT = Path(sys.executable).with_name("onlinesim-sandbox")


def _start(
    *args: str, command: tuple[str, ...] = (sys.executable, "-m", "onlinesim_provider.sandbox")
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@contextlib.contextmanager
def _serving(
    *args: str, command: tuple[str, ...] = (sys.executable, "-m", "onlinesim_provider.sandbox")
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start the CLI, wait until it listens, yield it and its URL; kill it if it is still running."""
    process = _start(*args, command=command)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (https?://127\.0\.0\.1:\d+)", first)
        assert match, first
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _stop(process: subprocess.Popen[str], signum: int) -> None:
    """Send ``signum`` and check that the sandbox stopped cleanly."""
    process.send_signal(signum)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped" in out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onlinesim_provider.sandbox", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Call the command's ``main`` with settings it must refuse; return what it wrote to stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 2, "a refused setting exits with argparse's usage status"
    return capsys.readouterr().err


@pytest.fixture
def cli_sandbox() -> Iterator[tuple[subprocess.Popen[str], str]]:
    with _serving(
        "--key", "cli-key", "--balance", "5", "--cancel-status", "8", "--values-format", "list"
    ) as cli:
        yield cli


def test_cli_serves_with_its_settings_and_stops_on_sigterm(
    cli_sandbox: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = cli_sandbox
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "api key: cli-key"
    api = url + "/stubs/handler_api.php"
    headers = {"Authorization": "Bearer cli-key"}
    assert (
        requests.get(api, params={"action": "getBalance"}, headers=headers, timeout=5).text
        == "ACCESS_BALANCE:5.00"
    )
    control = SandboxControl(url)
    assert control.api_key == "cli-key"
    control.set_balance("50")
    ordered = requests.get(
        api, params={"action": "getNumber", "service": "tg"}, headers=headers, timeout=5
    ).text
    activation = ordered.split(":")[1]
    cancel = requests.get(
        api, params={"action": "setStatus", "id": activation, "status": "8"}, headers=headers, timeout=5
    )
    assert cancel.text == "ACCESS_CANCEL"
    assert control.config()["values_format"] == "list"
    control.close()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped" in out
    assert "cli-key" not in err


def test_console_script_is_installed_and_stops_on_ctrl_c() -> None:
    with _serving(command=(str(SCRIPT),)) as (process, url):
        assert url.startswith("http://")
        _stop(process, signal.SIGINT)


def test_cli_dialect_and_reply_switches_reach_the_sandbox() -> None:
    args = (
        "--dialect",
        "sms-activate",
        "--common-errors",
        "json",
        "--rent-quant",
        "nested",
        "--error-key",
        "msg",
    )
    with _serving(*args) as (process, url):
        control = SandboxControl(url)
        config = control.config()
        assert (config["dialect"], config["cancel_status"], config["error_key"]) == ("sms-activate", 8, "msg")
        assert (config["common_errors"], config["rent_quant"]) == ("json", "nested")
        reply = requests.get(
            url + "/stubs/handler_api.php",
            params={"action": "getRentList"},
            headers={"Authorization": "Bearer wrong"},
            timeout=5,
        )
        assert reply.json() == {"status": "error", "msg": "BAD_KEY"}
        control.close()
        _stop(process, signal.SIGTERM)


def test_cli_delivery_rules_and_seed_reach_the_sandbox() -> None:
    with _serving("--seed", "7", "--delivery", "7:tg:0.0", "--delivery", "*:tg:0.9:5-60") as (process, url):
        control = SandboxControl(url)
        config = control.config()
        assert config["seed"] == 7
        assert config["delivery"] == [
            {"country": "7", "service": "tg", "probability": 0.0, "delay": None},
            {"country": "*", "service": "tg", "probability": 0.9, "delay": [5.0, 60.0]},
        ]
        api = url + "/stubs/handler_api.php"
        headers = {"Authorization": "Bearer sandbox-key"}
        ordered = requests.get(
            api, params={"action": "getNumber", "service": "tg"}, headers=headers, timeout=5
        )
        activation = next(a for a in control.activations() if a["id"] == int(ordered.text.split(":")[1]))
        assert activation["blocked"] is True
        control.close()
        _stop(process, signal.SIGTERM)


def test_each_setting_has_a_flag_helped_by_its_documented_text() -> None:
    text = " ".join(build_parser().format_help().split())
    flags = [f"--{name.replace('_', '-')} " for name in SandboxConfig.model_fields if name != "api_key"]
    assert [flag for flag in flags if flag not in text] == []
    assert "--key API_KEY the only key accepted; any other key gets BAD_KEY. (default: sandbox-key)" in text
    assert "--delivery RULE SMS delivery rules, each a DeliveryRule, its dict or its text" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delivery", "7:tg"], "invalid delivery.0 '7:tg': expected COUNTRY:SERVICE:PROBABILITY[:DELAY]"),
        (["--delivery", "*:tg:0.9:60-5"], "invalid delivery.0.delay '60-5': expected seconds N"),
        (["--seed", "x"], "invalid int value: 'x'"),
        (["--dialect", "twilio"], "invalid dialect 'twilio': Input should be 'onlinesim' or 'sms-activate'"),
        (["--balance", "lots"], "invalid balance 'lots': Input should be a valid decimal"),
        (["--speed", "0"], "invalid speed '0': Input should be greater than 0"),
        (["--auth", "cookie"], "invalid auth 'cookie': Input should be 'any', 'header' or 'query'"),
        (["--cancel-status", "7"], "invalid cancel_status 7: Input should be 6 or 8"),
    ],
    ids=["delivery-short", "delivery-delay", "seed", "dialect", "balance", "speed", "auth", "cancel-status"],
)
def test_cli_refuses_bad_settings(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert message in _refused(capsys, *args)


def test_cli_reports_a_busy_port(onlinesim_sandbox: SandboxControl) -> None:
    port = onlinesim_sandbox.url.rsplit(":", 1)[1]
    result = _run("--port", port)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_cli_serves_https_with_a_certificate_and_key(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path)
    with _serving("--tls-cert", str(tls.cert), "--tls-key", str(tls.key)) as (process, url):
        assert url.startswith("https://")
        reply = requests.get(
            url + "/stubs/handler_api.php",
            params={"action": "getBalance"},
            headers={"Authorization": "Bearer sandbox-key"},
            timeout=10,
            verify=str(tls.ca_cert),
        )
        assert reply.text == "ACCESS_BALANCE:1000.00"
        _stop(process, signal.SIGTERM)


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("cert-only", "--tls-cert and --tls-key go together"),
        ("missing-key", "cannot load --tls-cert"),
        ("key-is-cert", "cannot load --tls-cert"),
    ],
)
def test_cli_refuses_bad_tls_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, which: str, message: str
) -> None:
    tls = make_tls_files(tmp_path)
    args = {
        "cert-only": ["--tls-cert", str(tls.cert)],
        "missing-key": ["--tls-cert", str(tls.cert), "--tls-key", str(tmp_path / "absent.key")],
        "key-is-cert": ["--tls-cert", str(tls.cert), "--tls-key", str(tls.ca_cert)],
    }[which]
    assert message in _refused(capsys, "--port", "0", *args)
