"""Read what the deployment left behind: task logs, trigger logs, and the key, which must not be there."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onlinesim_provider.api.base import key_forms

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

_TRIGGER_LOG = re.compile(r"^attempt=(\d+)\.log\.trigger\.(\d+)\.log$")
#: Where ``pg_dump`` begins a table's rows, and a Fernet token (its version byte makes ``gAAAAA``).
_COPY = re.compile(r"^COPY (\S+) ")
_FERNET_TOKEN = re.compile(r"gAAAAA[\w-]+=*")
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


def encrypted_values(dump: str) -> Iterator[tuple[str, str]]:
    """Yield ``(table, token)`` for each Fernet token in a ``pg_dump`` text (how Airflow stores secrets).

    :param dump: what ``pg_dump`` wrote.
    """
    table = ""
    for line in dump.splitlines():
        if copy := _COPY.match(line):
            table = copy.group(1)
        for token in _FERNET_TOKEN.findall(line):
            yield table, token


#: The sandbox plays the API server, which holds the key by design and prints it when it starts.
SANDBOX_LOG = "sandbox.log"


def client_logs(files: Iterable[Path]) -> list[Path]:
    """Return the log files of the deployment's clients: every one but the sandbox's.

    :param files: the deployment's log files.
    """
    return [path for path in files if path.name != SANDBOX_LOG]


@dataclass
class SecretScan:
    """Search texts, values and files for an API key in each of its forms; count places and hits.

    A hit names the place and the line that holds the key, with the key masked, so that a report
    of a leak does not leak it again.
    """

    key: str
    searched: int = 0
    #: (place, the line that holds the key, masked)
    hits: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        longest_first = sorted(key_forms(self.key), key=len, reverse=True)
        self._forms = re.compile("|".join(re.escape(form) for form in longest_first))

    def scan(self, place: str, value: Any) -> None:
        """Search one place (a text, or any JSON-able value, which is dumped first).

        :param place: what was searched, for the report.
        :param value: the text or value.
        """
        text = value if isinstance(value, str) else json.dumps(value, default=repr, ensure_ascii=False)
        self.searched += 1
        if self._forms.search(text):
            lines = (line for line in text.splitlines() if self._forms.search(line))
            self.hits += [(place, self._forms.sub("<KEY>", line)[:300]) for line in lines]

    def scan_files(self, files: Iterable[Path]) -> None:
        """Search each file's text.

        :param files: the files.
        """
        for path in files:
            self.scan(str(path), path.read_text(errors="replace"))
