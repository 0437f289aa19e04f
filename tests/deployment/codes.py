"""Codes that come when a wait has read its number a given number of times, in a running sandbox.

Timing a code by the wait's own reads, not by the clock, puts it where a test wants it however
busy the machine is: after the first read of a deferrable sensor it comes just before the
deferral; after the second, once the trigger polls. Only numbers ordered while it runs get codes,
so what other tests of a shared deployment ordered is left alone.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onlinesim_provider.sandbox import SandboxControl

#: The message a rented number receives (the rent example waits for this sender and pattern).
RENT_SENDER, RENT_TEXT = "twitter", "Your twitter code is 314159"


class CodeAtRead(threading.Thread):
    """Deliver each new number's code right after its ``read``-th status read; rents get one message.

    :param control: the sandbox's control client.
    :param read: which read of a number's status brings its code (1 = the first).
    """

    def __init__(self, control: SandboxControl, read: int = 1) -> None:
        super().__init__(daemon=True)
        self.control, self.read = control, read
        #: activation id -> the code delivered to it; rent ids that got their message
        self.codes: dict[int, str] = {}
        self.rents: set[int] = set()
        self._done = threading.Event()
        #: what was ordered before: never given a code here
        self._earlier = {("getStatus", a["id"]) for a in control.activations()}
        self._earlier |= {("getRentStatus", r["id"]) for r in control.rents()}

    def __enter__(self) -> CodeAtRead:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.join(10)

    def run(self) -> None:
        while not self._done.is_set():
            reads = Counter(
                (r["action"], int(r["query"]["id"]))
                for r in self.control.requests()
                if r["action"] in ("getStatus", "getRentStatus") and r["status"] == 200
            )
            for (action, number), count in reads.items():
                if count < self.read or (action, number) in self._earlier:
                    continue
                if action == "getStatus" and number not in self.codes:
                    self.codes[number] = str(100000 + len(self.codes))
                    self.control.deliver_sms(number, code=self.codes[number])
                elif action == "getRentStatus" and number not in self.rents:
                    self.rents.add(number)
                    self.control.deliver_rent_sms(number, RENT_TEXT, service=RENT_SENDER)
            time.sleep(0.05)
