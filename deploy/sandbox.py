"""The OnlineSIM sandbox as its own process (the ``onlinesim-sandbox`` command), as a real API would be."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.processes import ManagedProcess, wait_for
from onlinesim_provider.sandbox import SandboxControl

if TYPE_CHECKING:
    from collections.abc import Sequence

    from deploy.processes import Deadline

_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


class SandboxProcess:
    """``onlinesim-sandbox`` on a free loopback port, driven through its ``/_sandbox/`` controls."""

    def __init__(
        self, log_path: Path, api_key: str, sms_delay: float | None, extra_args: Sequence[str] = ()
    ) -> None:
        """Describe the sandbox; nothing starts yet.

        :param log_path: where its output goes.
        :param api_key: the only key it accepts.
        :param sms_delay: sandbox seconds after an order until the SMS arrives by itself.
        :param extra_args: more command-line options (``--delivery``, ``--seed``, ...).
        """
        argv = [str(Path(sys.executable).parent / "onlinesim-sandbox"), "--port", "0", "--key", api_key]
        if sms_delay is not None:
            argv += ["--sms-delay", str(sms_delay)]
        argv += extra_args
        self.api_key = api_key
        self.process = ManagedProcess("onlinesim-sandbox", argv, log_path)
        self.control: SandboxControl | None = None

    def start(self, deadline: Deadline) -> SandboxControl:
        """Start the sandbox and return its control once it listens.

        :param deadline: the overall time budget.
        """
        self.process.start()

        def url() -> str | None:
            found = _LISTENING.search(self.process.log_path.read_text(errors="replace"))
            return found.group(1) if found else None

        address = wait_for("the sandbox listens", url, 30, [self.process], self.process, deadline)
        self.control = SandboxControl(str(address), api_key=self.api_key)
        return self.control

    def stop(self) -> None:
        """Stop the sandbox."""
        if self.control is not None:
            self.control.close()
        self.process.stop(grace=5)
