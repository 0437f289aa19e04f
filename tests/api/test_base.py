"""Settings and key handling shared by both clients: validation, key scrubbing, the insecure-http warning."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from onlinesim_provider.api import OnlineSimClient
from onlinesim_provider.api.base import InsecureTransportWarning, check_settings
from onlinesim_provider.api.errors import InvalidInputError

pytestmark = pytest.mark.no_airflow

KEY = "s3cr3t-Key/+="
LOOPBACK = "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        pytest.param("https://onlinesim.io", "https://onlinesim.io", id="plain"),
        pytest.param("https://onlinesim.io/", "https://onlinesim.io", id="trailing-slash"),
        pytest.param(
            "https://onlinesim.io/stubs/handler_api.php", "https://onlinesim.io", id="handler-path-dropped"
        ),
        pytest.param(" http://127.0.0.1:9/api/ ", "http://127.0.0.1:9/api", id="prefix-kept-spaces-stripped"),
    ],
)
def test_base_url_is_normalised(base_url: str, expected: str) -> None:
    assert check_settings({"api_key": KEY, "base_url": base_url})["base_url"] == expected


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("ftp://onlinesim.io", id="scheme"),
        pytest.param("onlinesim.io", id="no-scheme"),
        pytest.param("https://", id="no-host"),
        pytest.param("https://onlinesim.io:0", id="port-zero"),
        pytest.param("https://onlinesim.io:http", id="port-text"),
        pytest.param("https://onlinesim.io/?x=1", id="query"),
        pytest.param("https://onlinesim.io/#top", id="fragment"),
        pytest.param(42, id="not-a-string"),
    ],
)
def test_bad_base_url_is_named_in_the_error(base_url: object) -> None:
    with pytest.raises(InvalidInputError, match="base_url must be an http:// or https:// URL") as caught:
        check_settings({"api_key": KEY, "base_url": base_url})
    assert repr(base_url) in str(caught.value)


def test_credentials_in_base_url_are_refused_without_showing_the_key() -> None:
    with pytest.raises(InvalidInputError, match="base_url") as caught:
        check_settings({"api_key": KEY, "base_url": f"https://user:{KEY}@onlinesim.io"})
    assert KEY not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    ("api_key", "shown"),
    [
        pytest.param("", "no API key", id="empty"),
        pytest.param(None, "no API key", id="none"),
        pytest.param("has space", "a str; its value is not shown", id="space"),
        pytest.param("ключ", "a str; its value is not shown", id="non-ascii"),
        pytest.param(12345, "a int; its value is not shown", id="int"),
    ],
)
def test_bad_api_key_is_refused_without_echoing_it(api_key: object, shown: str) -> None:
    with pytest.raises(InvalidInputError, match="api_key must be a non-empty string") as caught:
        check_settings({"api_key": api_key, "base_url": LOOPBACK})
    assert shown in str(caught.value)
    if api_key:
        assert str(api_key) not in str(caught.value)


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        pytest.param("auth", " Header ", "header", id="auth-text-from-extra"),
        pytest.param("auth", "query", "query", id="auth-query"),
        pytest.param("cancel_status", "8", 8, id="cancel-status-text"),
        pytest.param("cancel_status", 6, 6, id="cancel-status-int"),
        pytest.param("rent_close_status", " 1 ", 1, id="rent-close-status-text"),
        pytest.param("rent_close_status", 2, 2, id="rent-close-status-int"),
    ],
)
def test_settings_are_put_in_normal_form(setting: str, value: object, expected: object) -> None:
    assert check_settings({"api_key": KEY, "base_url": LOOPBACK, setting: value})[setting] == expected


@pytest.mark.parametrize(
    ("setting", "value", "match"),
    [
        pytest.param("auth", "cookie", "auth must be 'header' or 'query', got 'cookie'", id="auth-unknown"),
        pytest.param("auth", None, "auth must be 'header' or 'query', got None", id="auth-none"),
        pytest.param("cancel_status", 7, r"cancel_status must be 6 \(OnlineSIM\) or 8", id="cancel-status-7"),
        pytest.param("cancel_status", True, "got True", id="cancel-status-bool"),
        pytest.param("cancel_status", 6.0, "got 6.0", id="cancel-status-float"),
        pytest.param(
            "rent_close_status",
            3,
            r"rent_close_status must be 2 \(OnlineSIM: close\) or 1 \(SMS-Activate: finish\), got 3",
            id="rent-close-status-3",
        ),
        pytest.param("rent_close_status", False, "got False", id="rent-close-status-bool"),
    ],
)
def test_bad_setting_is_named_with_its_value(setting: str, value: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        check_settings({"api_key": KEY, "base_url": LOOPBACK, setting: value})


def test_other_settings_pass_through_unchecked() -> None:
    assert check_settings({"api_key": KEY, "base_url": LOOPBACK, "extra": [1]})["extra"] == [1]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"GET /x?api_key={KEY}&action=getBalance", id="raw-key"),
        pytest.param("GET /x?api_key=s3cr3t-Key%2F%2B%3D", id="percent-encoded"),
        pytest.param("GET /x?api_key=s3cr3t-Key/%2B%3D", id="quote-safe-slash"),
        pytest.param("Authorization: Bearer S3CR3T-KEY/+=", id="bearer-other-case"),
        pytest.param("https://x/?API_KEY=another-key", id="any-api-key-param"),
    ],
)
def test_scrub_masks_every_form_of_the_key(text: str) -> None:
    client = OnlineSimClient(KEY, base_url=LOOPBACK)
    scrubbed = client.scrub(text)
    assert "***" in scrubbed
    for form in (KEY, "s3cr3t-Key", "S3CR3T-KEY", "another-key"):
        assert form not in scrubbed


def test_repr_never_shows_the_key() -> None:
    text = repr(OnlineSimClient(KEY, base_url=LOOPBACK, cancel_status=8))
    assert text == "OnlineSimClient(base_url='http://127.0.0.1:8080', auth='header', cancel_status=8)"


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("http://onlinesim.example", id="plain-http-remote-name"),
        pytest.param("http://10.0.0.5:8080/prefix", id="plain-http-private-address"),
    ],
)
def test_plain_http_to_another_machine_warns(base_url: str) -> None:
    with pytest.warns(InsecureTransportWarning, match="sent unencrypted") as caught:
        OnlineSimClient(KEY, base_url=base_url)
    message = str(caught[0].message)
    assert base_url in message
    assert "https://" + base_url.removeprefix("http://") in message
    assert KEY not in message


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("https://onlinesim.example", id="https"),
        pytest.param("http://127.0.0.1:8080", id="loopback-v4"),
        pytest.param("http://[::1]:8080", id="loopback-v6"),
        pytest.param("http://localhost:8080", id="localhost"),
        pytest.param("http://sandbox.localhost", id="dot-localhost"),
    ],
)
def test_encrypted_or_loopback_urls_do_not_warn(base_url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureTransportWarning)
        client: Any = OnlineSimClient(KEY, base_url=base_url)
    assert client.url == base_url + "/stubs/handler_api.php"
