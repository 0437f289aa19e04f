"""The sandbox application behind the HTTP front, called in-process: params, auth, request log, controls."""

from __future__ import annotations

from typing import Any

import pytest

from onlinesim_provider.sandbox import SandboxConfig
from onlinesim_provider.sandbox.app import SandboxApp, UnknownControlError

pytestmark = pytest.mark.no_airflow

KEY = "app-key"


@pytest.fixture
def app() -> SandboxApp:
    return SandboxApp(SandboxConfig(api_key=KEY), seed=3)


def _body(app: SandboxApp, query: str, form: str = "", authorization: str | None = None) -> str:
    outcome = app.api("GET" if not form else "POST", query, form, authorization)
    assert outcome.reply is not None
    assert outcome.delay == 0.0
    return outcome.reply.body.decode()


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        pytest.param(f"Bearer {KEY}", "ACCESS_BALANCE:1000.00", id="bearer"),
        pytest.param(f"bearer   {KEY}  ", "ACCESS_BALANCE:1000.00", id="scheme-any-case-spaces"),
        pytest.param(f"Basic {KEY}", "BAD_KEY", id="other-scheme"),
        pytest.param("", "BAD_KEY", id="empty-header"),
        pytest.param(None, "BAD_KEY", id="no-header"),
    ],
)
def test_bearer_header_is_read_only_with_the_bearer_scheme(authorization: str | None, expected: str) -> None:
    assert _body(SandboxApp(SandboxConfig(api_key=KEY)), "action=getBalance", "", authorization) == expected


@pytest.mark.parametrize(
    ("query", "form", "expected"),
    [
        pytest.param(f"action=getBalance&api_key={KEY}", "", "ACCESS_BALANCE:1000.00", id="query-only"),
        pytest.param("", f"action=getBalance&api_key={KEY}", "ACCESS_BALANCE:1000.00", id="form-only"),
        pytest.param(
            f"action=getBalance&api_key={KEY}", "action=getMoney", "ACCESS_BALANCE:1000.00", id="url-wins"
        ),
        pytest.param(
            f"api_key={KEY}&action=getBalance&action=getMoney", "", "ACCESS_BALANCE:1000.00", id="first"
        ),
    ],
)
def test_url_parameters_win_over_the_form_and_the_first_repeat_wins(
    query: str, form: str, expected: str
) -> None:
    assert _body(SandboxApp(SandboxConfig(api_key=KEY)), query, form) == expected


def test_request_log_masks_the_key_and_counts_requests(app: SandboxApp) -> None:
    _body(app, f"action=getBalance&api_key={KEY}")
    _body(app, "action=getNumber", f"service=tg&api_key={KEY}")
    log = app.control("requests", {})
    assert [entry["seq"] for entry in log] == [1, 2]
    assert log[0]["query"] == {"action": "getBalance", "api_key": "REDACTED"}
    assert log[1]["form"] == {"service": "tg", "api_key": "REDACTED"}
    assert [entry["method"] for entry in log] == ["GET", "POST"]
    assert [entry["auth"] for entry in log] == ["query", "query"]
    assert KEY not in repr(log)


def test_unknown_control_names_the_choices(app: SandboxApp) -> None:
    with pytest.raises(
        UnknownControlError, match=r"unknown sandbox control 'teleport': expected one of \["
    ) as caught:
        app.control("teleport", {})
    assert "'advance'" in str(caught.value)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        pytest.param({"api_key": "x"}, r"cannot configure \['api_key'\] at run time", id="key-not-a-switch"),
        pytest.param({"speed": 0}, "invalid speed", id="invalid-value"),
    ],
)
def test_configure_refuses_what_cannot_change(app: SandboxApp, payload: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        app.control("configure", payload)
    assert app.control("config", {})["speed"] == 1.0


def test_configure_balance_resets_the_money(app: SandboxApp) -> None:
    assert app.control("configure", {"balance": "5"})["balance"] == "5.00"
    assert _body(app, f"action=getBalance&api_key={KEY}") == "ACCESS_BALANCE:5.00"


def test_reset_returns_to_the_initial_world(app: SandboxApp) -> None:
    assert _body(app, f"action=getNumber&service=tg&api_key={KEY}").startswith("ACCESS_NUMBER:")
    app.control("fault", {"kind": "http_status", "status": 500})
    app.control("reset", {})
    assert app.control("faults", {}) == []
    assert app.control("requests", {}) == []
    assert app.control("summary", {})["orders"] == 0
    assert _body(app, f"action=getBalance&api_key={KEY}") == "ACCESS_BALANCE:1000.00"
