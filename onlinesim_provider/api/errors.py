"""Typed errors of the OnlineSIM Alternative API: one root, one class per error token.

Each error carries the protocol ``token``, the HTTP ``status_code`` and the raw ``body``; whether
it is worth retrying is a property of its class (``retryable``). No error holds the API key: they
are built from scrubbed bodies and messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import ValidationError

#: The class of each error token the spec defines (a class names its token as a class keyword).
TOKEN_ERRORS: dict[str, type[OnlineSimError]] = {}


class OnlineSimError(Exception):
    """Root of every error raised by the OnlineSIM client.

    :param message: human-readable description (never contains the API key); by default the
        class's summary, its token and the HTTP status.
    :param details: values of the error's attributes: ``token``, ``status_code``, ``body`` and
        those its class adds (such as :attr:`NetworkError.maybe_sent`).
    """

    retryable: ClassVar[bool] = False
    #: The protocol error token, e.g. ``NO_NUMBERS``; ``None`` for transport errors.
    token: str | None = None
    #: The HTTP status of the reply, ``None`` when no reply arrived.
    status_code: int | None = None
    #: The raw reply body (cut to 2,000 characters), ``""`` if none.
    body: str = ""

    def __init_subclass__(cls, token: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if token is not None:
            cls.token = token
            TOKEN_ERRORS[token] = cls

    def __init__(self, message: str | None = None, **details: Any) -> None:
        for name, value in details.items():
            if name.startswith("_") or not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no attribute {name!r}")
            setattr(self, name, value)
        self.body = self.body[:2000]
        summary = (self.__doc__ or type(self).__name__).strip().splitlines()[0]
        status = None if self.status_code is None else f"HTTP {self.status_code}"
        self.message = message or " ".join(
            filter(None, (summary, self.token and f"token={self.token}", status))
        )
        super().__init__(self.message)

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
    """The request failed in transport: connection refused/reset, timeout, DNS.

    :param maybe_sent: False only when the request surely did not reach the server (a connect
        failure), which makes even a paid order safe to send again.
    """

    maybe_sent: bool = True


class CertificateVerifyError(FatalError):
    """The server's TLS certificate was refused, so nothing was sent; retrying cannot fix it.

    The message names the reason (e.g. ``certificate verify failed: self-signed certificate``).
    """

    #: The request surely never reached the server (as :attr:`NetworkError.maybe_sent` False says).
    maybe_sent: ClassVar[bool] = False


class RateLimitedError(TransientError):
    """The server answered HTTP 429: too many requests.

    :param retry_after: seconds the server asked us to wait (``Retry-After``), when it said so.
    """

    status_code = 429
    retry_after: float | None = None


class ServerError(TransientError):
    """The server answered with an HTTP 5xx status."""


class HttpStatusError(FatalError):
    """The server answered an HTTP status the API does not use (a redirect, a 4xx page): check base_url."""


class OutcomeUnknownError(FatalError):
    """A paid order was sent but its outcome is unknown; it was deliberately not re-sent.

    Reconcile (``get_rent_list`` for rents) or check the OnlineSIM dashboard before ordering
    again: sending the order twice could buy two numbers.

    :param action: the API action, such as ``getNumber``.
    :param cause: the error of the attempt whose outcome is unknown.
    """

    action: str = ""
    cause: OnlineSimError | None = None

    def __init__(self, message: str | None = None, **details: Any) -> None:
        if (cause := details.get("cause")) is not None:
            details = {"token": cause.token, "status_code": cause.status_code, "body": cause.body, **details}
        super().__init__(message, **details)


class BadKeyError(FatalError, token="BAD_KEY"):
    """The API key is invalid or missing (BAD_KEY)."""


class BadActionError(FatalError, token="BAD_ACTION"):
    """The server did not handle the action (BAD_ACTION)."""


class ErrorSqlError(TransientError, token="ERROR_SQL"):
    """Server-side database failure (ERROR_SQL); transient."""


class NoNumbersError(FatalError, token="NO_NUMBERS"):
    """No numbers are available for this country and service right now (NO_NUMBERS)."""


class NoBalanceError(FatalError, token="NO_BALANCE"):
    """The account balance is too low for this order (NO_BALANCE)."""


class BadServiceError(FatalError, token="BAD_SERVICE"):
    """The service code is not known to the server (BAD_SERVICE)."""


class BannedError(FatalError, token="BANNED"):
    """The account is banned until the given time (BANNED:<datetime>).

    :param until: when the ban ends, as the server wrote it.
    """

    until: str = ""


class BadStatusError(FatalError, token="BAD_STATUS"):
    """The status value is not accepted for this operation (BAD_STATUS)."""


class NoActivationError(FatalError, token="NO_ACTIVATION"):
    """No activation with this id exists on this account (NO_ACTIVATION)."""


class WrongActivationIdError(FatalError, token="WRONG_ACTIVATION_ID"):
    """The activation id is malformed (WRONG_ACTIVATION_ID)."""


class EarlyCancelDeniedError(FatalError, token="EARLY_CANCEL_DENIED"):
    """The activation cannot be cancelled this early (EARLY_CANCEL_DENIED)."""


class NoIdRentError(FatalError, token="NO_ID_RENT"):
    """No rent with this id exists on this account (NO_ID_RENT)."""


class InvalidPhoneError(FatalError, token="INVALID_PHONE"):
    """The rent id or phone is invalid (INVALID_PHONE)."""


class IncorrectStatusError(FatalError, token="INCORECT_STATUS"):
    """The rent status value is not accepted (INCORECT_STATUS, sic)."""


class CantCancelError(FatalError, token="CANT_CANCEL"):
    """The rent cannot be cancelled (CANT_CANCEL)."""


class AlreadyFinishError(FatalError, token="ALREADY_FINISH"):
    """The rent is already finished (ALREADY_FINISH)."""


class AlreadyCancelError(FatalError, token="ALREADY_CANCEL"):
    """The rent is already cancelled (ALREADY_CANCEL)."""


class RentClosedError(FatalError):
    """The rent is closed: cancelled or finished (STATUS_CANCEL / STATUS_FINISH)."""


class UnknownApiError(FatalError):
    """The server answered with an error token this client does not know."""


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
        until = token.removeprefix("BANNED:")
        return BannedError(f"account banned until {until}", until=until, status_code=status_code, body=body)
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


#: The public names: every error class, the token table, the closed-order answers and the two functions.
__all__ = [
    *(
        name
        for name, value in list(globals().items())
        if isinstance(value, type) and issubclass(value, OnlineSimError)
    ),
    "TOKEN_ERRORS",
    "ACTIVATION_MAYBE_CLOSED",
    "RENT_ALREADY_CLOSED",
    "error_for_token",
    "invalid_input",
]
