"""The OnlineSIM Alternative API: models, errors, protocol and clients. Imports nothing from Airflow.

Example::

    from onlinesim_provider.api import OnlineSimClient

    with OnlineSimClient("my-key") as client:
        print(client.get_balance().amount)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from onlinesim_provider.api.base import ClientSettings, InsecureTransportWarning
from onlinesim_provider.api.errors import *  # noqa: F403
from onlinesim_provider.api.errors import __all__ as _errors
from onlinesim_provider.api.models import *  # noqa: F403
from onlinesim_provider.api.models import __all__ as _models
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL, HANDLER_PATH
from onlinesim_provider.api.retry import RetryPolicy

if TYPE_CHECKING:
    from onlinesim_provider.api.aio import AsyncOnlineSimClient
    from onlinesim_provider.api.client import OnlineSimClient


def __getattr__(name: str) -> Any:
    """Import a client on first use: the triggerer needs only the async one, a worker only the sync one."""
    modules = {"AsyncOnlineSimClient": "aio", "OnlineSimClient": "client"}
    if name not in modules:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{modules[name]}"), name)


__all__ = [
    "AsyncOnlineSimClient",
    "ClientSettings",
    "DEFAULT_BASE_URL",
    "HANDLER_PATH",
    "InsecureTransportWarning",
    "OnlineSimClient",
    "RetryPolicy",
    *_errors,
    *_models,
]
