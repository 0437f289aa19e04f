"""A throw-away PostgreSQL server from the distribution's packages, on a loopback port."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.processes import ComponentError, free_port, tail

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# Durability is irrelevant for a database that lives for one test run; speed is not.
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
)


def postgres_bindir() -> Path:
    """Return the newest installed PostgreSQL server's ``bin`` directory."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise ComponentError(
            "postgresql",
            "no server installed (expected /usr/lib/postgresql/<version>/bin/initdb)",
            "install it with: apt-get install -y --no-install-recommends postgresql",
        )
    return Path(found[-1]).parent


class PostgresServer:
    """A PostgreSQL cluster in its own data directory, started with ``pg_ctl`` on a free port."""

    def __init__(self, root: Path, database: str = "airflow", user: str = "airflow") -> None:
        """Prepare (nothing runs yet).

        :param root: a directory this server may own; data, socket and log go below it.
        :param database: the database to create.
        :param user: the superuser to create (trust authentication on loopback).
        """
        self.root = root
        self.data = root / "data"
        self.log_path = root / "postgresql.log"
        self.database = database
        self.user = user
        self.port = free_port()
        self.bindir = postgres_bindir()
        self._started = False
        # The server refuses to run as root: run it as the distribution's ``postgres`` user then.
        self._run_as = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of the database (psycopg2 driver)."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 60) -> PostgresServer:
        """Create the cluster and the database, and start the server.

        :param timeout: seconds allowed for ``pg_ctl start``.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            os.chown(self.root, self._run_as.pw_uid, self._run_as.pw_gid)
            for parent in self.root.parents:
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o111)
        self._run(
            ["initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync"],
            timeout,
        )
        options = f"{_SERVER_OPTIONS} -p {self.port} -k {self.root}"
        self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log_path),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout,
        )
        self._started = True
        self._run(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database], 30)
        return self

    def dump(self, timeout: float = 60) -> str:
        """Return the data of every table as ``pg_dump`` writes it (text, one ``COPY`` block per table).

        :param timeout: seconds allowed for ``pg_dump``.
        """
        argv = ["pg_dump", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "--data-only"]
        return self._run([*argv, self.database], timeout)

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away anyway)."""
        if not self._started:
            return
        try:
            self._run(["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "20", "stop"], 30)
        except ComponentError:
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
        self._started = False

    def _run(self, argv: Sequence[str], timeout: float) -> str:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        preexec: Callable[[], None] | None = None
        if self._run_as is not None:
            uid, gid = self._run_as.pw_uid, self._run_as.pw_gid
            home = self._run_as.pw_dir

            def preexec() -> None:
                os.setgid(gid)
                os.setuid(uid)
                os.environ["HOME"] = home

        try:
            done = subprocess.run(
                cmd,
                check=True,
                capture_output=True,
                timeout=timeout,
                cwd=self.root,
                preexec_fn=preexec,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(
                errors="replace"
            )
            raise ComponentError(
                "postgresql", f"{argv[0]} failed: {exc}", f"{output}\n{tail(self.log_path)}"
            ) from exc
        return done.stdout.decode(errors="replace")
