"""The Celery broker of the distributed deployment: Debian's redis-server on loopback, no persistence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psutil
import pytest

from deploy.processes import Deadline, gone
from deploy.redis import RedisServer, ping, redis_argv

if TYPE_CHECKING:
    from pathlib import Path


def test_the_server_listens_on_loopback_only_and_never_writes_its_data(tmp_path: Path) -> None:
    argv = redis_argv("/usr/bin/redis-server", 6399, tmp_path)
    options = dict(zip(argv[1::2], argv[2::2], strict=True))
    assert options == {
        "--bind": "127.0.0.1",
        "--port": "6399",
        "--protected-mode": "yes",
        "--save": "",
        "--appendonly": "no",
        "--dir": str(tmp_path),
        "--daemonize": "no",
    }


@pytest.mark.deployment
def test_start_answers_ping_and_stop_ends_the_server(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    server.start(Deadline(60))
    process = psutil.Process(server.process.pid)
    try:
        assert ping(server.port)
        listening = {c.laddr.ip for c in process.net_connections(kind="inet") if c.status == "LISTEN"}
        assert listening == {"127.0.0.1"}
    finally:
        server.stop()
    assert gone(process)
    assert not list((tmp_path / "redis").glob("*.rdb"))
