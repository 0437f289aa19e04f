"""Reply bodies of the sandbox: text tokens, JSON documents and the JSON error envelope."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NamedTuple

__all__ = ["JSON_ACTIONS", "TEXT_ACTIONS", "Reply", "envelope", "is_json_action", "json_reply", "text"]

#: Actions answering plain text tokens.
TEXT_ACTIONS = frozenset({"getBalance", "getNumber", "getStatus", "getFullSms", "setStatus"})
#: Actions answering JSON (errors in the ``{"status": "error", ...}`` envelope).
JSON_ACTIONS = frozenset(
    {
        "getCountries",
        "getNumbersStatus",
        "getRentServicesAndCountries",
        "getRentNumber",
        "getRentList",
        "getRentStatus",
        "setRentStatus",
    }
)

TEXT_TYPE = "text/plain; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


class Reply(NamedTuple):
    """One HTTP reply: status code, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def is_json_action(action: str | None) -> bool:
    """Return True when ``action`` answers JSON rather than a text token.

    :param action: the ``action`` parameter of the request.
    """
    return action in JSON_ACTIONS


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def text(token: str) -> Reply:
    """Return a 200 plain-text reply.

    :param token: the body, e.g. ``ACCESS_BALANCE:10.00``.
    """
    return Reply(200, TEXT_TYPE, token.encode())


def json_reply(document: object) -> Reply:
    """Return a 200 JSON reply (Decimals become JSON numbers).

    :param document: the JSON-able document.
    """
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_default)
    return Reply(200, JSON_TYPE, body.encode())


def envelope(token: str, error_key: str) -> Reply:
    """Return the JSON error envelope ``{"status": "error", "<error_key>": token}``.

    :param token: the error token.
    :param error_key: ``"msg"`` (OnlineSIM) or ``"message"`` (SMS-Activate).
    """
    return json_reply({"status": "error", error_key: token})


def error(action: str | None, token: str, error_key: str) -> Reply:
    """Return ``token`` as the error reply of ``action``: text, or the envelope for JSON actions.

    :param action: the ``action`` parameter of the request.
    :param token: the error token.
    :param error_key: the envelope key for JSON actions.
    """
    return envelope(token, error_key) if is_json_action(action) else text(token)
