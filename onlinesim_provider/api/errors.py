"""Typed errors of the OnlineSIM Alternative API: one root, one class per error token.

Each error carries the protocol ``token``, the HTTP ``status_code`` and the raw ``body``; whether
it is worth retrying is a property of its class (``retryable``). :func:`error_for_token` maps a
token to its class. No error holds the API key: they are built from scrubbed bodies and messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import ValidationError

__all__ = [
    "OnlineSimError",
    "TransientError",
    "FatalError",
    "InvalidInputError",
    "ProtocolError",
    "NetworkError",
    "CertificateVerifyError",
    "RateLimitedError",
    "ServerError",
    "HttpStatusError",
    "OutcomeUnknownError",
    "BadKeyError",
    "BadActionError",
    "ErrorSqlError",
    "NoNumbersError",
    "NoBalanceError",
    "BadServiceError",
    "BannedError",
    "BadStatusError",
    "NoActivationError",
    "WrongActivationIdError",
    "EarlyCancelDeniedError",
    "NoIdRentError",
    "InvalidPhoneError",
    "IncorrectStatusError",
    "CantCancelError",
    "AlreadyFinishError",
    "AlreadyCancelError",
    "RentClosedError",
    "UnknownApiError",
    "TOKEN_ERRORS",
    "ACTIVATION_MAYBE_CLOSED",
    "RENT_ALREADY_CLOSED",
    "error_for_token",
    "invalid_input",
]


class OnlineSimError(Exception):
    """Root of every error raised by the OnlineSIM client.

    :param message: human-readable description (never contains the API key).
    :param token: the protocol error token, e.g. ``NO_NUMBERS``; ``None`` for transport errors.
    :param status_code: the HTTP status of the reply, ``None`` when no reply arrived.
    :param body: the raw reply body (possibly truncated to 2,000 characters), ``""`` if none.
    """

    retryable: ClassVar[bool] = False
    default_token: ClassVar[str | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        token: str | None = None,
        status_code: int | None = None,
        body: str = "",
    ) -> None:
        self.token = token if token is not None else self.default_token
        self.status_code = status_code
        self.body = body[:2000]
        self.message = message or self._default_message()
        super().__init__(self.message)

    def _default_message(self) -> str:
        parts = [self.__doc__.strip().splitlines()[0] if self.__doc__ else type(self).__name__]
        if self.token:
            parts.append(f"token={self.token}")
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, token={self.token!r}, status_code={self.status_code!r})"
        )


class TransientError(OnlineSimError):
    """A failure that may go away by itself; safe to retry for idempotent reads."""

    retryable = True


class FatalError(OnlineSimError):
    """A failure that retrying cannot fix."""


class InvalidInputError(FatalError, ValueError):
    """A caller-supplied value was rejected before anything was sent."""


class ProtocolError(TransientError):
    """The server's reply could not be understood (garbage, HTML, empty or truncated body)."""


class NetworkError(TransientError):
    """The request failed in transport: connection refused/reset, timeout, DNS."""

    def __init__(
        self,
        message: str | None = None,
        *,
        maybe_sent: bool = True,
        token: str | None = None,
        status_code: int | None = None,
        body: str = "",
    ) -> None:
        #: True when the request may have reached the server; False only when it surely did not
        #: (a connect failure), which makes even a paid order safe to send again.
        self.maybe_sent = maybe_sent
        super().__init__(message, token=token, status_code=status_code, body=body)


class CertificateVerifyError(FatalError):
    """The server's TLS certificate was refused, so nothing was sent; retrying cannot fix it.

    The message names the reason (e.g. ``certificate verify failed: self-signed certificate``).
    Like a connect failure, it proves the request never reached the server.
    """

    #: The request surely never reached the server (as :attr:`NetworkError.maybe_sent` False says).
    maybe_sent: ClassVar[bool] = False


class RateLimitedError(TransientError):
    """The server answered HTTP 429: too many requests."""

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        token: str | None = None,
        status_code: int | None = 429,
        body: str = "",
    ) -> None:
        #: seconds the server asked us to wait (``Retry-After``), when it said so.
        self.retry_after = retry_after
        super().__init__(message, token=token, status_code=status_code, body=body)


class ServerError(TransientError):
    """The server answered with an HTTP 5xx status."""


class HttpStatusError(FatalError):
    """The server answered an HTTP status the API does not use, without an API reply.

    A redirect or a 4xx page instead of a token usually means ``base_url`` points at the wrong
    place; retrying cannot fix that.
    """


class OutcomeUnknownError(FatalError):
    """A paid order was sent but its outcome is unknown; it was deliberately not re-sent.

    Reconcile (``get_rent_list`` for rents) or check the OnlineSIM dashboard before ordering
    again: sending the order twice could buy two numbers.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        action: str = "",
        cause: OnlineSimError | None = None,
    ) -> None:
        self.action = action
        self.cause = cause
        super().__init__(
            message,
            token=cause.token if cause else None,
            status_code=cause.status_code if cause else None,
            body=cause.body if cause else "",
        )


# --- one class per protocol token -------------------------------------------------------------


class BadKeyError(FatalError):
    """The API key is invalid or missing (BAD_KEY)."""

    default_token = "BAD_KEY"


class BadActionError(FatalError):
    """The server did not handle the action (BAD_ACTION)."""

    default_token = "BAD_ACTION"


class ErrorSqlError(TransientError):
    """Server-side database failure (ERROR_SQL); transient."""

    default_token = "ERROR_SQL"


class NoNumbersError(FatalError):
    """No numbers are available for this country and service right now (NO_NUMBERS)."""

    default_token = "NO_NUMBERS"


class NoBalanceError(FatalError):
    """The account balance is too low for this order (NO_BALANCE)."""

    default_token = "NO_BALANCE"


class BadServiceError(FatalError):
    """The service code is not known to the server (BAD_SERVICE)."""

    default_token = "BAD_SERVICE"


class BannedError(FatalError):
    """The account is banned until the given time (BANNED:<datetime>)."""

    default_token = "BANNED"

    def __init__(
        self,
        message: str | None = None,
        *,
        until: str = "",
        token: str | None = None,
        status_code: int | None = None,
        body: str = "",
    ) -> None:
        self.until = until
        super().__init__(message, token=token, status_code=status_code, body=body)


class BadStatusError(FatalError):
    """The status value is not accepted for this operation (BAD_STATUS)."""

    default_token = "BAD_STATUS"


class NoActivationError(FatalError):
    """No activation with this id exists on this account (NO_ACTIVATION)."""

    default_token = "NO_ACTIVATION"


class WrongActivationIdError(FatalError):
    """The activation id is malformed (WRONG_ACTIVATION_ID)."""

    default_token = "WRONG_ACTIVATION_ID"


class EarlyCancelDeniedError(FatalError):
    """The activation cannot be cancelled this early (EARLY_CANCEL_DENIED)."""

    default_token = "EARLY_CANCEL_DENIED"


class NoIdRentError(FatalError):
    """No rent with this id exists on this account (NO_ID_RENT)."""

    default_token = "NO_ID_RENT"


class InvalidPhoneError(FatalError):
    """The rent id or phone is invalid (INVALID_PHONE)."""

    default_token = "INVALID_PHONE"


class IncorrectStatusError(FatalError):
    """The rent status value is not accepted (INCORECT_STATUS, sic)."""

    default_token = "INCORECT_STATUS"


class CantCancelError(FatalError):
    """The rent cannot be cancelled (CANT_CANCEL)."""

    default_token = "CANT_CANCEL"


class AlreadyFinishError(FatalError):
    """The rent is already finished (ALREADY_FINISH)."""

    default_token = "ALREADY_FINISH"


class AlreadyCancelError(FatalError):
    """The rent is already cancelled (ALREADY_CANCEL)."""

    default_token = "ALREADY_CANCEL"


class RentClosedError(FatalError):
    """The rent is closed: cancelled or finished (STATUS_CANCEL / STATUS_FINISH)."""


class UnknownApiError(FatalError):
    """The server answered with an error token this client does not know."""


#: The class of each error token the spec defines.
TOKEN_ERRORS: dict[str, type[OnlineSimError]] = {
    cls.default_token: cls
    for cls in (*FatalError.__subclasses__(), *TransientError.__subclasses__())
    if cls.default_token
}

#: What closing an activation answers when it may already be closed; ``getStatus`` tells for sure.
ACTIVATION_MAYBE_CLOSED: tuple[type[OnlineSimError], ...] = (BadStatusError, NoActivationError)
#: What closing (or reading) a rent answers when it is already finished or cancelled.
RENT_ALREADY_CLOSED: tuple[type[OnlineSimError], ...] = (
    AlreadyFinishError,
    AlreadyCancelError,
    RentClosedError,
)


def error_for_token(token: str, *, status_code: int | None = None, body: str = "") -> OnlineSimError:
    """Return the typed error for a protocol error ``token`` (unknown tokens: UnknownApiError)."""
    if token.startswith("BANNED:"):
        return BannedError(
            f"account banned until {token[7:]}",
            until=token[7:],
            token="BANNED",
            status_code=status_code,
            body=body,
        )
    if token in ("STATUS_CANCEL", "STATUS_FINISH"):
        return RentClosedError(f"rent is closed ({token})", token=token, status_code=status_code, body=body)
    cls = TOKEN_ERRORS.get(token, UnknownApiError)
    message = None if cls is not UnknownApiError else f"unknown error token {token!r}"
    return cls(message, token=token, status_code=status_code, body=body)


def invalid_input(error: ValidationError, names: Sequence[str] = ()) -> InvalidInputError:
    """Return the :class:`InvalidInputError` for pydantic's ``error``: the value and what was expected.

    :param error: a failed validation of arguments or settings.
    :param names: the names of positional arguments (pydantic locates those by their index).
    """
    problem = error.errors(include_url=False)[0]
    where = [names[part] if isinstance(part, int) and part < len(names) else part for part in problem["loc"]]
    name, value = ".".join(map(str, where)) or (names[0] if names else "value"), problem.get("input")
    if "argument" in problem["type"]:  # missing, unexpected or repeated: nothing to show
        return InvalidInputError(f"{name}: {problem['msg']}")
    shown = f"{value!r} ({type(value).__name__})"
    if name == "api_key":
        shown = f"a {type(value).__name__}; its value is not shown" if value else "no API key"
    must = f"must be {problem['msg']}" if problem["type"] == "expected" else f"is invalid: {problem['msg']}"
    return InvalidInputError(f"{name} {must}, got {shown}")
