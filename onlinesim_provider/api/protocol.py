"""The reply grammar of the OnlineSIM Alternative API, with no I/O.

Replies are text tokens (``STATUS_OK:<code>``) or JSON; errors arrive as bare tokens or as a JSON
envelope keyed ``msg`` or ``message``. :func:`text` and :func:`document` make an action's parser
from what it expects; :func:`status_error` classifies an HTTP status before parsing. Anything that
is not an API reply (HTML, garbage, empty, truncated) raises :class:`ProtocolError` with the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from onlinesim_provider.api.errors import (
    TOKEN_ERRORS,
    HttpStatusError,
    OnlineSimError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    error_for_token,
)
from onlinesim_provider.api.models import ActivationState, SetStatusReply

__all__ = [
    "DEFAULT_BASE_URL",
    "HANDLER_PATH",
    "Parser",
    "document",
    "parse_retry_after",
    "status_error",
    "text",
]

DEFAULT_BASE_URL = "https://api-conserver.onlinesim.io"
HANDLER_PATH = "/stubs/handler_api.php"

T = TypeVar("T")
#: An action's reply parser: ``(body, HTTP status) -> model``, or raise the typed error.
Parser = Callable[[str, int], T]

_TOKEN = re.compile(r"[A-Z][A-Z0-9_]*(?::[^\r\n<>{}]*)?")
#: Every token the protocol defines: a bare body that is a strict prefix of one was cut short.
_KNOWN_TOKENS = frozenset(
    {"ACCESS_BALANCE", "ACCESS_NUMBER", "FULL_SMS", "STATUS_FINISH", *ActivationState, *SetStatusReply}
    | set(TOKEN_ERRORS)
)
#: What a malformed success reply raises while it is read into a model.
_MALFORMED = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (delta-seconds or HTTP date).

    :param value: the header value, ``None`` when absent.
    :param now: the current time for HTTP dates (tests); the system clock when omitted.
    """
    value = (value or "").strip()
    if re.fullmatch(r"[+-]?\d+(\.\d*)?", value):
        return max(0.0, float(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when.replace(tzinfo=when.tzinfo or UTC) - (now or datetime.now(UTC))).total_seconds())


def status_error(
    status_code: int, body: str = "", retry_after: str | None = None, location: str | None = None
) -> OnlineSimError | None:
    """Return the error an HTTP status means by itself, or ``None`` to go on and parse the body.

    429 is :class:`RateLimitedError` (honouring ``Retry-After``), 5xx :class:`ServerError`, and a
    redirect :class:`HttpStatusError`. Other statuses are left to the parser: the API sends its
    errors as tokens, whatever the status.

    :param status_code: the HTTP status of the reply.
    :param body: the reply body.
    :param retry_after: the ``Retry-After`` header, if any.
    :param location: the ``Location`` header, if any.
    """
    if status_code == 429:
        seconds = parse_retry_after(retry_after)
        message = "rate limited (HTTP 429)" + (f"; retry after {seconds:g} s" if seconds is not None else "")
        return RateLimitedError(message, retry_after=seconds, status_code=429, body=body)
    if status_code >= 500:
        return ServerError(f"server error (HTTP {status_code})", status_code=status_code, body=body)
    if 300 <= status_code < 400:
        return HttpStatusError(
            f"HTTP {status_code} redirect to {location or '(no Location)'}; set base_url to the final URL",
            status_code=status_code,
            body=body,
        )
    return None


def _not_api(what: str, body: str, status_code: int) -> OnlineSimError:
    shown = body.strip()
    excerpt = repr(shown[:80] + ("..." if len(shown) > 80 else ""))
    if 200 <= status_code < 300:
        return ProtocolError(f"{what}: {excerpt}", status_code=status_code, body=body)
    return HttpStatusError(
        f"HTTP {status_code} without an API reply ({what}): {excerpt}; is base_url right?",
        status_code=status_code,
        body=body,
    )


def _envelope_token(data: Any) -> str | None:
    """Return the token of a JSON error envelope (``""`` if it has none); ``None`` for other JSON."""
    if not isinstance(data, dict):
        return None
    token = data.get("msg", data.get("message"))
    is_error = str(data.get("status", "")).lower() == "error"
    if (is_error or ("status" not in data and set(data) <= {"msg", "message"})) and token is not None:
        return str(token).strip()
    return "" if is_error else None


def _token_error(token: str, body: str, status_code: int, *, bare: bool) -> OnlineSimError:
    """Return the error for an error token; a bare token that is a strict prefix of one was cut short."""
    if not token:
        return _not_api("error envelope without a token", body, status_code)
    if bare and any(known.startswith(token) and known != token for known in _KNOWN_TOKENS):
        return _not_api("reply cut short", body, status_code)
    return error_for_token(token, status_code=status_code, body=body)


def _unexpected(shown: str, body: str, status_code: int) -> OnlineSimError:
    if not shown:
        return _not_api("empty reply", body, status_code)
    if _TOKEN.fullmatch(shown):
        return _token_error(shown, body, status_code, bare=True)
    what = "HTML page instead of an API reply" if shown.startswith("<") else "not an API reply"
    return _not_api(what, body, status_code)


def _read(build: Callable[[], T], body: str, status_code: int) -> T:
    try:
        return build()
    except _MALFORMED as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, ValidationError):
            first = error.errors(include_url=False)[0]
            reason = f"{'.'.join(map(str, first['loc'])) or 'reply'}: {first['msg']}"
        raise _not_api(f"malformed reply ({reason})", body, status_code) from error


def text(build: Callable[[str, str], T], *expected: str) -> Parser[T]:
    """Return the parser of a text reply ``<token>[:<value>]`` whose token is one of ``expected``.

    :param build: makes the model from the token and the text after its first ``:`` (``""`` if
        none); a ``ValueError`` or ``ValidationError`` it raises means a malformed reply.
    :param expected: the success tokens; any other token raises its typed error.
    """

    def parse(body: str, status_code: int = 200) -> T:
        shown = body.strip()
        if shown.startswith("{"):
            try:
                token = _envelope_token(json.loads(shown))
            except ValueError:
                token = None
            if token is not None:
                if token not in expected:
                    raise _token_error(token, body, status_code, bare=False)
                return _read(lambda: build(token, ""), body, status_code)
        head, _, value = shown.partition(":")
        if head not in expected:
            raise _unexpected(shown, body, status_code)
        return _read(lambda: build(head, value), body, status_code)

    return parse


def document(build: Callable[[Any], T], quiet: dict[str, Callable[[], T]] | None = None) -> Parser[T]:
    """Return the parser of a JSON reply.

    :param build: makes the model from the decoded JSON; a ``ValueError`` (``ValidationError``),
        ``KeyError`` or ``TypeError`` it raises means a malformed reply.
    :param quiet: error tokens that are answers of this action, each with the model it means
        (``NO_NUMBERS`` for an empty rent list); any other token raises its typed error.
    """

    def parse(body: str, status_code: int = 200) -> T:
        shown = body.strip()
        if _TOKEN.fullmatch(shown):
            token, bare = shown, True
        elif not shown.startswith(("{", "[")):
            raise _unexpected(shown, body, status_code)
        else:
            try:
                data = json.loads(shown)
            except ValueError:
                raise _not_api("truncated or invalid JSON", body, status_code) from None
            envelope = _envelope_token(data)
            if envelope is None:
                return _read(lambda: build(data), body, status_code)
            token, bare = envelope, False
        if quiet and token in quiet:
            return quiet[token]()
        raise _token_error(token, body, status_code, bare=bare)

    return parse
