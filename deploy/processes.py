"""Child processes with their own log file, process group and a bounded wait for readiness."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path


#: Seconds to wait for a killed process family to end: far more than the kernel needs, even when busy.
FAMILY_GONE_TIMEOUT = 30.0


class ComponentError(RuntimeError):
    """A component did not come up, or died: the message names it and ends with its log's tail."""

    def __init__(self, component: str, problem: str, log_tail: str) -> None:
        """Describe what went wrong with ``component``.

        :param component: the component's name, e.g. ``triggerer``.
        :param problem: what was observed, e.g. ``not healthy after 60 s``.
        :param log_tail: the last lines of the component's log.
        """
        super().__init__(f"{component}: {problem}\n--- last lines of its log ---\n{log_tail}")
        self.component = component


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of a text file, or a note when it does not exist.

    :param path: the file.
    :param lines: how many lines.
    """
    if not path.exists():
        return f"(no log file at {path})"
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 64 * 1024))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """One long-running child in its own process group, its output appended to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Describe the process; nothing starts until :meth:`start`.

        :param name: the component's name used in messages.
        :param argv: the command line.
        :param log_path: where stdout and stderr go (appended, so restarts keep history).
        :param env: the complete environment of the child.
        :param cwd: the working directory.
        """
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None
        self._family: list[psutil.Process] = []

    def start(self) -> ManagedProcess:
        """Start the process in a new session (so the whole group can be signalled)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """Return the process id (the process group id too)."""
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def alive(self) -> bool:
        """Tell whether the process is still running."""
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """Return the last lines of this process's log.

        :param lines: how many lines.
        """
        return tail(self.log_path, lines)

    def fail(self, problem: str) -> ComponentError:
        """Build the error that names this component and shows its log's tail.

        :param problem: what was observed.
        """
        return ComponentError(self.name, problem, self.tail())

    def kill(self) -> None:
        """Kill the process, its group and every descendant at once (SIGKILL), as a crash would."""
        self.terminate(signal.SIGKILL)
        self.reap(0)

    def terminate(self, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to the process group, remembering the descendants to reap later.

        :param sig: the signal.
        """
        if self.popen is None:
            return
        self._family = _family(self.popen.pid)
        if self.popen.poll() is None:
            with _gone_is_fine():
                os.killpg(self.popen.pid, sig)

    def reap(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the process to exit, then SIGKILL whatever is left.

        :param grace: seconds.
        """
        if self.popen is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        family = [*self._family, *_family(self.popen.pid)]
        for proc in family:
            with _gone_is_fine():
                proc.kill()
        with _gone_is_fine():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=FAMILY_GONE_TIMEOUT)
        wait_until_gone(family, FAMILY_GONE_TIMEOUT)

    def stop(self, grace: float = 10.0) -> None:
        """Stop politely (SIGTERM to the group), then SIGKILL what is left after ``grace`` seconds.

        :param grace: seconds to wait after SIGTERM.
        """
        stop_all([self], grace)


def stop_all(processes: Sequence[ManagedProcess], grace: float = 10.0) -> None:
    """Stop several processes together: SIGTERM to all, one shared grace period, then SIGKILL.

    :param processes: the processes.
    :param grace: seconds to wait after SIGTERM, for all of them together.
    """
    for proc in processes:
        proc.terminate()
    end = time.monotonic() + grace
    for proc in processes:
        proc.reap(max(0.0, end - time.monotonic()))


def gone(proc: psutil.Process) -> bool:
    """Tell whether a process has ended: it no longer exists, or it is a zombie awaiting its reaper.

    :param proc: the process.
    """
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until_gone(processes: Sequence[psutil.Process], timeout: float, interval: float = 0.05) -> None:
    """Poll until every process has ended; SIGKILL is delivered asynchronously, so this takes a moment.

    :param processes: the processes, usually a killed process's descendants.
    :param timeout: seconds before giving up with an error that names the survivors.
    :param interval: seconds between checks.
    """
    end = time.monotonic() + timeout
    while alive := [proc.pid for proc in processes if not gone(proc)]:
        if time.monotonic() >= end:
            raise RuntimeError(f"processes {alive} still run {timeout:.0f} s after SIGKILL")
        time.sleep(interval)


def _gone_is_fine() -> contextlib.suppress:
    """Ignore 'no such process' while signalling processes that may already be gone."""
    return contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess)


def _family(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def interrupt_on_sigterm() -> None:
    """Turn SIGTERM into ``KeyboardInterrupt``, so a terminated run still stops what it started."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


class Deadline:
    """One time budget shared by every wait of a run, so the whole run is bounded."""

    def __init__(self, seconds: float) -> None:
        """Start the budget now.

        :param seconds: the whole budget.
        """
        self.total = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Return the seconds left (never negative)."""
        return max(0.0, self.end - time.monotonic())


def wait_for(
    what: str,
    check: Callable[[], object],
    timeout: float,
    watch: Sequence[ManagedProcess],
    blame: ManagedProcess | None = None,
    deadline: Deadline | None = None,
    interval: float = 0.5,
) -> object:
    """Call ``check`` until it returns something truthy; fail fast if a watched process dies.

    :param what: what is awaited, for the message (``api-server answers /health``).
    :param check: returns a truthy value when ready; exceptions count as not ready.
    :param timeout: seconds for this wait (capped by ``deadline``).
    :param watch: processes that must stay alive meanwhile.
    :param blame: the component named when the wait times out.
    :param deadline: the run's overall budget.
    :param interval: seconds between checks.
    """
    if deadline is not None:
        timeout = min(timeout, deadline.remaining())
    end = time.monotonic() + timeout
    last_error = ""
    while True:
        for proc in watch:
            if not proc.alive():
                code = proc.popen.returncode if proc.popen else None
                raise proc.fail(f"exited with code {code} while waiting until {what}")
        try:
            result = check()
        except Exception as exc:
            last_error = f" (last check raised {type(exc).__name__}: {exc})"
        else:
            if result:
                return result
        if time.monotonic() >= end:
            problem = f"not ready after {timeout:.0f} s: waited until {what}{last_error}"
            if blame is not None:
                raise blame.fail(problem)
            raise ComponentError(what, problem, "(no single component to blame)")
        time.sleep(interval)
