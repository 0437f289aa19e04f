"""Offline emulator of the OnlineSIM Alternative API: the account, its HTTP server, controls, fixture.

Example::

    with SandboxServer(SandboxConfig(balance="100.00")) as server:
        ...  # point a client at server.url with server.api_key
        server.control.deliver_sms(activation_id, code="123456")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onlinesim_provider.sandbox.account import SandboxState
    from onlinesim_provider.sandbox.clock import ManualClock, SystemClock
    from onlinesim_provider.sandbox.config import SandboxConfig
    from onlinesim_provider.sandbox.control import SandboxControl, SandboxControlError
    from onlinesim_provider.sandbox.rules import DeliveryRule
    from onlinesim_provider.sandbox.server import API_PATH, SandboxServer

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
#: The module of each name above. They are imported on first use: the pytest plugin, which every
#: pytest run loads, lives in this package and must not pull in aiohttp or pydantic.
_HOMES = {
    "API_PATH": "server",
    "DeliveryRule": "rules",
    "ManualClock": "clock",
    "SandboxConfig": "config",
    "SandboxControl": "control",
    "SandboxControlError": "control",
    "SandboxServer": "server",
    "SandboxState": "account",
    "SystemClock": "clock",
}


def __getattr__(name: str) -> Any:
    """Import an exported name on first use.

    :param name: the name asked for.
    """
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
