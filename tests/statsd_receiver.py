"""A StatsD receiver on loopback, and Airflow's ``Stats`` pointed at it (or at a port nobody serves).

Airflow picks its metrics backend once per process (Airflow 2: when ``airflow.stats`` is first
imported; Airflow 3: when a process calls ``initialize``, and lazily on first use), so a test
that changes ``[metrics]`` must make ``Stats`` choose again: :func:`reconfigure_stats` does,
for both versions, from the configuration in force.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Packet", "StatsdReceiver", "closed_udp_port", "reconfigure_stats"]

#: Airflow's default ``[metrics] statsd_prefix``.
PREFIX = "airflow."


@dataclass(frozen=True)
class Packet:
    """One StatsD line: ``name[,tag=value...]:value|type`` (InfluxDB-style tags).

    :param name: the metric name, without Airflow's prefix.
    :param value: the value as sent.
    :param type: ``c`` (counter) or ``ms`` (timer).
    :param tags: the tags, when the line carried any.
    """

    name: str
    value: float
    type: str
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, line: str) -> Packet:
        """Parse one line as Airflow's StatsD client sends it.

        :param line: the line.
        """
        head, _, rest = line.partition(":")
        value, _, kind = rest.partition("|")
        name, *pairs = head.split(",")
        tags = dict(pair.split("=", 1) for pair in pairs)
        return cls(name.removeprefix(PREFIX), float(value), kind.split("|")[0], tags)


class StatsdReceiver:
    """Collect every StatsD line sent to a UDP socket on 127.0.0.1 (a thread reads it)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.lines.extend(data.decode("ascii", "replace").splitlines())

    def packets(self, prefix: str = "onlinesim.") -> list[Packet]:
        """Return the packets received so far whose name starts with ``prefix``.

        :param prefix: the name prefix (after Airflow's ``airflow.``).
        """
        parsed = [Packet.parse(line) for line in list(self.lines)]
        return [packet for packet in parsed if packet.name.startswith(prefix)]

    def wait_for(self, predicate: object, timeout: float = 30.0) -> list[Packet]:
        """Poll until ``predicate(packets)`` holds (a generous bound), then return the packets.

        :param predicate: a callable taking the packet list.
        :param timeout: the longest wait in seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            packets = self.packets()
            if predicate(packets) or time.monotonic() > deadline:  # type: ignore[operator]
                return packets
            time.sleep(0.05)

    def clear(self) -> None:
        """Forget what was received."""
        self.lines.clear()

    def close(self) -> None:
        """Stop reading and close the socket."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def closed_udp_port() -> int:
    """Return a loopback UDP port that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def reconfigure_stats() -> None:
    """Make Airflow's ``Stats`` choose its backend again from the configuration in force."""
    from onlinesim_provider.version_compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk._shared.observability.metrics import stats
        from airflow.sdk.observability.metrics import stats_utils

        stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
        return
    from airflow import stats as stats2

    # Airflow 2 keeps the chosen factory on the metaclass and the backend on the class.
    if hasattr(stats2._Stats, "factory"):
        del stats2._Stats.factory
    stats2._Stats.__init__(stats2.Stats)
    stats2.Stats.instance = None
