"""The one decision function: every reply, every wait parameter, as a table."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from onlinesim_provider.api.errors import (
    BadKeyError,
    ErrorSqlError,
    NetworkError,
    NoActivationError,
    RateLimitedError,
    RentClosedError,
    ServerError,
)
from onlinesim_provider.api.models import (
    ActivationState,
    ActivationStatus,
    FullSms,
    RentMessage,
    RentStatus,
)
from onlinesim_provider.hooks.onlinesim import airflow_error
from onlinesim_provider.waits.decision import (
    Decision,
    Outcome,
    RentSmsWait,
    SmsWait,
    apply_deadline,
    compile_pattern,
    decide,
    decide_error,
)

S = ActivationState
T0 = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
CODE_RE = r"code is (?P<code>\d{4,8})"


def table(cases):
    return [pytest.param(*rest, id=name) for name, *rest in cases]


def done_sms(code, text=None, activation_id=5):
    return Decision(Outcome.DONE, payload={"activation_id": activation_id, "code": code, "text": text})


CLOSED = Decision(Outcome.FAIL, reason="activation 5 is closed (cancelled, completed or expired)")
WAIT = Decision(Outcome.WAIT)

SMS_CASES = [
    ("wait_code", ActivationStatus(S.WAIT_CODE), SmsWait(5), WAIT),
    ("ok_code", ActivationStatus(S.OK, "123456"), SmsWait(5), done_sms("123456")),
    ("resend_waits", ActivationStatus(S.WAIT_RESEND), SmsWait(5), WAIT),
    ("cancel_fails", ActivationStatus(S.CANCEL), SmsWait(5), CLOSED),
    # after setStatus 3 the last code is superseded: wait for the next one
    ("retry_waits_for_the_next_code", ActivationStatus(S.WAIT_RETRY, "111"), SmsWait(5), WAIT),
    ("full_wait", FullSms(S.WAIT_CODE), SmsWait(5, "full_sms"), WAIT),
    ("full_cancel", FullSms(S.CANCEL), SmsWait(5, "full_sms"), CLOSED),
    (
        "full_text_without_pattern",
        FullSms(S.OK, "Your code is 987654"),
        SmsWait(5, "full_sms"),
        done_sms(None, "Your code is 987654"),
    ),
    (
        "full_text_pattern_extracts",
        FullSms(S.OK, "Telegram code is 4321: do not share"),
        SmsWait(5, "full_sms", CODE_RE),
        done_sms("4321", "Telegram code is 4321: do not share"),
    ),
    (
        "full_text_pattern_misses",
        FullSms(S.OK, "Welcome to the service"),
        SmsWait(5, "full_sms", CODE_RE),
        Decision(Outcome.WAIT, reason="the SMS does not match code_pattern; still waiting"),
    ),
    ("full_retry_waits", FullSms(S.WAIT_RETRY), SmsWait(5, "full_sms"), WAIT),
]


@pytest.mark.parametrize(("reply", "wait", "expected"), table(SMS_CASES))
def test_activation_replies(reply, wait, expected):
    assert decide(reply, wait) == expected


def msg(text, sender="+79990001122", service="twitter", minutes=0):
    return RentMessage(sender, text, service, T0 + timedelta(minutes=minutes))


def done_rent(message, code=None):
    return Decision(Outcome.DONE, payload={"rent_id": 9, **message.to_dict(), "code": code})


NOTICE = msg("Your number is active", sender="OnlineSIM", service="notify")
OLD = msg("Your code is 111111", minutes=-5)
NEW = msg("Your code is 222222", minutes=1)
BANK = msg("Balance 100", sender="BANK", service="bank", minutes=2)

RENT_CASES = [
    ("no_messages", RentStatus(0), RentSmsWait(9), WAIT),
    ("first_message", RentStatus(1, (NEW,)), RentSmsWait(9), done_rent(NEW)),
    ("notice_skipped", RentStatus(1, (NOTICE,)), RentSmsWait(9), WAIT),
    ("notice_then_message", RentStatus(2, (NOTICE, NEW)), RentSmsWait(9), done_rent(NEW)),
    ("before_received_after", RentStatus(1, (OLD,)), RentSmsWait(9, received_after=T0), WAIT),
    (
        "at_received_after_counts",
        RentStatus(1, (msg("x"),)),
        RentSmsWait(9, received_after=T0),
        done_rent(msg("x")),
    ),
    (
        "same_second_counts",
        RentStatus(1, (msg("x"),)),
        RentSmsWait(9, received_after=T0 + timedelta(microseconds=900_000)),
        done_rent(msg("x")),
    ),
    ("old_then_new", RentStatus(2, (OLD, NEW)), RentSmsWait(9, received_after=T0), done_rent(NEW)),
    ("sender_by_service", RentStatus(2, (BANK, NEW)), RentSmsWait(9, sender="Twitter"), done_rent(NEW)),
    (
        "sender_by_number_part",
        RentStatus(2, (BANK, NEW)),
        RentSmsWait(9, sender="9990001122"),
        done_rent(NEW),
    ),
    ("sender_exact_number", RentStatus(1, (NEW,)), RentSmsWait(9, sender="+79990001122"), done_rent(NEW)),
    ("sender_absent", RentStatus(2, (BANK, NEW)), RentSmsWait(9, sender="telegram"), WAIT),
    (
        "pattern_with_code",
        RentStatus(2, (BANK, NEW)),
        RentSmsWait(9, text_pattern=r"code is (?P<code>\d+)"),
        done_rent(NEW, "222222"),
    ),
    ("pattern_without_group", RentStatus(1, (NEW,)), RentSmsWait(9, text_pattern=r"code"), done_rent(NEW)),
    ("pattern_misses", RentStatus(1, (BANK,)), RentSmsWait(9, text_pattern=r"code"), WAIT),
    (
        "naive_date_taken_as_utc",
        RentStatus(1, (RentMessage("+1", "hi", "x", datetime(2025, 1, 31, 11, 0)),)),
        RentSmsWait(9, received_after=T0),
        WAIT,
    ),
    (
        "offset_date_compared_as_instant",
        RentStatus(1, (RentMessage("+1", "hi", "x", datetime.fromisoformat("2025-01-31T15:30:00+03:00")),)),
        RentSmsWait(9, received_after=T0),
        done_rent(RentMessage("+1", "hi", "x", datetime.fromisoformat("2025-01-31T15:30:00+03:00"))),
    ),
]


@pytest.mark.parametrize(("reply", "wait", "expected"), table(RENT_CASES))
def test_rent_replies(reply, wait, expected):
    assert decide(reply, wait) == expected


ERROR_CASES = [
    ("network", NetworkError("connection reset"), Outcome.WAIT),
    ("rate_limited", RateLimitedError(retry_after=2), Outcome.WAIT),
    ("server_5xx", ServerError(status_code=503), Outcome.WAIT),
    ("error_sql", ErrorSqlError(), Outcome.WAIT),
    ("bad_key", BadKeyError(), Outcome.FAIL),
    ("no_activation", NoActivationError(), Outcome.FAIL),
    ("rent_closed", RentClosedError("rent is closed (STATUS_FINISH)", token="STATUS_FINISH"), Outcome.FAIL),
]


@pytest.mark.parametrize(("error", "outcome"), table(ERROR_CASES))
def test_errors_transient_wait_fatal_fail(error, outcome):
    decision = decide_error(error, "waiting for an SMS code on activation 5")
    assert decision.outcome is outcome
    assert decision.reason.startswith("waiting for an SMS code on activation 5")


def test_fatal_reason_is_the_airflow_message():
    doing = "waiting for an SMS code on activation 5"
    error = NoActivationError()
    decision = decide_error(error, doing)
    assert decision.reason == str(airflow_error(error, doing))
    assert decision.reason.startswith(f"{doing} failed: ")
    assert "NO_ACTIVATION" in decision.reason


SETTLE_CASES = [
    ("wait_before_deadline", WAIT, T0 - timedelta(seconds=1), WAIT),
    (
        "wait_at_deadline",
        WAIT,
        T0,
        Decision(Outcome.TIMEOUT, reason=f"timed out at the deadline {T0.isoformat()}"),
    ),
    ("done_after_deadline_is_done", done_sms("1"), T0 + timedelta(hours=1), done_sms("1")),
    ("fail_after_deadline_is_fail", CLOSED, T0 + timedelta(hours=1), CLOSED),
]


@pytest.mark.parametrize(("decision", "now", "expected"), table(SETTLE_CASES))
def test_settle_applies_the_one_deadline(decision, now, expected):
    assert apply_deadline(decision, now, T0) == expected


EVENT_CASES = [
    (
        "success",
        done_sms("42"),
        {"status": "success", "result": {"activation_id": 5, "code": "42", "text": None}},
    ),
    ("timeout", Decision(Outcome.TIMEOUT, reason="late"), {"status": "timeout", "message": "late"}),
    ("error", CLOSED, {"status": "error", "message": CLOSED.reason}),
]


@pytest.mark.parametrize(("decision", "event"), table(EVENT_CASES))
def test_event_round_trip(decision, event):
    assert decision.to_event() == event
    assert Decision.from_event(event) == decision


@pytest.mark.parametrize(
    "event",
    [None, {}, {"status": "done"}, {"status": 1}, {"result": {"code": "1"}}],
    ids=["none", "empty", "unknown_status", "non_string_status", "no_status"],
)
def test_unknown_events_fail_never_succeed(event):
    assert Decision.from_event(event).outcome is Outcome.FAIL


def test_wait_is_not_an_event():
    with pytest.raises(ValueError, match="not on WAIT"):
        WAIT.to_event()


def test_mismatched_reply_and_wait_is_a_programming_error():
    with pytest.raises(TypeError, match="RentStatus"):
        decide(ActivationStatus(S.OK, "1"), RentSmsWait(9))
    with pytest.raises(TypeError, match="RentStatus"):
        decide(RentStatus(0), SmsWait(5))


PATTERN_CASES = [
    ("not_a_regex", "(?P<code>\\d+", True, "is not a valid regular expression"),
    ("no_code_group", r"\d{6}", True, "has no named group 'code'"),
    ("wrong_group_name", r"(?P<otp>\d{6})", True, "has no named group 'code'"),
]


@pytest.mark.parametrize(("pattern", "required", "message"), table(PATTERN_CASES))
def test_bad_patterns_name_the_argument(pattern, required, message):
    with pytest.raises(ValueError, match=message) as info:
        compile_pattern(pattern, name="code_pattern", require_code_group=required)
    assert "code_pattern=" in str(info.value)
    assert repr(pattern) in str(info.value)


def test_code_group_optional_for_text_patterns():
    assert compile_pattern(r"\d{6}", name="text_pattern", require_code_group=False).pattern == r"\d{6}"


def test_the_decision_imports_no_airflow_at_run_time():
    code = (
        "import sys, onlinesim_provider.waits.decision, onlinesim_provider.waits.deadline; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]", "the last line is the list (Airflow may log first)"
