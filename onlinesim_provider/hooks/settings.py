"""An ``onlinesim`` connection as client settings, for the hook's sync client and the triggers' async one.

:func:`client_settings` is the one place a connection becomes
:class:`~onlinesim_provider.api.base.ClientSettings`. :func:`get_async_client` builds an async
client without blocking the event loop: the triggers of one connection on one loop share one
connection lookup for :data:`SETTINGS_TTL` seconds, however many start together.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, mask_secret

from onlinesim_provider.api.base import ClientSettings
from onlinesim_provider.api.errors import InvalidInputError
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import aiohttp

    from onlinesim_provider.api.aio import AsyncOnlineSimClient

__all__ = ["EXTRA_SETTINGS", "SETTINGS_TTL", "client_settings", "get_async_client"]

#: The connection extras that are client settings (empty values mean "not set").
EXTRA_SETTINGS = ("auth", "timeout", "cancel_status", "rent_close_status", "proxies", "verify")
#: Seconds the triggers of one event loop reuse a connection's settings before looking it up again:
#: a changed connection reaches waits already running within this time.
SETTINGS_TTL = 60.0


def client_settings(conn: Any, extra: Mapping[str, Any] | None = None) -> ClientSettings:
    """Return the client settings an ``onlinesim`` connection describes (the key is not masked here).

    :param conn: the Airflow connection (password = API key, host = base URL, extras: ``auth``,
        ``timeout``, ``cancel_status``, ``rent_close_status``, ``proxies``, ``verify``).
    :param extra: the connection's extra, when already read (the async path reads it without
        blocking); ``conn.extra_dejson`` otherwise.
    :raises AirflowFailException: naming the connection id (never the key) and the bad setting.
    """
    extra = conn.extra_dejson if extra is None else extra
    given = {name: extra[name] for name in EXTRA_SETTINGS if extra.get(name) not in (None, "")}
    host = (conn.host or "").strip().rstrip("/")
    base_url = (host if "://" in host else f"http://{host}") if host else DEFAULT_BASE_URL
    if host and conn.port and base_url.count(":") == 1:
        base_url = f"{base_url}:{conn.port}"
    try:
        return ClientSettings.checked({"api_key": conn.password, "base_url": base_url, **given})
    except InvalidInputError as error:
        raise AirflowFailException(f"Connection {conn.conn_id!r}: {error.message}") from None


#: Per event loop and connection id: when the lookup started, and its task until it is done (then
#: its settings, so that nothing keeps the loop alive).
_lookups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, list[Any]]] = (
    weakref.WeakKeyDictionary()
)


async def get_async_client(
    conn_id: str,
    http_client: aiohttp.ClientSession | None = None,
    *,
    ttl: float = SETTINGS_TTL,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncOnlineSimClient:
    """Build an async client from a connection without blocking the event loop.

    Uses Airflow's async connection API where the running Airflow has one, a worker thread
    otherwise. All calls for one connection id on one loop share one lookup for ``ttl`` seconds,
    also calls that arrive while it runs; a failed lookup is not kept.

    :param conn_id: the ``onlinesim`` connection id.
    :param http_client: a shared ``aiohttp.ClientSession`` (one pool per event loop), if any.
    :param ttl: seconds a lookup's settings are reused (0: look up whenever none is running).
    :param clock: the monotonic clock the ``ttl`` is measured on.
    """
    from onlinesim_provider.api.aio import AsyncOnlineSimClient

    lookups = _lookups.setdefault(asyncio.get_running_loop(), {})
    entry = lookups.get(conn_id)
    if entry is None or (isinstance(entry[1], ClientSettings) and clock() - entry[0] >= ttl):
        lookup = asyncio.ensure_future(_look_up(conn_id))
        entry = lookups[conn_id] = [clock(), lookup]

        def settle(done: asyncio.Future[ClientSettings], entry: list[Any] = entry) -> None:
            if done.cancelled() or done.exception() is not None:
                if lookups.get(conn_id) is entry:
                    del lookups[conn_id]
            else:
                entry[1] = done.result()

        lookup.add_done_callback(settle)
    found = entry[1]
    # Shielded: a caller cancelled while waiting does not cancel the lookup the others await.
    settings = found if isinstance(found, ClientSettings) else await asyncio.shield(found)
    return AsyncOnlineSimClient(**settings.model_dump(exclude_unset=True), http_client=http_client)


async def _look_up(conn_id: str) -> ClientSettings:
    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    conn = await get_async_connection(conn_id)
    settings = client_settings(conn, extra=await get_async_extra_dejson(conn))
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3: masking is local to the process, it does not block
        mask_secret(settings.api_key)
    else:
        await amask_secret(settings.api_key)
    return settings
