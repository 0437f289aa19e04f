"""Reply bodies of the sandbox: text tokens, compact JSON and the error envelope per action kind."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from onlinesim_provider.sandbox import replies

pytestmark = pytest.mark.no_airflow


@pytest.mark.parametrize(
    ("action", "error_key", "content_type", "body"),
    [
        pytest.param("getNumber", "msg", replies.TEXT_TYPE, b"NO_NUMBERS", id="text-action"),
        pytest.param(None, "msg", replies.TEXT_TYPE, b"NO_NUMBERS", id="no-action"),
        pytest.param(
            "getRentList", "msg", replies.JSON_TYPE, b'{"status":"error","msg":"NO_NUMBERS"}', id="json-msg"
        ),
        pytest.param(
            "getRentStatus",
            "message",
            replies.JSON_TYPE,
            b'{"status":"error","message":"NO_NUMBERS"}',
            id="json-message",
        ),
    ],
)
def test_error_is_text_or_envelope_by_action(
    action: str | None, error_key: str, content_type: str, body: bytes
) -> None:
    assert replies.error(action, "NO_NUMBERS", error_key) == (200, content_type, body, ())


def test_json_reply_keeps_decimals_as_numbers_and_unicode_as_is() -> None:
    reply = replies.json_reply({"price": Decimal("12.50"), "name": "Россия"})
    assert reply.body.decode() == '{"price":12.5,"name":"Россия"}'
    assert json.loads(reply.body) == {"price": 12.5, "name": "Россия"}


def test_json_reply_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match="not JSON serializable: set"):
        replies.json_reply({"ids": {1}})
