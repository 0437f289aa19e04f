"""Reply bodies of the sandbox: text tokens, JSON documents, and errors as each dialect writes them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from onlinesim_provider.sandbox.config import SandboxConfig

__all__ = ["COMMON_ERRORS", "JSON_ACTIONS", "JSON_TYPE", "TEXT_TYPE", "Reply", "answer", "error"]

#: Actions answering JSON (errors in the ``{"status": "error", ...}`` envelope); the others answer
#: text tokens.
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
#: The errors the API overview lists "for all API methods in TXT format".
COMMON_ERRORS = frozenset({"BAD_KEY", "BAD_ACTION"})
TEXT_TYPE = "text/plain; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


class Reply(NamedTuple):
    """One HTTP reply: status code, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def answer(document: Any) -> Reply:
    """Return a 200 reply: a text token as it is, anything else as compact JSON (Decimals as numbers).

    :param document: a text token such as ``ACCESS_BALANCE:10.00``, or a JSON-able document.
    """
    if isinstance(document, str):
        return Reply(200, TEXT_TYPE, document.encode())
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=float)
    return Reply(200, JSON_TYPE, body.encode())


def error(action: str | None, token: str, config: SandboxConfig) -> Reply:
    """Return ``token`` as ``action`` answers errors: a text token, or the JSON envelope.

    JSON actions answer the envelope ``{"status": "error", "<error_key>": token}``, except for
    ``BAD_KEY`` and ``BAD_ACTION``, which are text on every action unless ``common_errors`` is
    ``"json"``.

    :param action: the ``action`` parameter of the request.
    :param token: the error token.
    :param config: the settings in force.
    """
    if action not in JSON_ACTIONS or (token in COMMON_ERRORS and config.common_errors == "text"):
        return answer(token)
    return answer({"status": "error", config.error_key: token})
