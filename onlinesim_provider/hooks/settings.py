"""An ``onlinesim`` connection as client settings: the hook's sync path and the triggers' async one.

:func:`client_settings` is the one place a connection becomes client keyword arguments; the
values themselves are checked by the API layer (:func:`~onlinesim_provider.api.base.check_settings`),
the same check every client applies. :func:`get_async_client` builds an async client from a
connection without blocking the event loop: one connection lookup per event loop and connection
id every :data:`SETTINGS_TTL` seconds, however many triggers start together.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException, mask_secret

from onlinesim_provider.api.base import check_settings
from onlinesim_provider.api.errors import InvalidInputError
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import aiohttp

    from onlinesim_provider.api.aio import AsyncOnlineSimClient

__all__ = ["EXTRA_SETTINGS", "SETTINGS_TTL", "client_settings", "get_async_client"]

#: The connection extras that are client settings (empty values mean "not set").
EXTRA_SETTINGS = ("auth", "timeout", "cancel_status", "rent_close_status", "proxies", "verify")


def client_settings(conn: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the client keyword arguments described by an ``onlinesim`` connection.

    The one place a connection becomes client settings, for the sync and the async client.
    It does not mask the key: the callers that read it do.

    :param conn: the Airflow connection (password = API key, host = base URL, extras: ``auth``,
        ``timeout``, ``cancel_status``, ``rent_close_status``, ``proxies``, ``verify``).
    :param extra: the connection's extra, when already read (the async path reads it without
        blocking); ``conn.extra_dejson`` otherwise.
    :raises AirflowFailException: naming the connection id (never the key) when a setting is
        missing or malformed.
    """
    extra = conn.extra_dejson if extra is None else extra
    raw = {name: extra[name] for name in EXTRA_SETTINGS if extra.get(name) not in (None, "")}
    try:
        return check_settings({"api_key": conn.password, "base_url": _base_url(conn), **raw})
    except InvalidInputError as error:
        raise AirflowFailException(f"Connection {conn.conn_id!r}: {error.message}") from None


def _base_url(conn: Any) -> str:
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_BASE_URL
    url = host if "://" in host else f"http://{host}"
    if conn.port and url.count(":") == 1:
        url = f"{url}:{conn.port}"
    return url


#: Seconds the triggers of one event loop reuse a connection's settings before looking the
#: connection up again: a changed connection is picked up within this time.
SETTINGS_TTL = 60.0


class _CachedSettings:
    """One connection's client settings (API key included), kept in memory for one event loop.

    Never logged or serialized: its repr names only the connection id and it refuses pickling.
    While ``lookup`` runs, every caller awaits that one lookup; once it is done, ``settings``
    holds its result and the entry no longer refers to the loop.
    """

    __slots__ = ("conn_id", "created", "lookup", "settings")

    def __init__(self, conn_id: str, created: float, lookup: asyncio.Task[dict[str, Any]]) -> None:
        self.conn_id = conn_id
        self.created = created
        self.lookup: asyncio.Task[dict[str, Any]] | None = lookup
        self.settings: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.conn_id!r}>"

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} holds an API key: it is never serialized")

    def usable(self, now: float, ttl: float) -> bool:
        """Return whether callers may share this entry: its lookup still runs, or it is recent.

        :param now: the current time on the caller's clock.
        :param ttl: seconds a finished lookup stays usable.
        """
        return self.lookup is not None or now - self.created < ttl


_settings_cache: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _CachedSettings]] = (
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

    Uses Airflow's async connection API where the running Airflow has one, and a worker thread
    otherwise; the settings are the same as the hook's (:func:`client_settings`). All calls for
    one connection id on one event loop share one lookup for ``ttl`` seconds, including calls
    that arrive while it is still running; a failed lookup is not kept.

    :param conn_id: the ``onlinesim`` connection id.
    :param http_client: a shared ``aiohttp.ClientSession`` (one pool per event loop), if any.
    :param ttl: seconds a lookup's settings are reused (0: look up on every call that does not
        find one running).
    :param clock: the monotonic clock the ``ttl`` is measured on.
    """
    from onlinesim_provider.api.aio import AsyncOnlineSimClient

    settings = await _shared_settings(conn_id, ttl, clock)
    return AsyncOnlineSimClient(**settings, http_client=http_client)


async def _shared_settings(conn_id: str, ttl: float, clock: Callable[[], float]) -> dict[str, Any]:
    entries = _settings_cache.setdefault(asyncio.get_running_loop(), {})
    entry = entries.get(conn_id)
    if entry is None or not entry.usable(clock(), ttl):
        lookup = asyncio.ensure_future(_look_up_settings(conn_id))
        entry = entries[conn_id] = _CachedSettings(conn_id, clock(), lookup)
        lookup.add_done_callback(partial(_settle, entries, entry))
    if entry.lookup is None:
        return entry.settings
    # Shielded: a caller cancelled while waiting does not cancel the lookup the others await.
    return await asyncio.shield(entry.lookup)


def _settle(entries: dict[str, _CachedSettings], entry: _CachedSettings, lookup: asyncio.Task[Any]) -> None:
    if lookup.cancelled() or lookup.exception() is not None:
        if entries.get(entry.conn_id) is entry:
            del entries[entry.conn_id]
        return
    entry.settings = lookup.result()
    entry.lookup = None


async def _look_up_settings(conn_id: str) -> dict[str, Any]:
    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    conn = await get_async_connection(conn_id)
    settings = client_settings(conn, extra=await get_async_extra_dejson(conn))
    await _amask_secret(settings["api_key"])
    return settings


async def _amask_secret(secret: str) -> None:
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3: masking is local to the process, it does not block
        mask_secret(secret)
    else:
        await amask_secret(secret)
