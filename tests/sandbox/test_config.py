"""The sandbox's run-time settings: validation that names the bad switch, and a hidden key."""

from __future__ import annotations

from typing import Any

import pytest

from onlinesim_provider.sandbox import SandboxConfig


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"balance": "-1"}, "balance"),
        ({"balance": "ten"}, "balance"),
        ({"error_key": "error"}, "error_key"),
        ({"cancel_status": 7}, "cancel_status"),
        ({"values_format": "dict"}, "values_format"),
        ({"number_format": "e164"}, "number_format"),
        ({"auth": "cookie"}, "auth"),
        ({"speed": 0}, "speed"),
        ({"sms_delay": -1}, "sms_delay"),
        ({"api_key": ""}, "api_key"),
        ({"early_cancel_seconds": -1}, "early_cancel_seconds"),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else "",
)
def test_config_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SandboxConfig(**kwargs)


def test_config_repr_hides_the_key() -> None:
    assert "secret-value" not in repr(SandboxConfig(api_key="secret-value"))
