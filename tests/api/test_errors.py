"""The error classes: one per token, each marked retryable or not, carrying token, status and body."""

from __future__ import annotations

import pytest

from onlinesim_provider.api import errors

pytestmark = pytest.mark.no_airflow

TRANSIENT = [
    errors.ProtocolError,
    errors.NetworkError,
    errors.RateLimitedError,
    errors.ServerError,
    errors.ErrorSqlError,
]
FATAL = [
    errors.InvalidInputError,
    errors.HttpStatusError,
    errors.OutcomeUnknownError,
    errors.RentClosedError,
    errors.UnknownApiError,
    *(cls for cls in errors.TOKEN_ERRORS.values() if cls is not errors.ErrorSqlError),
]


@pytest.mark.parametrize("error_class", TRANSIENT, ids=lambda c: c.__name__)
def test_transient_errors_are_retryable(error_class):
    assert issubclass(error_class, errors.TransientError)
    assert error_class.retryable


@pytest.mark.parametrize("error_class", FATAL, ids=lambda c: c.__name__)
def test_fatal_errors_are_not(error_class):
    assert issubclass(error_class, errors.FatalError)
    assert not error_class.retryable


@pytest.mark.parametrize(
    ("token", "error_class"), sorted(errors.TOKEN_ERRORS.items()), ids=sorted(errors.TOKEN_ERRORS)
)
def test_error_for_token(token, error_class):
    error = errors.error_for_token(token, status_code=200, body=f"{token}\n")
    assert type(error) is error_class
    assert (error.token, error.status_code, error.body) == (token, 200, f"{token}\n")
    assert token in str(error)


def test_every_spec_token_has_a_class():
    spec_tokens = {
        "BAD_KEY", "BAD_ACTION", "ERROR_SQL", "NO_NUMBERS", "NO_BALANCE", "BAD_SERVICE", "BANNED",
        "BAD_STATUS", "NO_ACTIVATION", "WRONG_ACTIVATION_ID", "EARLY_CANCEL_DENIED", "NO_ID_RENT",
        "INVALID_PHONE", "INCORECT_STATUS", "CANT_CANCEL", "ALREADY_FINISH", "ALREADY_CANCEL",
    }  # fmt: skip
    assert spec_tokens == set(errors.TOKEN_ERRORS)


def test_banned_carries_the_date():
    error = errors.error_for_token("BANNED:2025-01-31 12:00:00")
    assert isinstance(error, errors.BannedError)
    assert (error.token, error.until) == ("BANNED", "2025-01-31 12:00:00")
    assert "2025-01-31 12:00:00" in str(error)


@pytest.mark.parametrize("token", ["STATUS_CANCEL", "STATUS_FINISH"])
def test_closed_rent_tokens(token):
    error = errors.error_for_token(token)
    assert isinstance(error, errors.RentClosedError)
    assert error.token == token


def test_unknown_token_is_named():
    error = errors.error_for_token("BRAND_NEW_TOKEN")
    assert type(error) is errors.UnknownApiError
    assert "BRAND_NEW_TOKEN" in str(error)


def test_outcome_unknown_carries_its_cause():
    cause = errors.ServerError("server error (HTTP 503)", status_code=503, body="busy")
    error = errors.OutcomeUnknownError("lost", action="getNumber", cause=cause)
    assert (error.action, error.cause, error.status_code, error.body) == ("getNumber", cause, 503, "busy")
    assert not error.retryable


def test_network_error_is_sent_unless_said_otherwise():
    assert errors.NetworkError("x").maybe_sent
    assert not errors.NetworkError("x", maybe_sent=False).maybe_sent


def test_rate_limited_keeps_retry_after():
    error = errors.RateLimitedError(retry_after=2.5)
    assert (error.retry_after, error.status_code) == (2.5, 429)


def test_body_is_capped_and_repr_is_short():
    error = errors.ProtocolError("bad", status_code=200, body="x" * 5000)
    assert len(error.body) == 2000
    assert repr(error) == "ProtocolError('bad', token=None, status_code=200)"


def test_default_message_comes_from_the_docstring():
    error = errors.NoNumbersError(token="NO_NUMBERS", status_code=200)
    assert str(error).startswith("No numbers are available")
    assert "HTTP 200" in str(error)


def test_invalid_input_is_also_a_value_error():
    assert issubclass(errors.InvalidInputError, ValueError)
    assert issubclass(errors.OnlineSimError, Exception)


def test_an_error_takes_only_the_attributes_its_class_has():
    assert errors.BannedError(until="tomorrow").until == "tomorrow"
    with pytest.raises(TypeError, match="NetworkError has no attribute 'until'"):
        errors.NetworkError("x", until="tomorrow")
