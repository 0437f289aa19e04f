"""The wire protocol over literal reply bodies: every documented form, every error token."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from onlinesim_provider.api import errors, protocol
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
    SetStatusReply,
)
from tests.api.conftest import EXAMPLES, parser

pytestmark = pytest.mark.no_airflow

MSK = timezone(timedelta(hours=3))
END = datetime(2022, 7, 17, 19, 54, 55, tzinfo=MSK)
SMS_DATE = datetime(2021, 2, 2, 14, 46, 49, tzinfo=MSK)

RENT_STATUS_DOC = json.dumps(
    {
        "status": "success",
        "quantity": 1,
        "values": {
            "0": {
                "phoneFrom": "+79089102030",
                "text": "Your code is 070501",
                "service": "twitter",
                "date": "2021-02-02T14:46:49+03:00",
            }
        },
    }
)
DOC_MESSAGE = RentMessage("+79089102030", "Your code is 070501", "twitter", SMS_DATE)

SUCCESS = [
    # getBalance
    pytest.param("getBalance", "ACCESS_BALANCE:123.45", Balance(Decimal("123.45")), id="balance"),
    pytest.param("getBalance", "ACCESS_BALANCE:0\n", Balance(Decimal("0")), id="balance-zero-newline"),
    pytest.param("getBalance", "ACCESS_BALANCE:-1.50", Balance(Decimal("-1.50")), id="balance-debt"),
    pytest.param(
        "getBalance",
        "  ACCESS_BALANCE:1000  ",
        Balance(Decimal("1000")),
        id="balance-whitespace",
    ),
    # getCountries
    pytest.param(
        "getCountries",
        '{"7": {"id": 7, "rus": "Россия", "eng": "Russia", "visible": 1, "retry": "1"},'
        ' "380": {"visible": "0", "rus": "Украина"}}',
        [Country("7", "Russia", True, "Россия", "Russia"), Country("380", "Украина", False, "Украина", "")],
        id="countries-object-ints-as-strings",
    ),
    pytest.param(
        "getCountries",
        '[{"id": "1", "eng": "USA", "visible": true}, {"id": 44, "name": "UK", "visible": false}]',
        [Country("1", "USA", True, "", "USA"), Country("44", "UK", False)],
        id="countries-list",
    ),
    pytest.param("getCountries", "{}", [], id="countries-empty"),
    # getNumbersStatus
    pytest.param(
        "getNumbersStatus",
        '{"tg_0": 158, "wa_0": "90", "vk_1": 3}',
        [ServiceStock("tg", False, 158), ServiceStock("wa", False, 90), ServiceStock("vk", True, 3)],
        id="stock",
    ),
    pytest.param(
        "getNumbersStatus",
        '{"some_service_1": "5", "plain": 2}',
        [ServiceStock("some_service", True, 5), ServiceStock("plain", False, 2)],
        id="stock-underscore-in-service-and-no-flag",
    ),
    pytest.param("getNumbersStatus", "{}", [], id="stock-empty"),
    # getNumber
    pytest.param(
        "getNumber",
        "ACCESS_NUMBER:123456:79161234567",
        Activation(123456, "79161234567"),
        id="number-international",
    ),
    pytest.param(
        "getNumber",
        "ACCESS_NUMBER:7:9161234567",
        Activation(7, "9161234567"),
        id="number-national",
    ),
    pytest.param(
        "getNumber",
        "ACCESS_NUMBER:8:+447700900123",
        Activation(8, "+447700900123"),
        id="number-plus",
    ),
    # getStatus
    pytest.param(
        "getStatus",
        "STATUS_WAIT_CODE",
        ActivationStatus(ActivationState.WAIT_CODE),
        id="status-wait",
    ),
    pytest.param(
        "getStatus",
        "STATUS_OK:070501",
        ActivationStatus(ActivationState.OK, "070501"),
        id="status-ok",
    ),
    pytest.param(
        "getStatus",
        "STATUS_OK:12:34",
        ActivationStatus(ActivationState.OK, "12:34"),
        id="status-ok-colon-in-code",
    ),
    pytest.param(
        "getStatus",
        "STATUS_WAIT_RETRY:070501",
        ActivationStatus(ActivationState.WAIT_RETRY, "070501"),
        id="status-wait-retry",
    ),
    pytest.param(
        "getStatus",
        "STATUS_WAIT_RETRY",
        ActivationStatus(ActivationState.WAIT_RETRY),
        id="status-wait-retry-no-code",
    ),
    pytest.param(
        "getStatus",
        "STATUS_WAIT_RESEND",
        ActivationStatus(ActivationState.WAIT_RESEND),
        id="status-wait-resend",
    ),
    pytest.param(
        "getStatus",
        "STATUS_CANCEL",
        ActivationStatus(ActivationState.CANCEL),
        id="status-cancel",
    ),
    pytest.param(
        "getStatus",
        '{"status": "error", "msg": "STATUS_WAIT_CODE"}',
        ActivationStatus(ActivationState.WAIT_CODE),
        id="status-wait-envelope",
    ),
    # getFullSms
    pytest.param(
        "getFullSms",
        "FULL_SMS:Your code is 070501",
        FullSms(ActivationState.OK, "Your code is 070501"),
        id="full-sms",
    ),
    pytest.param(
        "getFullSms",
        "FULL_SMS:Code: 12:34. Don't share",
        FullSms(ActivationState.OK, "Code: 12:34. Don't share"),
        id="full-sms-colons-in-text",
    ),
    pytest.param(
        "getFullSms",
        "FULL_SMS:line one\nline two\n",
        FullSms(ActivationState.OK, "line one\nline two"),
        id="full-sms-multiline",
    ),
    pytest.param(
        "getFullSms",
        "STATUS_WAIT_CODE",
        FullSms(ActivationState.WAIT_CODE),
        id="full-sms-wait",
    ),
    pytest.param("getFullSms", "STATUS_CANCEL", FullSms(ActivationState.CANCEL), id="full-sms-cancel"),
    # setStatus
    pytest.param("setStatus", "ACCESS_READY", SetStatusReply.READY, id="set-ready"),
    pytest.param("setStatus", "ACCESS_RETRY_GET", SetStatusReply.RETRY_GET, id="set-retry"),
    pytest.param("setStatus", "ACCESS_ACTIVATION", SetStatusReply.ACTIVATION, id="set-close"),
    pytest.param("setStatus", "ACCESS_CANCEL", SetStatusReply.CANCEL, id="set-cancel"),
    # getRentServicesAndCountries
    pytest.param(
        "getRentServicesAndCountries",
        '{"countries": {"0": 7, "1": "380"}, "operators": {"0": "any", "1": "mts"},'
        ' "services": {"full": {"cost": "42.50", "quant": 20}, "tg": {"cost": 3, "quant": "7"}}}',
        RentOffer(
            ("7", "380"),
            ("any", "mts"),
            (RentService("full", Decimal("42.50"), 20), RentService("tg", Decimal("3"), 7)),
        ),
        id="rent-offer-objects",
    ),
    pytest.param(
        "getRentServicesAndCountries",
        '{"countries": [7], "operators": ["any"], "services": {"full": {"cost": 1.5,'
        ' "quant": {"current": "5", "total": 10}}}}',
        RentOffer(("7",), ("any",), (RentService("full", Decimal("1.5"), 5, 10),)),
        id="rent-offer-lists-quant-object",
    ),
    pytest.param(
        "getRentServicesAndCountries",
        '{"countries": {"0": 7}}',
        RentOffer(("7",), (), ()),
        id="rent-offer-countries-only",
    ),
    # getRentNumber
    pytest.param(
        "getRentNumber",
        '{"status": "success", "phone": {"id": 10000, "endDate": "2022-07-17T19:54:55+03:00",'
        ' "number": "9089100000"}}',
        Rent(10000, "9089100000", END),
        id="rent-number-doc",
    ),
    pytest.param(
        "getRentNumber",
        '{"status": "success", "phone": {"id": "10001", "number": 79089100000}}',
        Rent(10001, "79089100000", None),
        id="rent-number-strings-no-date",
    ),
    pytest.param(
        "getRentNumber",
        '{"status": "success", "phone": {"id": 3, "endDate": "soon", "number": "1"}}',
        Rent(3, "1", None),
        id="rent-number-invalid-date",
    ),
    pytest.param(
        "getRentNumber",
        '{"status": "success", "phone": {"id": 4, "endDate": "2022-07-17T16:54:55Z", "number": "1"}}',
        Rent(4, "1", END),
        id="rent-number-utc-z",
    ),
    # getRentList
    pytest.param(
        "getRentList",
        '{"status": "success", "values": {"0": {"id": 1, "phone": "9089100000"},'
        ' "1": {"id": "2", "phone": "9089100001", "endDate": "2022-07-17T19:54:55+03:00"}}}',
        [Rent(1, "9089100000"), Rent(2, "9089100001", END)],
        id="rent-list-object",
    ),
    pytest.param(
        "getRentList",
        '{"status": "success", "values": [{"id": 5, "phone": "1"}]}',
        [Rent(5, "1")],
        id="rent-list-list",
    ),
    pytest.param(
        "getRentList",
        '{"status": "success", "values": {"10": {"id": 10, "phone": "b"}, "2": {"id": 2, "phone": "a"}}}',
        [Rent(2, "a"), Rent(10, "b")],
        id="rent-list-numeric-key-order",
    ),
    pytest.param("getRentList", '{"status": "success", "values": {}}', [], id="rent-list-empty"),
    pytest.param("getRentList", '{"status": "success"}', [], id="rent-list-no-values"),
    # getRentStatus
    pytest.param("getRentStatus", RENT_STATUS_DOC, RentStatus(1, (DOC_MESSAGE,)), id="rent-status-doc"),
    pytest.param(
        "getRentStatus",
        '{"status": "success", "quantity": "2", "values": ['
        '{"phoneFrom": "+1", "text": "a", "service": "notify"},'
        ' {"phoneFrom": "+2", "text": "b: c", "service": "+79990001122", "date": "bad"}]}',
        RentStatus(2, (RentMessage("+1", "a", "notify"), RentMessage("+2", "b: c", "+79990001122"))),
        id="rent-status-list-strings-bad-date",
    ),
    pytest.param(
        "getRentStatus",
        '{"status": "success", "values": {"1": {"phoneFrom": "x", "text": "second"},'
        ' "0": {"phoneFrom": "y", "text": "first"}}}',
        RentStatus(2, (RentMessage("y", "first", ""), RentMessage("x", "second", ""))),
        id="rent-status-no-quantity-key-order",
    ),
    # setRentStatus
    pytest.param("setRentStatus", '{"status": "success"}', None, id="set-rent-status"),
]


@pytest.mark.parametrize(("action", "body", "expected"), SUCCESS)
def test_success_replies(action, body, expected):
    assert parser(action)(body) == expected


def test_country_keeps_unknown_fields():
    [country] = parser("getCountries")('{"7": {"visible": 1, "rus": "Россия", "rent": "1", "retry": 0}}')
    assert country.extra == {"rent": "1", "retry": 0}
    assert country.name == "Россия"


def test_rent_message_notice():
    status = parser("getRentStatus")(
        '{"status": "success", "quantity": 1,'
        ' "values": {"0": {"phoneFrom": "", "text": "t", "service": "notify"}}}'
    )
    assert status.messages[0].is_notice


# --- error tokens: text and JSON envelope (msg / message), for a text and a JSON action ------------

TOKENS = [
    ("BAD_KEY", errors.BadKeyError),
    ("BAD_ACTION", errors.BadActionError),
    ("ERROR_SQL", errors.ErrorSqlError),
    ("NO_NUMBERS", errors.NoNumbersError),
    ("NO_BALANCE", errors.NoBalanceError),
    ("BAD_SERVICE", errors.BadServiceError),
    ("BAD_STATUS", errors.BadStatusError),
    ("NO_ACTIVATION", errors.NoActivationError),
    ("WRONG_ACTIVATION_ID", errors.WrongActivationIdError),
    ("EARLY_CANCEL_DENIED", errors.EarlyCancelDeniedError),
    ("STATUS_CANCEL", errors.RentClosedError),
    ("STATUS_FINISH", errors.RentClosedError),
    ("NO_ID_RENT", errors.NoIdRentError),
    ("INVALID_PHONE", errors.InvalidPhoneError),
    ("INCORECT_STATUS", errors.IncorrectStatusError),
    ("CANT_CANCEL", errors.CantCancelError),
    ("ALREADY_FINISH", errors.AlreadyFinishError),
    ("ALREADY_CANCEL", errors.AlreadyCancelError),
    ("STATUS_WAIT_CODE", errors.UnknownApiError),  # an error where the action does not expect it
    ("TRY_AGAIN_LATER", errors.UnknownApiError),
    ("SOMETHING_NEW_2", errors.UnknownApiError),
]
FORMS = [
    pytest.param(lambda token: token, id="text"),
    pytest.param(lambda token: f"{token}\n", id="text-newline"),
    pytest.param(lambda token: json.dumps({"status": "error", "msg": token}), id="json-msg"),
    pytest.param(lambda token: json.dumps({"status": "error", "message": token}), id="json-message"),
]
CARRIERS = [
    pytest.param("getNumber", id="getNumber"),
    pytest.param("setStatus", id="setStatus"),
    pytest.param("getRentNumber", id="getRentNumber"),
    pytest.param("setRentStatus", id="setRentStatus"),
]


@pytest.mark.parametrize("action", CARRIERS)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("token", "error_class"), TOKENS, ids=[token for token, _ in TOKENS])
def test_error_tokens(action, form, token, error_class):
    body = form(token)
    with pytest.raises(error_class) as caught:
        parser(action)(body, 200)
    assert type(caught.value) is error_class
    assert caught.value.token == token
    assert caught.value.status_code == 200
    assert caught.value.body == body


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("action", CARRIERS)
def test_banned_with_datetime(action, form):
    body = form("BANNED:2025-01-31 12:00:00")
    with pytest.raises(errors.BannedError) as caught:
        parser(action)(body, 200)
    assert caught.value.token == "BANNED"
    assert caught.value.until == "2025-01-31 12:00:00"
    assert caught.value.body == body


@pytest.mark.parametrize(
    ("token", "retryable"),
    [("ERROR_SQL", True), ("BAD_KEY", False), ("NO_NUMBERS", False), ("BAD_SERVICE", False)],
    ids=["error-sql", "bad-key", "no-numbers", "bad-service"],
)
def test_token_errors_say_whether_to_retry(token, retryable):
    with pytest.raises(errors.OnlineSimError) as caught:
        parser("getBalance")(token)
    assert caught.value.retryable is retryable


def test_token_error_keeps_http_status():
    with pytest.raises(errors.BadKeyError) as caught:
        parser("getBalance")("BAD_KEY", 401)
    assert caught.value.status_code == 401


SPECIAL = [
    pytest.param("getRentList", "NO_NUMBERS", [], id="rent-list-no-numbers-text"),
    pytest.param("getRentList", '{"status": "error", "msg": "NO_NUMBERS"}', [], id="rent-list-msg"),
    pytest.param(
        "getRentList",
        '{"status": "error", "message": "NO_NUMBERS"}',
        [],
        id="rent-list-message",
    ),
    pytest.param("getRentStatus", "STATUS_WAIT_CODE", RentStatus(0, ()), id="rent-wait-text"),
    pytest.param(
        "getRentStatus",
        '{"status": "error", "msg": "STATUS_WAIT_CODE"}',
        RentStatus(0, ()),
        id="rent-wait-msg",
    ),
    pytest.param(
        "getRentStatus",
        '{"status": "error", "message": "STATUS_WAIT_CODE"}',
        RentStatus(0, ()),
        id="rent-wait-message",
    ),
    pytest.param(
        "getFullSms",
        '{"status": "error", "message": "STATUS_CANCEL"}',
        FullSms(ActivationState.CANCEL),
        id="full-sms-cancel-envelope",
    ),
]


@pytest.mark.parametrize(("action", "body", "expected"), SPECIAL)
def test_tokens_that_are_answers_for_one_action(action, body, expected):
    assert parser(action)(body) == expected


@pytest.mark.parametrize(
    "body",
    ["STATUS_CANCEL", "STATUS_FINISH", '{"status": "error", "msg": "STATUS_FINISH"}'],
    ids=["cancel", "finish", "finish-envelope"],
)
def test_closed_rent_raises(body):
    with pytest.raises(errors.RentClosedError) as caught:
        parser("getRentStatus")(body)
    assert caught.value.token in ("STATUS_CANCEL", "STATUS_FINISH")


@pytest.mark.parametrize(
    ("action", "body"),
    [
        pytest.param("getRentList", "BAD_KEY", id="rent-list"),
        pytest.param("getRentStatus", '{"status": "error", "msg": "NO_ID_RENT"}', id="rent-status"),
        pytest.param("getCountries", "BAD_KEY", id="countries-text-token"),
        pytest.param("getNumbersStatus", '{"status":"error","message":"BAD_KEY"}', id="stock"),
        pytest.param("getRentServicesAndCountries", "ERROR_SQL", id="rent-offer"),
        pytest.param("getStatus", "NO_ACTIVATION", id="status"),
        pytest.param("getFullSms", "WRONG_ACTIVATION_ID", id="full-sms"),
        pytest.param("getBalance", '{"message": "BAD_KEY"}', id="balance-envelope-no-status"),
    ],
)
def test_other_tokens_still_raise_in_special_actions(action, body):
    with pytest.raises(errors.OnlineSimError) as caught:
        parser(action)(body)
    assert caught.value.token in (
        "BAD_KEY",
        "NO_ID_RENT",
        "ERROR_SQL",
        "NO_ACTIVATION",
        "WRONG_ACTIVATION_ID",
    )


# --- bodies that are not API replies ----------------------------------------------------------------

ALL_PARSERS = list(EXAMPLES)
GARBAGE = [
    pytest.param("", id="empty"),
    pytest.param("  \r\n", id="blank"),
    pytest.param("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", id="html"),
    pytest.param("<!DOCTYPE html>\n<html>Error</html>", id="html-doctype"),
    pytest.param("\x00\ufffd\ufffdz\x13\x7f garbage", id="binary"),
    pytest.param('{"status": "success", "phone": {"id": 1', id="truncated-json"),
    pytest.param("{not json at all", id="broken-json"),
    pytest.param("ACCESS_", id="cut-token"),
    pytest.param("NO_NUMB", id="cut-error-token"),
    pytest.param("null", id="json-null"),
    pytest.param('{"status": "error"}', id="envelope-without-token"),
    pytest.param("Internal Server Error", id="plain-text"),
]


@pytest.mark.parametrize("body", GARBAGE)
@pytest.mark.parametrize("action", ALL_PARSERS)
def test_garbage_is_a_protocol_error_with_the_raw_body(action, body):
    with pytest.raises(errors.ProtocolError) as caught:
        parser(action)(body, 200)
    assert caught.value.body == body
    assert caught.value.retryable
    assert caught.value.token is None


@pytest.mark.parametrize("status_code", [400, 404, 403], ids=["400", "404", "403"])
def test_non_api_page_with_client_error_status_is_fatal(status_code):
    body = "<html><body>404 Not Found</body></html>"
    with pytest.raises(errors.HttpStatusError) as caught:
        parser("getBalance")(body, status_code)
    assert caught.value.status_code == status_code
    assert caught.value.body == body
    assert not caught.value.retryable


MALFORMED = [
    pytest.param("getBalance", "ACCESS_BALANCE:", id="balance-empty"),
    pytest.param("getBalance", "ACCESS_BALANCE", id="balance-no-value"),
    pytest.param("getBalance", "ACCESS_BALANCE:abc", id="balance-not-decimal"),
    pytest.param("getBalance", "ACCESS_BALANCE:NaN", id="balance-nan"),
    pytest.param("getNumber", "ACCESS_NUMBER:12", id="number-cut"),
    pytest.param("getNumber", "ACCESS_NUMBER:abc:79161234567", id="number-id-not-int"),
    pytest.param("getNumber", "ACCESS_NUMBER:0:79161234567", id="number-id-zero"),
    pytest.param("getNumber", "ACCESS_NUMBER:5:", id="number-no-phone"),
    pytest.param("getStatus", "STATUS_OK:", id="status-ok-no-code"),
    pytest.param("getStatus", "STATUS_O", id="status-cut"),
    pytest.param("setStatus", "ACCESS_READ", id="set-status-cut"),
    pytest.param("getCountries", '{"7": {"visible": "maybe"}}', id="countries-bad-visible"),
    pytest.param("getCountries", '[{"rus": "no id"}]', id="countries-list-no-id"),
    pytest.param("getNumbersStatus", '{"tg_0": "many"}', id="stock-bad-count"),
    pytest.param("getNumbersStatus", "[1, 2]", id="stock-list"),
    pytest.param("getRentServicesAndCountries", '{"status": "success"}', id="offer-empty"),
    pytest.param(
        "getRentServicesAndCountries",
        '{"services": {"full": {"quant": 1}}}',
        id="offer-no-cost",
    ),
    pytest.param("getRentNumber", '{"status": "success"}', id="rent-number-no-phone"),
    pytest.param(
        "getRentNumber",
        '{"status": "success", "phone": {"number": "1"}}',
        id="rent-number-no-id",
    ),
    pytest.param(
        "getRentNumber",
        '{"status": "success", "phone": {"id": -3, "number": "1"}}',
        id="rent-number-negative-id",
    ),
    pytest.param("getRentList", '{"status": "success", "values": "none"}', id="rent-list-values-str"),
    pytest.param(
        "getRentStatus",
        '{"status": "success", "values": {"0": {"phoneFrom": "x"}}}',
        id="no-text",
    ),
    pytest.param("getRentStatus", "[]", id="rent-status-list"),
    pytest.param("setRentStatus", '{"status": "pending"}', id="set-rent-not-success"),
]


@pytest.mark.parametrize(("action", "body"), MALFORMED)
def test_malformed_success_replies(action, body):
    with pytest.raises(errors.ProtocolError) as caught:
        parser(action)(body)
    assert caught.value.body == body


def test_protocol_error_body_is_capped():
    body = "<html>" + "x" * 5000
    with pytest.raises(errors.ProtocolError) as caught:
        parser("getBalance")(body)
    assert caught.value.body == body[:2000]
    assert len(str(caught.value)) < 300


# --- HTTP status before parsing ------------------------------------------------------------------

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("7", 7.0, id="seconds"),
        pytest.param(" 2.5 ", 2.5, id="fractional"),
        pytest.param("-4", 0.0, id="negative-clamped"),
        pytest.param("Wed, 01 Jan 2025 12:00:30 GMT", 30.0, id="http-date"),
        pytest.param("Wed, 01 Jan 2025 11:00:00 GMT", 0.0, id="http-date-past"),
        pytest.param("soon", None, id="garbage"),
    ],
)
def test_parse_retry_after(value, expected):
    assert protocol.parse_retry_after(value, now=NOW) == expected


def test_429_is_rate_limited_with_retry_after():
    error = protocol.status_error(429, "TRY_AGAIN_LATER", retry_after="3")
    assert isinstance(error, errors.RateLimitedError)
    assert error.retry_after == 3.0
    assert error.status_code == 429
    assert error.body == "TRY_AGAIN_LATER"
    assert error.retryable


def test_429_without_header():
    error = protocol.status_error(429)
    assert isinstance(error, errors.RateLimitedError)
    assert error.retry_after is None


@pytest.mark.parametrize("status_code", [500, 502, 503, 504], ids=str)
def test_5xx_is_server_error(status_code):
    error = protocol.status_error(status_code, "<html>down</html>")
    assert isinstance(error, errors.ServerError)
    assert error.status_code == status_code
    assert error.body == "<html>down</html>"


def test_redirect_is_fatal_and_names_the_target():
    error = protocol.status_error(
        301, "", location="https://api-conserver.onlinesim.io/stubs/handler_api.php"
    )
    assert isinstance(error, errors.HttpStatusError)
    assert "https://api-conserver.onlinesim.io" in str(error)
    assert not error.retryable


@pytest.mark.parametrize("status_code", [200, 201, 400, 401, 404], ids=str)
def test_other_statuses_are_left_to_the_parser(status_code):
    assert protocol.status_error(status_code, "BAD_KEY") is None
