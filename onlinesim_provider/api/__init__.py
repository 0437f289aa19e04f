"""The OnlineSIM Alternative API: models, errors, protocol and clients. Imports nothing from Airflow.

Example::

    from onlinesim_provider.api import OnlineSimClient

    with OnlineSimClient("my-key") as client:
        print(client.get_balance().amount)
"""

from __future__ import annotations

from onlinesim_provider.api.aio import AsyncOnlineSimClient
from onlinesim_provider.api.base import InsecureTransportWarning
from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import *  # noqa: F403
from onlinesim_provider.api.errors import __all__ as _errors
from onlinesim_provider.api.models import *  # noqa: F403
from onlinesim_provider.api.models import __all__ as _models
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL, HANDLER_PATH
from onlinesim_provider.api.retry import RetryPolicy

__all__ = [
    "AsyncOnlineSimClient",
    "DEFAULT_BASE_URL",
    "HANDLER_PATH",
    "InsecureTransportWarning",
    "OnlineSimClient",
    "RetryPolicy",
    *_errors,
    *_models,
]
