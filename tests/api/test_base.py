"""What both clients share: the settings' one validator, key scrubbing, repr, the insecure-http warning."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import pytest

from onlinesim_provider.api import AsyncOnlineSimClient, OnlineSimClient
from onlinesim_provider.api.base import ClientSettings, InsecureTransportWarning
from onlinesim_provider.api.errors import InvalidInputError

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.no_airflow

KEY = "s3cr3t-Key/+="
LOOPBACK = "http://127.0.0.1:8080"


def checked(**settings: Any) -> ClientSettings:
    return ClientSettings.checked({"api_key": KEY, "base_url": LOOPBACK, **settings})


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        pytest.param("base_url", "https://onlinesim.io/", "https://onlinesim.io", id="url-trailing-slash"),
        pytest.param(
            "base_url",
            "https://onlinesim.io/stubs/handler_api.php/",
            "https://onlinesim.io",
            id="url-handler",
        ),
        pytest.param("base_url", " http://127.0.0.1:9/api/ ", "http://127.0.0.1:9/api", id="url-prefix-kept"),
        pytest.param("auth", " Header ", "header", id="auth-text-from-extra"),
        pytest.param("timeout", 7, (7.0, 7.0), id="timeout-number"),
        pytest.param("timeout", "2.5", (2.5, 2.5), id="timeout-text"),
        pytest.param("timeout", [3, "30"], (3.0, 30.0), id="timeout-pair"),
        pytest.param("timeout", "5,30", (5.0, 30.0), id="timeout-form-field"),
        pytest.param("timeout", "[5, 30]", (5.0, 30.0), id="timeout-json-text"),
        pytest.param("proxies", "", None, id="proxies-empty"),
        pytest.param(
            "proxies",
            "http://p.test:3128",
            {"http": "http://p.test:3128", "https": "http://p.test:3128"},
            id="proxy-url",
        ),
        pytest.param(
            "proxies", '{"https": "http://p.test:1"}', {"https": "http://p.test:1"}, id="proxies-json"
        ),
        pytest.param("proxies", {"all": "http://p.test:1"}, {"all": "http://p.test:1"}, id="proxies-mapping"),
        pytest.param("verify", "", None, id="verify-empty"),
        pytest.param("verify", " False ", False, id="verify-text"),
        pytest.param("verify", "true", True, id="verify-true"),
        pytest.param("cancel_status", "8", 8, id="cancel-status-text"),
        pytest.param("rent_close_status", " 1 ", 1, id="rent-close-status-text"),
    ],
)
def test_settings_in_every_form_a_caller_or_connection_gives(
    setting: str, value: object, expected: object
) -> None:
    assert getattr(checked(**{setting: value}), setting) == expected


def test_verify_takes_a_ca_bundle_file_or_directory(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert str(checked(verify=str(bundle)).verify) == str(bundle)
    assert str(checked(verify=str(tmp_path)).verify) == str(tmp_path)


def test_the_settings_given_are_what_a_client_is_built_with() -> None:
    given = ClientSettings.checked({"api_key": KEY, "timeout": "5,30"}).model_dump(exclude_unset=True)
    assert given == {"api_key": KEY, "timeout": (5.0, 30.0)}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        pytest.param(
            "base_url", "ftp://onlinesim.io", "base_url must be an http:// or https:// URL", id="scheme"
        ),
        pytest.param("base_url", "onlinesim.io", "got 'onlinesim.io' (str)", id="no-scheme"),
        pytest.param("base_url", "https://", "with a host", id="no-host"),
        pytest.param("base_url", "https://onlinesim.io:0", "got 'https://onlinesim.io:0'", id="port-zero"),
        pytest.param("base_url", "https://onlinesim.io:http", "onlinesim.io:http", id="port-text"),
        pytest.param("base_url", "https://onlinesim.io/?x=1", "without credentials, query", id="query"),
        pytest.param("base_url", "https://onlinesim.io/#top", "or fragment", id="fragment"),
        pytest.param("base_url", None, "got None", id="url-none"),
        pytest.param("auth", "cookie", "auth must be 'header' or 'query', got 'cookie'", id="auth"),
        pytest.param(
            "timeout", "soon", "timeout must be seconds > 0 or a (connect, read) pair", id="timeout-text"
        ),
        pytest.param("timeout", [1, 2, 3], "got [1, 2, 3]", id="timeout-triple"),
        pytest.param("timeout", True, "got True", id="timeout-bool"),
        pytest.param("timeout", (5, -1), "got (5, -1)", id="timeout-negative"),
        pytest.param(
            "proxies", "proxy.test", "proxies must be a proxy URL or map schemes", id="proxy-no-scheme"
        ),
        pytest.param("proxies", {"https": 5}, "got {'https': 5}", id="proxy-not-text"),
        pytest.param("verify", 2, "verify must be true, false or the path of a CA bundle", id="verify-int"),
        pytest.param("verify", "/no/such/ca.pem", "got '/no/such/ca.pem'", id="verify-missing"),
        pytest.param(
            "cancel_status", 7, "cancel_status must be 6 (OnlineSIM) or 8 (SMS-Activate)", id="cancel-7"
        ),
        pytest.param("cancel_status", True, "got True (bool)", id="cancel-bool"),
        pytest.param("cancel_status", 6.0, "got 6.0 (float)", id="cancel-float"),
        pytest.param(
            "rent_close_status", 3, "rent_close_status must be 2 (OnlineSIM: close) or 1", id="rent-3"
        ),
        pytest.param("rent_close_status", False, "got False", id="rent-bool"),
        pytest.param("extra", 1, "extra is invalid: Extra inputs are not permitted", id="unknown-setting"),
    ],
)
def test_a_bad_setting_is_named_with_its_value(setting: str, value: object, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        checked(**{setting: value})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("api_key", "shown"),
    [
        pytest.param("", "got no API key", id="empty"),
        pytest.param(None, "got no API key", id="none"),
        pytest.param("has space", "got a str; its value is not shown", id="space"),
        pytest.param("new\nline", "got a str; its value is not shown", id="newline"),
        pytest.param("ключ", "got a str; its value is not shown", id="non-ascii"),
        pytest.param(12345, "got a int; its value is not shown", id="int"),
    ],
)
@pytest.mark.parametrize("client_class", [OnlineSimClient, AsyncOnlineSimClient], ids=["sync", "async"])
def test_a_bad_key_is_refused_by_both_clients_without_showing_it(
    client_class: type, api_key: object, shown: str
) -> None:
    with pytest.raises(InvalidInputError, match="api_key must be a non-empty string") as caught:
        client_class(api_key, base_url=LOOPBACK)
    assert shown in str(caught.value)
    if api_key:
        assert str(api_key) not in str(caught.value)


def test_credentials_in_base_url_are_refused_without_showing_the_key() -> None:
    with pytest.raises(InvalidInputError, match="base_url") as caught:
        checked(base_url=f"https://user:{KEY}@onlinesim.io")
    assert KEY not in str(caught.value)
    assert "***" in str(caught.value)


def test_the_retry_policy_must_be_one() -> None:
    with pytest.raises(InvalidInputError, match="retry must be a RetryPolicy or None, got int"):
        OnlineSimClient(KEY, base_url=LOOPBACK, retry=3)  # type: ignore[arg-type]


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
    scrubbed = OnlineSimClient(KEY, base_url=LOOPBACK).scrub(text)
    assert "***" in scrubbed
    for form in (KEY, "s3cr3t-Key", "S3CR3T-KEY", "another-key"):
        assert form not in scrubbed


def test_repr_never_shows_the_key() -> None:
    client = OnlineSimClient(KEY, base_url=LOOPBACK, cancel_status=8)
    assert repr(client) == "OnlineSimClient(base_url='http://127.0.0.1:8080', auth='header', cancel_status=8)"
    assert KEY not in repr(client.settings)


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
