"""Offline emulator of the OnlineSIM Alternative API: the account, its HTTP server, controls, fixture.

Example::

    with SandboxServer(SandboxConfig(balance="100.00")) as server:
        ...  # point a client at server.url with server.api_key
        server.control.deliver_sms(activation_id, code="123456")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors read; at run time, __getattr__ below
    from onlinesim_provider.sandbox.account import ManualClock as ManualClock
    from onlinesim_provider.sandbox.account import SandboxState as SandboxState
    from onlinesim_provider.sandbox.account import SystemClock as SystemClock
    from onlinesim_provider.sandbox.config import DeliveryRule as DeliveryRule
    from onlinesim_provider.sandbox.config import SandboxConfig as SandboxConfig
    from onlinesim_provider.sandbox.control import API_PATH as API_PATH
    from onlinesim_provider.sandbox.control import SandboxControl as SandboxControl
    from onlinesim_provider.sandbox.control import SandboxControlError as SandboxControlError
    from onlinesim_provider.sandbox.server import SandboxServer as SandboxServer

#: Where each exported name lives, imported on first use: the pytest plugin, which every pytest run
#: loads, is in this package and must not pull in aiohttp or pydantic.
_MODULES = {
    "account": ("ManualClock", "SandboxState", "SystemClock"),
    "config": ("DeliveryRule", "SandboxConfig"),
    "control": ("API_PATH", "SandboxControl", "SandboxControlError"),
    "server": ("SandboxServer",),
}
__all__ = sorted(name for names in _MODULES.values() for name in names)


def __getattr__(name: str) -> Any:
    """Import an exported name on first use.

    :param name: the name asked for.
    """
    for module, names in _MODULES.items():
        if name in names:
            return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
