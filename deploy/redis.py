"""A throw-away Redis server (Debian's ``redis-server``) on a loopback port: the Celery broker."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from deploy.processes import ComponentError, ManagedProcess, free_port, wait_for

if TYPE_CHECKING:
    from pathlib import Path

    from deploy.processes import Deadline


def redis_server_binary() -> str:
    """Return the path of ``redis-server``, or fail saying how to install it."""
    found = shutil.which("redis-server")
    if found is None:
        raise ComponentError(
            "redis",
            "no server installed (expected redis-server on PATH)",
            "install it with: bash deploy/install-system-packages.sh",
        )
    return found


def redis_argv(binary: str, port: int, folder: Path) -> list[str]:
    """Return the command line of a loopback-only Redis that never writes its data to disk.

    :param binary: the ``redis-server`` path.
    :param port: the TCP port on 127.0.0.1.
    :param folder: its working directory (nothing is written there but the log).
    """
    return [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--protected-mode",
        "yes",
        # A broker for one run: no snapshots, no append-only file.
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
        "--daemonize",
        "no",
    ]


def ping(port: int, timeout: float = 2.0) -> bool:
    """Tell whether the server on ``port`` answers ``PING``.

    :param port: the server's port on 127.0.0.1.
    :param timeout: seconds for the connection and the answer.
    """
    import redis  # the scale extra (Celery's Redis transport brings it); only the distributed run needs it

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    finally:
        client.close()


class RedisServer:
    """``redis-server`` in the foreground as a :class:`ManagedProcess`, on a free loopback port."""

    def __init__(self, folder: Path) -> None:
        """Prepare (nothing runs yet).

        :param folder: a directory this server may own; its log goes there.
        """
        self.folder = folder
        self.port = free_port()
        self.process = ManagedProcess(
            "redis", redis_argv(redis_server_binary(), self.port, folder), folder / "redis.log", cwd=folder
        )

    @property
    def url(self) -> str:
        """Return the Celery broker URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, deadline: Deadline) -> RedisServer:
        """Start the server and wait until it answers ``PING``.

        :param deadline: the overall time budget.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process.start()
        wait_for("redis answers PING", lambda: ping(self.port), 30, [self.process], self.process, deadline)
        return self

    def stop(self) -> None:
        """Stop the server (its data is thrown away anyway)."""
        self.process.stop(grace=5)
