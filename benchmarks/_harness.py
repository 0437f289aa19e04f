"""What every benchmark shares: result rows, the table, statistics, the sandbox in a child process."""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from onlinesim_provider.sandbox import SandboxControl

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType

API_PATH = "/stubs/handler_api.php"
#: A path the sandbox answers with 404: the generic HTTP trigger keeps polling it.
NOT_FOUND_PATH = "/bench/not-found"
HTTP_CONN_ID = "http_sandbox"
ONLINESIM_CONN_ID = "onlinesim_default"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Row:
    """One figure of the table, with its ratio to a baseline and the target it must meet.

    :param bench: which benchmark (``"1 triggerer"`` ...).
    :param subject: what was measured (``"OnlineSimSmsTrigger N=1000"`` ...).
    :param metric: the quantity (``"loop lag p99"`` ...).
    :param value: the figure.
    :param unit: its unit.
    :param ratio: ``value`` divided by the baseline's value, when there is one.
    :param baseline: the baseline the ratio is against.
    :param target: the target, as text.
    :param ok: whether the target is met (``None``: no target).
    """

    bench: str
    subject: str
    metric: str
    value: float
    unit: str = ""
    ratio: float | None = None
    baseline: str = ""
    target: str = ""
    ok: bool | None = None


def fmt(value: float) -> str:
    """Return ``value`` with three significant digits, thousands separated."""
    if math.isnan(value):
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:,.{digits}f}"


def table(rows: Sequence[Row]) -> str:
    """Return the rows as one aligned plain-text table."""
    head = ("bench", "subject", "metric", "value", "unit", "ratio", "vs", "target", "met")
    body = [
        (
            r.bench,
            r.subject,
            r.metric,
            fmt(r.value),
            r.unit,
            "" if r.ratio is None else "n/a" if math.isnan(r.ratio) else f"{r.ratio:.2f}x",
            r.baseline,
            r.target,
            {True: "yes", False: "NO", None: ""}[r.ok],
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    right = {3, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(b) for b in body)])


def percentile(values: Iterable[float], pct: float) -> float:
    """Return the ``pct`` percentile (nearest rank) of ``values``; NaN when there are none."""
    data = sorted(values)
    if not data:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(data)))
    return data[rank - 1]


def ratio(value: float, baseline: float) -> float:
    """Return ``value / baseline``, NaN when the baseline is zero or missing."""
    return value / baseline if baseline and not math.isnan(baseline) else math.nan


def rss_bytes(pid: int | str = "self") -> int:
    """Return the resident set size of a process (default: this one)."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def cpu_seconds(pid: int | str = "self") -> float:
    """Return user + system CPU seconds used so far by a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class SandboxProcess:
    """Run the sandbox in a child process (``python -m benchmarks._sandbox``) for one benchmark.

    The child serves until its stdin closes, so it never outlives this process.

    :param speed: sandbox clock speed factor.
    :param sms_delay: sandbox seconds until an SMS arrives by itself (``None``: only on demand).
    :param log_size: how many API calls the sandbox's request log keeps.
    """

    def __init__(self, speed: float = 1.0, sms_delay: float | None = None, log_size: int = 10_000) -> None:
        self.args = ["--speed", str(speed), "--log-size", str(log_size)]
        if sms_delay is not None:
            self.args += ["--sms-delay", str(sms_delay)]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.api_key = ""

    def __enter__(self) -> SandboxProcess:
        """Start the child and wait until it listens."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._sandbox", *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first:
            self.__exit__(None, None, None)
            raise RuntimeError("the sandbox child process exited before listening")
        info = json.loads(first)
        self.url, self.api_key = info["url"], info["api_key"]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the child (close its stdin; kill it if it lingers)."""
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def pid(self) -> int:
        """Return the child's process id."""
        assert self.proc is not None
        return self.proc.pid

    @property
    def host_port(self) -> tuple[str, int]:
        """Return the sandbox's host and port."""
        parts = urlsplit(self.url)
        assert parts.hostname
        assert parts.port
        return parts.hostname, parts.port

    def control(self) -> SandboxControl:
        """Return a control client of this sandbox."""
        return SandboxControl(self.url, api_key=self.api_key)

    def prepare(self, activations: int, service: str = "tg", country: str = "7") -> SandboxControl:
        """Give the sandbox money and stock for ``activations`` orders; return its control client.

        :param activations: how many activations the benchmark will order.
        :param service: the service they are ordered for.
        :param country: the country they are ordered in.
        """
        ctl = self.control()
        ctl.set_balance(f"{max(activations, 1) * 100}.00")
        ctl.set_stock(country, service, activations + 10)
        return ctl

    def env(self) -> dict[str, str]:
        """Return environment variables that point Airflow's connections at this sandbox."""
        host, port = self.host_port
        onlinesim = {"conn_type": "onlinesim", "host": self.url, "password": self.api_key}
        http = {"conn_type": "http", "host": host, "port": port, "schema": "http"}
        return {
            f"AIRFLOW_CONN_{ONLINESIM_CONN_ID.upper()}": json.dumps(onlinesim),
            f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps(http),
        }


def order_activations(host: str, port: int, api_key: str, count: int, service: str = "tg") -> list[int]:
    """Order ``count`` activations over one raw keep-alive connection; return their ids.

    :param host: sandbox host.
    :param port: sandbox port.
    :param api_key: sandbox key.
    :param count: how many to order.
    :param service: the service to order them for.
    """
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Authorization": f"Bearer {api_key}"}
    ids = []
    try:
        for _ in range(count):
            conn.request("GET", f"{API_PATH}?action=getNumber&service={service}&country=7", headers=headers)
            body = conn.getresponse().read().decode()
            if not body.startswith("ACCESS_NUMBER:"):
                raise RuntimeError(f"the sandbox refused an order: {body!r}")
            ids.append(int(body.split(":")[1]))
    finally:
        conn.close()
    return ids


def airflow_environment(extra: dict[str, str] | None = None) -> None:
    """Give this process a throw-away Airflow home (quiet, no examples) before Airflow is imported.

    :param extra: more variables to set (connections ...).
    """
    home = tempfile.mkdtemp(prefix="onlinesim-bench-airflow-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        }
    )
    os.environ.update(extra or {})


def run_child(module: str, payload: dict[str, Any], env: dict[str, str], timeout: float) -> Any:
    """Run ``python -m <module>`` with ``payload`` as JSON on stdin; return the JSON result it writes.

    The child writes its result to the file named by ``payload["result_path"]`` (see
    :func:`write_result`), not to stdout: a result of any size arrives whole, and nothing a library
    prints can get mixed into it.

    :param module: the child's module.
    :param payload: its arguments.
    :param env: extra environment variables.
    :param timeout: seconds before the child is killed.
    """
    with tempfile.TemporaryDirectory(prefix="onlinesim-bench-child-") as scratch:
        result_path = Path(scratch) / "result.json"
        done = subprocess.run(
            [sys.executable, "-m", module],
            input=json.dumps({**payload, "result_path": str(result_path)}),
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        return read_result(module, result_path)


def write_result(cfg: dict[str, Any], result: Any) -> None:
    """Write a child's result as JSON to the file its parent named in ``cfg["result_path"]``.

    :param cfg: the settings the child read from stdin.
    :param result: the JSON-able result.
    """
    Path(cfg["result_path"]).write_text(json.dumps(result), encoding="utf-8")


def read_result(module: str, path: Path) -> Any:
    """Return the JSON result a child wrote to ``path``; fail naming what was read if it is not JSON.

    :param module: the child's module, for the message.
    :param path: the result file.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuntimeError(
            f"{module} wrote no valid JSON result to {path} ({exc}): read {len(text.encode())} bytes, "
            f"head {text[:200]!r}, tail {text[-200:]!r}"
        ) from exc
