"""Offline emulator of the OnlineSIM Alternative API: state machine, HTTP server, controls, fixture.

Example::

    from onlinesim_provider.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(balance="100.00")) as server:
        ...  # point a client at server.url with server.api_key
        server.control.deliver_sms(activation_id, code="123456")
"""

from __future__ import annotations

from onlinesim_provider.sandbox.clock import ManualClock, SystemClock
from onlinesim_provider.sandbox.config import SandboxConfig
from onlinesim_provider.sandbox.control import SandboxControl, SandboxControlError
from onlinesim_provider.sandbox.delivery import DeliveryRule
from onlinesim_provider.sandbox.server import API_PATH, SandboxServer
from onlinesim_provider.sandbox.state import SandboxState

__all__ = [
    "API_PATH",
    "DeliveryRule",
    "ManualClock",
    "SandboxConfig",
    "SandboxControl",
    "SandboxControlError",
    "SandboxServer",
    "SandboxState",
    "SystemClock",
]
