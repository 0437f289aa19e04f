"""Airflow hook for OnlineSIM's Alternative API: a thin wrapper around the client.

:class:`OnlineSimHook` builds the client from an ``onlinesim`` connection on first use and exposes
it as ``hook.client``, as the Slack hook exposes its SDK; it adds only closing helpers that accept
an order already closed, the connection test and the form. :func:`airflow_error` is the one place
an API error becomes an Airflow exception.
"""

from __future__ import annotations

import contextlib
import os
from functools import cached_property
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
from onlinesim_provider.api.retry import RetryPolicy
from onlinesim_provider.get_provider_info import (
    CONN_FIELDS,
    CONN_TYPE,
    DEFAULT_CONN_ID,
    HOOK_NAME,
    UI_FIELD_BEHAVIOUR,
)
from onlinesim_provider.hooks.settings import client_settings, get_async_client
from onlinesim_provider.metrics import NUMBER_CANCELLED, RENT_CLOSED, RENT_SERVICE, Labels, count
from onlinesim_provider.metrics import error as count_error

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from onlinesim_provider.api.aio import AsyncOnlineSimClient
    from onlinesim_provider.api.models import SetStatusReply

__all__ = ["OnlineSimHook", "airflow_error", "airflow_errors"]

#: The connection test answers at once: one attempt, no backoff.
_TEST_RETRY = RetryPolicy(max_attempts=1)


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
def airflow_errors(doing: str, labels: Labels | None = None) -> Iterator[None]:
    """Re-raise any API error inside the block as the Airflow exception :func:`airflow_error` picks.

    The error is counted in the ``onlinesim.error`` metric first.

    :param doing: what the block does, used as the start of the message.
    :param labels: the metric labels of the order the block is about, if known.
    """
    try:
        yield
    except OnlineSimError as error:
        count_error(error, (labels or Labels()).with_dag())
        raise airflow_error(error, doing) from error


def _unloadable(conn_id: str) -> str | None:
    """Return why Airflow did not load a connection its ``AIRFLOW_CONN_*`` variable defines, if so.

    Airflow's lookup treats a connection it cannot read (a URI it cannot parse, a password it
    cannot encrypt) as not defined; its environment backend, asked directly, raises the reason.
    """
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend

    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    try:
        EnvironmentVariablesBackend().get_connection(conn_id)
    except Exception as error:  # the message may quote the value, key included: name the variable
        reason = f"{type(error).__name__}: {error}".replace(value, variable)
        return f"Connection {conn_id!r} is set in {variable}, but Airflow cannot load it: {reason}"
    return None


class OnlineSimHook(BaseHook):
    """Interact with OnlineSIM's Alternative API through an ``onlinesim`` connection.

    The connection's password is the API key, its host the base URL (default
    ``https://api-conserver.onlinesim.io``); extras ``auth``, ``timeout``, ``cancel_status``,
    ``rent_close_status``, ``proxies`` and ``verify`` tune the client. The client is built on
    first use; call the API on it.

    .. code-block:: python

        hook = OnlineSimHook()
        activation = hook.client.get_number("tg", country="7")
        hook.cancel_activation(activation.id, allow_closed=True)

    :param onlinesim_conn_id: the ``onlinesim`` connection to use.
    """

    conn_name_attr = "onlinesim_conn_id"
    default_conn_name = DEFAULT_CONN_ID
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
        conn_id = self.onlinesim_conn_id
        try:
            conn = self.get_connection(conn_id)
            settings = client_settings(conn)  # reading the password decrypts it
        except AirflowNotFoundException:  # a missing connection stays missing: no retry
            raise AirflowFailException(
                _unloadable(conn_id)
                or f"Connection {conn_id!r} is not defined: expected an 'onlinesim' connection "
                "(password = API key) in Airflow, an AIRFLOW_CONN_* variable or a secrets backend."
            ) from None
        except AirflowFailException:
            raise
        except Exception as error:  # Airflow could not read it, such as a password it cannot decrypt
            raise AirflowException(
                f"Airflow could not load connection {conn_id!r}: {type(error).__name__}: {error}"
            ) from None
        mask_secret(settings.api_key)
        try:
            return OnlineSimClient(**settings.model_dump(exclude_unset=True), retry=retry)
        except InvalidInputError as error:  # e.g. a CA bundle that cannot be loaded
            raise AirflowFailException(f"Connection {conn.conn_id!r}: {error.message}") from None

    def get_conn(self) -> OnlineSimClient:
        """Return the client (Airflow's generic hook entry point)."""
        return self.client

    async def get_async_client(self, **kwargs: Any) -> AsyncOnlineSimClient:
        """Return an async client of this connection, without blocking the event loop.

        The same as the module's :func:`get_async_client` for :attr:`onlinesim_conn_id`; triggers
        call that function directly, so that the triggerer never imports this sync hook.

        :param kwargs: passed on, e.g. the event loop's shared ``http_client``.
        """
        return await get_async_client(self.onlinesim_conn_id, **kwargs)

    # --- closing helpers: an order already closed is no error where the caller says so ----------

    def complete_activation(self, activation_id: int, *, allow_closed: bool = False) -> SetStatusReply | None:
        """Close an activation whose code was used (status 6).

        :param activation_id: the activation id.
        :param allow_closed: return ``None`` instead of raising when it is already closed.
        """
        return self._close(activation_id, self.client.complete_activation, allow_closed)

    def cancel_activation(
        self, activation_id: int, *, allow_closed: bool = False, labels: Labels | None = None
    ) -> SetStatusReply | None:
        """Cancel an activation so its money comes back (status 6 or 8, per connection).

        With ``allow_closed=True`` (cleanup), an activation the server reports as already closed
        gives ``None``; any other error, including a refusal to cancel an open activation, is
        raised. A cancel that took effect is counted in ``onlinesim.number.cancelled``.

        :param activation_id: the activation id.
        :param allow_closed: return ``None`` instead of raising when it is already closed.
        :param labels: the order's metric labels (service, country), if known.
        """
        reply = self._close(activation_id, self.client.cancel_activation, allow_closed)
        if reply is not None:
            count(NUMBER_CANCELLED, (labels or Labels()).with_dag())
        return reply

    def close_rent(
        self,
        rent_id: int,
        *,
        allow_closed: bool = False,
        status: int | None = None,
        labels: Labels | None = None,
    ) -> bool:
        """Close a rent (status ``rent_close_status``, 2 by default); return whether this call closed it.

        A close that took effect is counted in ``onlinesim.rent.closed``.

        :param rent_id: the rent id.
        :param allow_closed: return ``False`` instead of raising when it is already closed.
        :param status: a ``setRentStatus`` value to send instead of the connection's close status
            (1 finishes a rent on SMS-Activate-style servers).
        :param labels: the rent's metric labels (country), if known.
        """
        try:
            if status is None:
                self.client.close_rent(rent_id)
            else:
                self.client.set_rent_status(rent_id, status)
        except RENT_ALREADY_CLOSED:
            if not allow_closed:
                raise
            return False
        count(RENT_CLOSED, (labels or Labels(service=RENT_SERVICE)).with_dag())
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
