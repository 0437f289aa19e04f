"""Read what the deployment left behind: task logs, trigger logs, and secrets that must not be there."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from pathlib import Path

_TRIGGER_LOG = re.compile(r"^attempt=(\d+)\.log\.trigger\.(\d+)\.log$")
FIRED = "Trigger fired event"
DEFERRED = "Pausing task as DEFERRED"


def task_log_dir(task_logs: Path, dag_id: str, run_id: str, task_id: str) -> Path:
    """Return the folder of one task instance's logs (Airflow's default file naming).

    :param task_logs: ``[logging] base_log_folder``.
    :param dag_id: the DAG.
    :param run_id: the run.
    :param task_id: the task.
    """
    return task_logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"


def worker_log(folder: Path, try_number: int = 1) -> str:
    """Return what the worker wrote for one try of the task.

    :param folder: the task instance's log folder.
    :param try_number: the try.
    """
    path = folder / f"attempt={try_number}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def trigger_logs(folder: Path, try_number: int = 1) -> dict[int, str]:
    """Return what each triggerer wrote while running the task's trigger, by triggerer job id.

    :param folder: the task instance's log folder.
    :param try_number: the try.
    """
    found: dict[int, str] = {}
    for path in folder.glob("attempt=*.log.trigger.*.log"):
        match = _TRIGGER_LOG.match(path.name)
        if match and int(match.group(1)) == try_number:
            found[int(match.group(2))] = path.read_text(errors="replace")
    return found


def secret_forms(secret: str) -> set[str]:
    """Return the ways a secret can show up in a log: as is, and URL-encoded (path or form style).

    :param secret: the secret.
    """
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}


def files_containing(files: list[Path], needles: set[str]) -> dict[str, list[str]]:
    """Return, for each file that contains any of ``needles``, the lines where they appear (redacted).

    :param files: the files to read.
    :param needles: the strings to look for.
    """
    hits: dict[str, list[str]] = {}
    for path in files:
        text = path.read_text(errors="replace")
        if any(needle in text for needle in needles):
            lines = [line for line in text.splitlines() if any(n in line for n in needles)]
            for needle in sorted(needles, key=len, reverse=True):
                lines = [line.replace(needle, "<SECRET>") for line in lines]
            hits[str(path)] = [line[:300] for line in lines[:3]]
    return hits


#: The sandbox plays the API server, which holds the key by design and prints it when it starts.
SANDBOX_LOG = "sandbox.log"


def key_leaks(files: list[Path], secret: str) -> dict[str, list[str]]:
    """Return the logs of the deployment's clients (every file but the sandbox's) that hold ``secret``.

    :param files: the deployment's log files.
    :param secret: the API key.
    """
    return files_containing([p for p in files if p.name != SANDBOX_LOG], secret_forms(secret))
