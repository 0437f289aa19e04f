"""Airflow hook for OnlineSIM's Alternative API: a thin wrapper around the client.

The hook turns an ``onlinesim`` connection into an :class:`OnlineSimClient` (lazily: building
the hook does no I/O, because DAG parsing builds it) and exposes the client's twelve methods.
:func:`get_async_client` does the same for triggers without blocking the event loop (one
connection lookup per event loop and connection id every :data:`SETTINGS_TTL` seconds, however
many triggers start together), and :func:`airflow_error` is the one place an API error becomes an
Airflow exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    BaseHook,
    mask_secret,
)

from onlinesim_provider.api.client import OnlineSimClient
from onlinesim_provider.api.errors import (
    ACTIVATION_MAYBE_CLOSED,
    RENT_ALREADY_CLOSED,
    BadKeyError,
    InvalidInputError,
    NetworkError,
    OnlineSimError,
    OutcomeUnknownError,
)
from onlinesim_provider.api.models import ActivationState
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL
from onlinesim_provider.api.retry import RetryPolicy
from onlinesim_provider.get_provider_info import CONN_FIELDS, CONN_TYPE, HOOK_NAME, UI_FIELD_BEHAVIOUR

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import httpx

    from onlinesim_provider.api.aio import AsyncOnlineSimClient
    from onlinesim_provider.api.models import (
        Activation,
        ActivationStatus,
        Balance,
        Country,
        FullSms,
        Rent,
        RentOffer,
        RentStatus,
        ServiceStock,
        SetStatusCode,
        SetStatusReply,
    )

__all__ = [
    "SETTINGS_TTL",
    "OnlineSimHook",
    "airflow_error",
    "airflow_errors",
    "client_settings",
    "get_async_client",
]

_AUTH_STYLES = ("header", "query")
#: The connection test answers at once: one attempt, no backoff.
_TEST_RETRY = RetryPolicy(max_attempts=1)
_CANCEL_STATUSES = (6, 8)


def client_settings(conn: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the client keyword arguments described by an ``onlinesim`` connection.

    The one place a connection becomes client settings, for the sync and the async client.
    It does not mask the key: the callers that read it do.

    :param conn: the Airflow connection (password = API key, host = base URL).
    :param extra: the connection's extra, when already read (the async path reads it without
        blocking); ``conn.extra_dejson`` otherwise.
    :raises AirflowFailException: naming the connection id (never the key) when a setting is
        missing or malformed.
    """
    conn_id = conn.conn_id
    if not conn.password:
        raise AirflowFailException(
            f"Connection {conn_id!r} has no API key: put the OnlineSIM API key in its password field."
        )
    extra = conn.extra_dejson if extra is None else extra
    settings: dict[str, Any] = {"api_key": conn.password, "base_url": _base_url(conn)}
    if extra.get("auth") not in (None, ""):
        settings["auth"] = _choice(conn_id, "auth", extra["auth"], _AUTH_STYLES)
    if extra.get("timeout") not in (None, ""):
        settings["timeout"] = _timeout(conn_id, extra["timeout"])
    if extra.get("cancel_status") not in (None, ""):
        settings["cancel_status"] = _cancel_status(conn_id, extra["cancel_status"])
    if extra.get("proxies") not in (None, ""):
        settings["proxies"] = _proxies(conn_id, extra["proxies"])
    return settings


def _bad_setting(conn_id: str, name: str, value: object, expected: str) -> AirflowFailException:
    return AirflowFailException(f"Connection {conn_id!r}: extra {name!r} is {value!r}; expected {expected}.")


def _base_url(conn: Any) -> str:
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_BASE_URL
    url = host if "://" in host else f"http://{host}"
    if conn.port and url.count(":") == 1:
        url = f"{url}:{conn.port}"
    return url


def _choice(conn_id: str, name: str, value: object, allowed: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in allowed:
        raise _bad_setting(conn_id, name, value, " or ".join(repr(a) for a in allowed))
    return text


def _timeout(conn_id: str, value: object) -> float | tuple[float, float]:
    expected = "seconds as a positive number, or [connect, read] seconds"
    try:
        if isinstance(value, list | tuple) and len(value) == 2:
            pair = (float(value[0]), float(value[1]))
            if min(pair) > 0:
                return pair
        elif not isinstance(value, bool):
            seconds = float(value)  # type: ignore[arg-type]
            if seconds > 0:
                return seconds
    except (TypeError, ValueError):
        pass
    raise _bad_setting(conn_id, "timeout", value, expected)


def _cancel_status(conn_id: str, value: object) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or text not in {str(status) for status in _CANCEL_STATUSES}:
        raise _bad_setting(conn_id, "cancel_status", value, "6 (OnlineSIM) or 8 (SMS-Activate-style servers)")
    return int(text)


def _proxies(conn_id: str, value: object) -> dict[str, str]:
    parsed = value
    if isinstance(value, str):
        text = value.strip()
        if "://" in text and not text.startswith("{"):
            return {"http": text, "https": text}
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
    if isinstance(parsed, dict) and parsed and all(isinstance(v, str) for v in parsed.values()):
        return {str(k): v for k, v in parsed.items()}
    expected = 'a proxy URL or a JSON object such as {"https": "http://proxy:3128"}'
    raise _bad_setting(conn_id, "proxies", value, expected)


def airflow_error(error: OnlineSimError, doing: str) -> AirflowException:
    """Return the Airflow exception to raise for an API error.

    Transient errors become a plain :class:`AirflowException` (Airflow may retry the task);
    everything else, including an order whose outcome is unknown, becomes an
    :class:`AirflowFailException` (no retry: retrying cannot help, or could pay twice).

    :param error: the error the client raised.
    :param doing: what the task was doing, e.g. ``"ordering a number for service 'tg'"``.
    """
    if isinstance(error, OutcomeUnknownError):
        return AirflowFailException(
            f"{doing}: the order was sent but its outcome is unknown ({error.message}); it was not "
            "re-sent, to avoid paying twice. Check the active orders on the OnlineSIM account "
            "before running this task again."
        )
    message = f"{doing} failed: {error.message}"
    return AirflowException(message) if error.retryable else AirflowFailException(message)


@contextlib.contextmanager
def airflow_errors(doing: str) -> Iterator[None]:
    """Re-raise any API error inside the block as the Airflow exception :func:`airflow_error` picks.

    :param doing: what the block does, used as the start of the message.
    """
    try:
        yield
    except OnlineSimError as error:
        raise airflow_error(error, doing) from error


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
    http_client: httpx.AsyncClient | None = None,
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
    :param http_client: a shared ``httpx.AsyncClient`` (one pool per event loop), if any.
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


class OnlineSimHook(BaseHook):  # type: ignore[misc]
    """Interact with OnlineSIM's Alternative API through an ``onlinesim`` connection.

    The connection's password is the API key, its host the base URL (default
    ``https://api-conserver.onlinesim.io``); extras ``auth``, ``timeout``, ``cancel_status`` and
    ``proxies`` tune the client. The client is built on first use.

    .. code-block:: python

        hook = OnlineSimHook()
        activation = hook.get_number("tg", country="7")
        hook.cancel_activation(activation.id)

    :param onlinesim_conn_id: the ``onlinesim`` connection to use.
    """

    conn_name_attr = "onlinesim_conn_id"
    default_conn_name = "onlinesim_default"
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(self, onlinesim_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.onlinesim_conn_id = onlinesim_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(onlinesim_conn_id={self.onlinesim_conn_id!r})"

    @cached_property
    def client(self) -> OnlineSimClient:
        """Return the client, built from the connection on first use (the key is masked)."""
        return self._new_client()

    def _new_client(self, retry: RetryPolicy | None = None) -> OnlineSimClient:
        try:
            conn = self.get_connection(self.onlinesim_conn_id)
        except AirflowNotFoundException:  # a missing connection stays missing: no retry
            raise AirflowFailException(
                f"Connection {self.onlinesim_conn_id!r} is not defined: expected an 'onlinesim' connection "
                "(password = API key) in Airflow, an AIRFLOW_CONN_* variable or a secrets backend."
            ) from None
        settings = client_settings(conn)
        mask_secret(settings["api_key"])
        try:
            return OnlineSimClient(**settings, retry=retry)
        except InvalidInputError as error:
            raise AirflowFailException(f"Connection {conn.conn_id!r}: {error.message}") from None

    def get_conn(self) -> OnlineSimClient:
        """Return the client (Airflow's generic hook entry point)."""
        return self.client

    @property
    def cancel_status(self) -> int:
        """Return the ``setStatus`` value that cancels an activation on this connection."""
        return int(self.client.cancel_status)

    # --- the twelve API methods -------------------------------------------------------------

    def get_balance(self) -> Balance:
        """Return the account balance."""
        return self.client.get_balance()

    def get_countries(self) -> list[Country]:
        """Return the countries the server offers."""
        return self.client.get_countries()

    def get_numbers_status(
        self, country: str | None = None, operator: str | None = None
    ) -> list[ServiceStock]:
        """Return how many numbers each service has.

        :param country: the country key; the server's default when omitted.
        :param operator: the mobile operator; any when omitted.
        """
        return self.client.get_numbers_status(country, operator)

    def get_number(self, service: str, country: str | None = None, operator: str | None = None) -> Activation:
        """Order (and pay for) a number that receives one service's SMS.

        :param service: the service code, e.g. ``tg``.
        :param country: the country key; the server's default when omitted.
        :param operator: the mobile operator; any when omitted.
        """
        return self.client.get_number(service, country, operator)

    def get_status(self, activation_id: int) -> ActivationStatus:
        """Return an activation's state and code.

        :param activation_id: the activation id.
        """
        return self.client.get_status(activation_id)

    def get_full_sms(self, activation_id: int) -> FullSms:
        """Return an activation's state and the whole text of its SMS.

        :param activation_id: the activation id.
        """
        return self.client.get_full_sms(activation_id)

    def set_status(self, activation_id: int, status: int | SetStatusCode) -> SetStatusReply:
        """Send a raw ``setStatus`` value (prefer the intent helpers below).

        :param activation_id: the activation id.
        :param status: 1, 3, 6 or 8.
        """
        return self.client.set_status(activation_id, status)

    def get_rent_services_and_countries(
        self, hours: int | None = None, country: str | None = None, operator: str | None = None
    ) -> RentOffer:
        """Return what can be rented, and at what price.

        :param hours: the rent duration.
        :param country: the country key.
        :param operator: the mobile operator.
        """
        return self.client.get_rent_services_and_countries(hours, country, operator)

    def get_rent_number(self, country: str, hours: int = 1) -> Rent:
        """Rent (and pay for) a number that receives every service's SMS.

        :param country: the country key.
        :param hours: the rent duration in hours.
        """
        return self.client.get_rent_number(country, hours)

    def get_rent_list(self) -> list[Rent]:
        """Return the account's active rents."""
        return self.client.get_rent_list()

    def get_rent_status(self, rent_id: int) -> RentStatus:
        """Return the messages a rented number has received.

        :param rent_id: the rent id.
        """
        return self.client.get_rent_status(rent_id)

    def set_rent_status(self, rent_id: int, status: int = 2) -> None:
        """Send a raw ``setRentStatus`` value (prefer :meth:`close_rent`).

        :param rent_id: the rent id.
        :param status: 1 (finish) or 2 (cancel).
        """
        self.client.set_rent_status(rent_id, status)

    # --- intent helpers ---------------------------------------------------------------------

    def mark_ready(self, activation_id: int) -> SetStatusReply:
        """Tell the server the number was submitted and an SMS is expected (status 1).

        :param activation_id: the activation id.
        """
        return self.client.mark_ready(activation_id)

    def request_another_code(self, activation_id: int) -> SetStatusReply:
        """Ask for another SMS on the same number (status 3).

        :param activation_id: the activation id.
        """
        return self.client.request_another_code(activation_id)

    def complete_activation(self, activation_id: int, *, allow_closed: bool = False) -> SetStatusReply | None:
        """Close an activation whose code was used (status 6).

        :param activation_id: the activation id.
        :param allow_closed: return ``None`` instead of raising when it is already closed.
        """
        return self._close(activation_id, self.client.complete_activation, allow_closed)

    def cancel_activation(self, activation_id: int, *, allow_closed: bool = False) -> SetStatusReply | None:
        """Cancel an activation so its money comes back (status 6 or 8, per connection).

        :param activation_id: the activation id.
        :param allow_closed: return ``None`` instead of raising when it is already closed.
        """
        return self._close(activation_id, self.client.cancel_activation, allow_closed)

    def close_activation_quietly(self, activation_id: int) -> SetStatusReply | None:
        """Cancel an activation for cleanup; ``None`` when it was already closed.

        :param activation_id: the activation id.
        """
        return self.cancel_activation(activation_id, allow_closed=True)

    def close_rent(self, rent_id: int, *, allow_closed: bool = False) -> bool:
        """Close a rent (status 2); return whether this call closed it.

        :param rent_id: the rent id.
        :param allow_closed: return ``False`` instead of raising when it is already closed.
        """
        try:
            self.client.close_rent(rent_id)
        except RENT_ALREADY_CLOSED:
            if not allow_closed:
                raise
            return False
        return True

    def is_activation_closed(self, activation_id: int) -> bool:
        """Return whether ``getStatus`` reports the activation as closed (``STATUS_CANCEL``).

        :param activation_id: the activation id.
        """
        return self.client.get_status(activation_id).state is ActivationState.CANCEL

    def _close(
        self, activation_id: int, close: Callable[[int], SetStatusReply], allow_closed: bool
    ) -> SetStatusReply | None:
        try:
            return close(activation_id)
        except ACTIVATION_MAYBE_CLOSED:
            if allow_closed and self.is_activation_closed(activation_id):
                return None
            raise

    # --- connection test and form -----------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and the base URL with one real ``getBalance``; never show the key."""
        try:
            client = self._new_client(retry=_TEST_RETRY)
        except AirflowException as error:
            return False, str(error)
        with client:
            try:
                balance = client.get_balance()
            except BadKeyError:
                return False, "The server rejected the API key (BAD_KEY): check the connection's password."
            except NetworkError as error:
                return False, f"Cannot reach {client.base_url}: {error.message}"
            except OnlineSimError as error:
                return False, f"The server at {client.base_url} answered with an error: {error.message}"
        return True, f"Connected. Balance: {balance.amount}"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the extra form fields for Airflow 2.11-3.1 (built from ``CONN_FIELDS``)."""
        # Airflow 2.x web server packages, absent from Airflow 3 installs.
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget  # type: ignore[import-not-found]
        from flask_babel import lazy_gettext  # type: ignore[import-not-found]
        from wtforms import IntegerField, StringField  # type: ignore[import-untyped, unused-ignore]
        from wtforms.validators import AnyOf, NumberRange, Optional  # type: ignore[import-untyped, unused-ignore]

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            schema = spec["schema"]
            kind = IntegerField if "integer" in schema["type"] else StringField
            validators: list[Any] = [Optional()]
            if "enum" in schema:
                validators.append(AnyOf(schema["enum"]))
            if "minimum" in schema and kind is IntegerField:
                validators.append(NumberRange(min=schema["minimum"]))
            widgets[name] = kind(
                lazy_gettext(spec["label"]),
                widget=BS3TextFieldWidget(),
                description=spec.get("description", ""),
                validators=validators,
                default=schema.get("default"),
            )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return the standard fields' behaviour for Airflow 2.11-3.1 (from ``UI_FIELD_BEHAVIOUR``)."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}
