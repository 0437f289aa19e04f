"""The wire protocol of the OnlineSIM Alternative API, with no I/O.

For each action there is one function that validates the caller's input and builds the query
parameters (``<action>_params``), and one that turns a reply body into a model or raises the
typed error (``parse_<action>``). :func:`status_error` classifies an HTTP status before parsing.

The parsers are lenient wherever the spec leaves the format open: errors arrive as bare tokens or
as a JSON envelope keyed ``msg`` or ``message``; numbers may be strings; ``values`` may be an
object keyed ``"0"``, ``"1"``... or a list; missing or malformed dates become ``None``. Anything
that is not an API reply (HTML, garbage, empty, truncated) raises :class:`ProtocolError`, which
keeps the raw body.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from onlinesim_provider.api.errors import (
    TOKEN_ERRORS,
    HttpStatusError,
    InvalidInputError,
    OnlineSimError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    error_for_token,
)
from onlinesim_provider.api.models import (
    Activation,
    ActivationState,
    ActivationStatus,
    Balance,
    Country,
    FullSms,
    Rent,
    RentMessage,
    RentOffer,
    RentService,
    RentStatus,
    ServiceStock,
    SetStatusCode,
    SetStatusReply,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

__all__ = [
    "DEFAULT_BASE_URL",
    "HANDLER_PATH",
    "MAX_RENT_HOURS",
    "ACTIVATION_STATUSES",
    "RENT_STATUSES",
    "Params",
    "get_balance_params",
    "get_countries_params",
    "get_numbers_status_params",
    "get_number_params",
    "get_status_params",
    "get_full_sms_params",
    "set_status_params",
    "get_rent_services_and_countries_params",
    "get_rent_number_params",
    "get_rent_list_params",
    "get_rent_status_params",
    "set_rent_status_params",
    "parse_get_balance",
    "parse_get_countries",
    "parse_get_numbers_status",
    "parse_get_number",
    "parse_get_status",
    "parse_get_full_sms",
    "parse_set_status",
    "parse_get_rent_services_and_countries",
    "parse_get_rent_number",
    "parse_get_rent_list",
    "parse_get_rent_status",
    "parse_set_rent_status",
    "parse_retry_after",
    "status_error",
]

DEFAULT_BASE_URL = "https://api-conserver.onlinesim.io"
HANDLER_PATH = "/stubs/handler_api.php"
#: Longest rent period accepted, in hours (one year).
MAX_RENT_HOURS = 24 * 365
#: ``status`` values ``setStatus`` accepts (8 only on SMS-Activate-style servers).
ACTIVATION_STATUSES = frozenset(int(code) for code in SetStatusCode)
#: ``status`` values ``setRentStatus`` accepts: 2 closes (OnlineSIM); 1 finishes on SMS-Activate.
RENT_STATUSES = frozenset({1, 2})

Params = dict[str, str]
T = TypeVar("T")

_KEY = re.compile(r"[!-~]{1,64}")  # printable ASCII, no spaces
_TOKEN = re.compile(r"[A-Z][A-Z0-9_]*(?::[^\r\n<>{}]*)?")
_INT = re.compile(r"[+-]?\d+")
_ACTIVATION_TOKENS = tuple(state.value for state in ActivationState)
_SET_STATUS_TOKENS = tuple(reply.value for reply in SetStatusReply)
#: Every token the protocol defines: a body that is a strict prefix of one was cut short.
_KNOWN_TOKENS = frozenset(
    {"ACCESS_BALANCE", "ACCESS_NUMBER", "FULL_SMS", "STATUS_FINISH", *_ACTIVATION_TOKENS}
    | set(_SET_STATUS_TOKENS)
    | set(TOKEN_ERRORS)
)


# --- input validation ---------------------------------------------------------------------------


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def _id(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be an int >= 1, got {_describe(value)}")
    return str(value)


def _code(name: str, value: object, expected: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise InvalidInputError(
            f"{name} must be {expected}: 1-64 printable characters without spaces, got {_describe(value)}"
        )
    return value


def _optional(params: Params, country: object, operator: object) -> Params:
    if country is not None:
        params["country"] = _code("country", country, "a country key from get_countries()")
    if operator is not None:
        params["operator"] = _code("operator", operator, "an operator name")
    return params


def _hours(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RENT_HOURS:
        raise InvalidInputError(f"hours must be an int from 1 to {MAX_RENT_HOURS}, got {_describe(value)}")
    return str(value)


def _status(value: object, allowed: frozenset[int]) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or int(value) not in allowed:
        raise InvalidInputError(f"status must be one of {sorted(allowed)}, got {_describe(value)}")
    return str(int(value))


# --- query parameters, one builder per action ---------------------------------------------------


def get_balance_params() -> Params:
    """Build the query of ``getBalance``."""
    return {"action": "getBalance"}


def get_countries_params() -> Params:
    """Build the query of ``getCountries``."""
    return {"action": "getCountries"}


def get_numbers_status_params(country: str | int | None = None, operator: str | None = None) -> Params:
    """Build the query of ``getNumbersStatus``.

    :param country: country key from ``getCountries``; the server's default when omitted.
    :param operator: operator name; any operator when omitted.
    """
    return _optional({"action": "getNumbersStatus"}, country, operator)


def get_number_params(service: str, country: str | int | None = None, operator: str | None = None) -> Params:
    """Build the query of ``getNumber`` (a paid order).

    :param service: service code such as ``tg``, passed through unchanged.
    :param country: country key from ``getCountries``.
    :param operator: operator name.
    """
    params = {"action": "getNumber", "service": _code("service", service, "a service code such as 'tg'")}
    return _optional(params, country, operator)


def get_status_params(activation_id: int) -> Params:
    """Build the query of ``getStatus``.

    :param activation_id: id from ``getNumber``.
    """
    return {"action": "getStatus", "id": _id("activation_id", activation_id)}


def get_full_sms_params(activation_id: int) -> Params:
    """Build the query of ``getFullSms``.

    :param activation_id: id from ``getNumber``.
    """
    return {"action": "getFullSms", "id": _id("activation_id", activation_id)}


def set_status_params(activation_id: int, status: int) -> Params:
    """Build the query of ``setStatus``.

    :param activation_id: id from ``getNumber``.
    :param status: one of :data:`ACTIVATION_STATUSES` (a :class:`SetStatusCode`).
    """
    return {
        "action": "setStatus",
        "id": _id("activation_id", activation_id),
        "status": _status(status, ACTIVATION_STATUSES),
    }


def get_rent_services_and_countries_params(
    hours: int | None = None, country: str | int | None = None, operator: str | None = None
) -> Params:
    """Build the query of ``getRentServicesAndCountries``.

    The name of the period parameter is not settled (``time`` or ``rent_time``); this read sends
    both, servers ignore the one they do not know.

    :param hours: rent period in hours; the server's default (one day) when omitted.
    :param country: country key.
    :param operator: operator name.
    """
    params: Params = {"action": "getRentServicesAndCountries"}
    if hours is not None:
        params["time"] = params["rent_time"] = _hours(hours)
    return _optional(params, country, operator)


def get_rent_number_params(country: str | int, hours: int = 1) -> Params:
    """Build the query of ``getRentNumber`` (a paid order; OnlineSIM takes no ``service``).

    :param country: country key from ``getRentServicesAndCountries``.
    :param hours: rent period in hours, rounded up to whole days by the server.
    """
    country_key = _code("country", country, "a country key from get_rent_services_and_countries()")
    return {"action": "getRentNumber", "country": country_key, "time": _hours(hours)}


def get_rent_list_params() -> Params:
    """Build the query of ``getRentList``."""
    return {"action": "getRentList"}


def get_rent_status_params(rent_id: int) -> Params:
    """Build the query of ``getRentStatus``.

    :param rent_id: id from ``getRentNumber``.
    """
    return {"action": "getRentStatus", "id": _id("rent_id", rent_id)}


def set_rent_status_params(rent_id: int, status: int = 2) -> Params:
    """Build the query of ``setRentStatus``.

    :param rent_id: id from ``getRentNumber``.
    :param status: 2 closes the rent (the only value OnlineSIM accepts); 1 finishes on clones.
    """
    return {
        "action": "setRentStatus",
        "id": _id("rent_id", rent_id),
        "status": _status(status, RENT_STATUSES),
    }


# --- HTTP status ----------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (delta-seconds or HTTP date).

    :param value: the header value, ``None`` when absent.
    :param now: the current time for HTTP dates (tests); the system clock when omitted.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _INT.fullmatch(value) or re.fullmatch(r"\d+\.\d*", value):
        return max(0.0, float(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


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


# --- reply parsing: shared steps ------------------------------------------------------------------


def _excerpt(body: str) -> str:
    text = body.strip()
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


def _not_api(what: str, body: str, status_code: int) -> OnlineSimError:
    if 200 <= status_code < 300:
        return ProtocolError(f"{what}: {_excerpt(body)}", status_code=status_code, body=body)
    return HttpStatusError(
        f"HTTP {status_code} without an API reply ({what}): {_excerpt(body)}; is base_url right?",
        status_code=status_code,
        body=body,
    )


def _envelope_token(data: Any) -> str | None:
    """Return the token of a JSON error envelope, ``None`` if ``data`` is not one."""
    if not isinstance(data, dict):
        return None
    token = data.get("msg", data.get("message"))
    is_error = str(data.get("status", "")).lower() == "error"
    bare = "status" not in data and set(data) <= {"msg", "message"}
    if (is_error or bare) and token is not None:
        return str(token).strip()
    if is_error:
        return ""
    return None


def _token_error(token: str, body: str, status_code: int, *, bare: bool) -> OnlineSimError:
    """Return the error for an error token; a bare token that is a strict prefix of one was cut short."""
    if not token:
        return _not_api("error envelope without a token", body, status_code)
    if bare and any(known.startswith(token) and known != token for known in _KNOWN_TOKENS):
        return _not_api("reply cut short", body, status_code)
    return error_for_token(token, status_code=status_code, body=body)


def _unexpected(text: str, body: str, status_code: int) -> OnlineSimError:
    if not text:
        return _not_api("empty reply", body, status_code)
    if _TOKEN.fullmatch(text):
        return _token_error(text, body, status_code, bare=True)
    if text.startswith("<"):
        return _not_api("HTML page instead of an API reply", body, status_code)
    return _not_api("not an API reply", body, status_code)


def _text_reply(body: str, status_code: int, expected: Collection[str]) -> tuple[str, str | None]:
    """Split a text reply into its token and value; raise the typed error unless it is ``expected``."""
    text = body.strip()
    if text.startswith("{"):
        try:
            token = _envelope_token(json.loads(text))
        except ValueError:
            token = None
        if token is not None:
            if token in expected:
                return token, None
            raise _token_error(token, body, status_code, bare=False)
    head, sep, value = text.partition(":")
    if head in expected:
        return head, value if sep else None
    raise _unexpected(text, body, status_code)


def _json_reply(body: str, status_code: int, quiet: Collection[str] = ()) -> tuple[str | None, Any]:
    """Return ``(None, data)`` for a JSON success reply, ``(token, None)`` for a ``quiet`` error.

    Any other error token raises its typed error; a body that is not JSON raises ProtocolError.
    """
    text = body.strip()
    if _TOKEN.fullmatch(text):
        token, bare = text, True
    elif not text.startswith(("{", "[")):
        raise _unexpected(text, body, status_code)
    else:
        try:
            data = json.loads(text)
        except ValueError:
            raise _not_api("truncated or invalid JSON", body, status_code) from None
        envelope = _envelope_token(data)
        if envelope is None:
            return None, data
        token, bare = envelope, False
    if token in quiet:
        return token, None
    raise _token_error(token, body, status_code, bare=bare)


def _shape(action: str, body: str, status_code: int, build: Callable[[], T]) -> T:
    """Run ``build`` over a decoded reply; a missing or malformed field becomes ProtocolError."""
    try:
        return build()
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        raise _not_api(f"malformed {action} reply ({exc})", body, status_code) from exc


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _positive(value: Any) -> int:
    number = _int(value)
    if number < 1:
        raise ValueError(f"expected an id >= 1, got {value!r}")
    return number


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a decimal, got {value!r}")
    number = Decimal(str(value).strip())
    if not number.is_finite():
        raise ValueError(f"expected a finite decimal, got {value!r}")
    return number


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"expected a string, got {value!r}")
    return str(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return _int(value) != 0


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _entries(value: Any) -> list[Any]:
    """Return the items of a ``values``-style field: object keyed "0", "1"... or a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (0, int(key), "") if _INT.fullmatch(key) else (1, 0, key))
        return [value[key] for key in keys]
    raise ValueError(f"expected an object or a list, got {value!r}")


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


# --- reply parsing, one parser per action ---------------------------------------------------------


def parse_get_balance(body: str, status_code: int = 200) -> Balance:
    """Parse ``ACCESS_BALANCE:<decimal>``.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    _, value = _text_reply(body, status_code, ("ACCESS_BALANCE",))
    return _shape("getBalance", body, status_code, lambda: Balance(_decimal(value)))


def _country(key: str | None, value: dict[str, Any]) -> Country:
    country_id = _text(value.get("id", key))
    rus, eng = str(value.get("rus", "")), str(value.get("eng", ""))
    extra = {k: v for k, v in value.items() if k not in ("id", "rus", "eng", "visible", "name")}
    name = str(value.get("name") or eng or rus or country_id)
    return Country(country_id, name, _flag(value.get("visible", 1)), rus, eng, extra)


def parse_get_countries(body: str, status_code: int = 200) -> list[Country]:
    """Parse the JSON country table (object keyed by country id, or a list of objects with ``id``).

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    _, data = _json_reply(body, status_code)

    def build() -> list[Country]:
        items = data.items() if isinstance(data, dict) else ((None, item) for item in _entries(data))
        return [_country(key, value) for key, value in items if isinstance(value, dict)]

    return _shape("getCountries", body, status_code, build)


def _stock(key: str, count: Any) -> ServiceStock:
    service, _, flag = key.rpartition("_")
    if not service or flag not in ("0", "1"):
        return ServiceStock(key, False, _int(count))
    return ServiceStock(service, flag == "1", _int(count))


def parse_get_numbers_status(body: str, status_code: int = 200) -> list[ServiceStock]:
    """Parse ``{"<service>_<0|1>": <count>, ...}``; the flag follows the last underscore.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    _, data = _json_reply(body, status_code)
    return _shape(
        "getNumbersStatus",
        body,
        status_code,
        lambda: [_stock(key, count) for key, count in _object(data).items()],
    )


def parse_get_number(body: str, status_code: int = 200) -> Activation:
    """Parse ``ACCESS_NUMBER:<id>:<phone>``; the phone is kept exactly as given.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    _, value = _text_reply(body, status_code, ("ACCESS_NUMBER",))

    def build() -> Activation:
        activation_id, sep, phone = (value or "").partition(":")
        if not sep or not phone.strip():
            raise ValueError("expected <id>:<phone>")
        return Activation(_positive(activation_id), phone.strip())

    return _shape("getNumber", body, status_code, build)


def parse_get_status(body: str, status_code: int = 200) -> ActivationStatus:
    """Parse ``STATUS_WAIT_CODE``, ``STATUS_OK:<code>``, ``STATUS_WAIT_RETRY:<code>``, ....

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    token, value = _text_reply(body, status_code, _ACTIVATION_TOKENS)
    state = ActivationState(token)
    code = (value or "").strip() or None
    if state is ActivationState.OK and code is None:
        raise _not_api("STATUS_OK without a code", body, status_code)
    keeps_code = state in (ActivationState.OK, ActivationState.WAIT_RETRY)
    return ActivationStatus(state, code if keeps_code else None)


def parse_get_full_sms(body: str, status_code: int = 200) -> FullSms:
    """Parse ``FULL_SMS:<text>`` (split on the first ``:`` only) or a waiting/closed state.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    token, value = _text_reply(body, status_code, ("FULL_SMS", *_ACTIVATION_TOKENS))
    if token == "FULL_SMS":
        return FullSms(ActivationState.OK, value or "")
    return FullSms(ActivationState(token))


def parse_set_status(body: str, status_code: int = 200) -> SetStatusReply:
    """Parse ``ACCESS_READY`` / ``ACCESS_RETRY_GET`` / ``ACCESS_ACTIVATION`` / ``ACCESS_CANCEL``.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    token, _ = _text_reply(body, status_code, _SET_STATUS_TOKENS)
    return SetStatusReply(token)


def _rent_service(code: str, value: Any) -> RentService:
    quant = _object(value).get("quant", 0)
    if isinstance(quant, dict):
        total = quant.get("total")
        return RentService(
            code,
            _decimal(value["cost"]),
            _int(quant.get("current", 0)),
            _int(total) if total is not None else None,
        )
    return RentService(code, _decimal(value["cost"]), _int(quant))


def parse_get_rent_services_and_countries(body: str, status_code: int = 200) -> RentOffer:
    """Parse ``{"countries": ..., "operators": ..., "services": {"<code>": {"cost", "quant"}}}``.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    _, data = _json_reply(body, status_code)

    def build() -> RentOffer:
        offer = _object(data)
        if "countries" not in offer and "services" not in offer:
            raise ValueError("neither 'countries' nor 'services' present")
        services = _object(offer.get("services") or {})
        return RentOffer(
            tuple(_text(country) for country in _entries(offer.get("countries"))),
            tuple(_text(operator) for operator in _entries(offer.get("operators"))),
            tuple(_rent_service(code, value) for code, value in services.items()),
        )

    return _shape("getRentServicesAndCountries", body, status_code, build)


def _rent(value: Any) -> Rent:
    entry = _object(value)
    phone = entry.get("number", entry.get("phone"))
    return Rent(_positive(entry["id"]), _text(phone), _date(entry.get("endDate", entry.get("end_date"))))


def parse_get_rent_number(body: str, status_code: int = 200) -> Rent:
    """Parse ``{"status": "success", "phone": {"id", "endDate", "number"}}``.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    _, data = _json_reply(body, status_code)
    return _shape("getRentNumber", body, status_code, lambda: _rent(_object(data)["phone"]))


def parse_get_rent_list(body: str, status_code: int = 200) -> list[Rent]:
    """Parse ``{"status": "success", "values": ...}``; the ``NO_NUMBERS`` error means no rents.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    token, data = _json_reply(body, status_code, quiet=("NO_NUMBERS",))
    if token is not None:
        return []
    return _shape(
        "getRentList",
        body,
        status_code,
        lambda: [_rent(entry) for entry in _entries(_object(data).get("values"))],
    )


def _rent_message(value: Any) -> RentMessage:
    entry = _object(value)
    return RentMessage(
        _text(entry.get("phoneFrom", "")),
        _text(entry["text"]),
        _text(entry.get("service", "")),
        _date(entry.get("date")),
    )


def parse_get_rent_status(body: str, status_code: int = 200) -> RentStatus:
    """Parse the messages of a rent; ``STATUS_WAIT_CODE`` means none yet.

    ``STATUS_CANCEL`` / ``STATUS_FINISH`` raise :class:`RentClosedError`.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    token, data = _json_reply(body, status_code, quiet=("STATUS_WAIT_CODE",))
    if token is not None:
        return RentStatus(0, ())

    def build() -> RentStatus:
        reply = _object(data)
        messages = tuple(_rent_message(entry) for entry in _entries(reply.get("values")))
        return RentStatus(_int(reply.get("quantity", len(messages))), messages)

    return _shape("getRentStatus", body, status_code, build)


def parse_set_rent_status(body: str, status_code: int = 200) -> None:
    """Parse ``{"status": "success"}``.

    :param body: the reply body.
    :param status_code: the HTTP status of the reply.
    """
    _, data = _json_reply(body, status_code)

    def build() -> None:
        if str(_object(data).get("status", "")).lower() != "success":
            raise ValueError("expected status 'success'")

    _shape("setRentStatus", body, status_code, build)
