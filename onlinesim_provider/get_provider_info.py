"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

The connection form is declared once, here: ``CONN_FIELDS`` and ``UI_FIELD_BEHAVIOUR`` are what
the Airflow 3.2+ UI reads from ``get_provider_info()``, and the hook's legacy classmethods
(read by Airflow 2.11-3.1) are built from the same two constants. This module imports nothing
heavy: Airflow calls it while discovering providers.
"""

from __future__ import annotations

from typing import Any

from onlinesim_provider import __version__
from onlinesim_provider.api.protocol import DEFAULT_BASE_URL

__all__ = [
    "CONN_TYPE",
    "CONN_FIELDS",
    "DEFAULT_CONN_ID",
    "HOOK_CLASS",
    "HOOK_NAME",
    "UI_FIELD_BEHAVIOUR",
    "get_provider_info",
]

INTEGRATION = "OnlineSIM"
CONN_TYPE = "onlinesim"
HOOK_NAME = "OnlineSIM"
HOOK_CLASS = "onlinesim_provider.hooks.onlinesim.OnlineSimHook"
#: The connection id every hook, operator, sensor and trigger uses unless told otherwise.
DEFAULT_CONN_ID = "onlinesim_default"

#: Extra fields of the ``onlinesim`` connection (stored in ``Connection.extra``).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth": {
        "label": "Auth style",
        "description": "header: send the key as 'Authorization: Bearer' (default); "
        "query: as the api_key parameter, for servers that accept only that.",
        "schema": {"type": ["string", "null"], "enum": ["header", "query"], "default": "header"},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Seconds per request, such as 30, or connect and read seconds, such as 5,30 "
        "or [5, 30] (default: 5 s to connect, 30 s to read).",
        # A string: one field takes both forms; the connection settings code parses and checks it.
        "schema": {"type": ["string", "null"]},
    },
    "cancel_status": {
        "label": "Cancel status",
        "description": "setStatus value that cancels an activation: 6 on OnlineSIM (default), "
        "8 on SMS-Activate-style servers.",
        "schema": {"type": ["integer", "null"], "enum": [6, 8], "default": 6},
    },
    "rent_close_status": {
        "label": "Rent close status",
        "description": "setRentStatus value that closes a rent: 2 on OnlineSIM (default), "
        "1 (finish) on SMS-Activate-style servers, where 2 cancels.",
        "schema": {"type": ["integer", "null"], "enum": [1, 2], "default": 2},
    },
    "proxies": {
        "label": "Proxies",
        "description": 'One proxy URL for every request, or JSON such as {"https": "http://proxy:3128"}.',
        "schema": {"type": ["string", "null"]},
    },
    "verify": {
        "label": "TLS verification",
        "description": "true, false, or the path of a CA bundle; empty: REQUESTS_CA_BUNDLE / SSL_CERT_FILE.",
        "schema": {"type": ["string", "null"]},
    },
}

#: How the standard connection fields are shown (keys as in provider.yaml).
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port", "extra"],
    "relabeling": {"password": "API key", "host": "Base URL"},
    "placeholders": {
        "host": DEFAULT_BASE_URL,
        "password": "OnlineSIM API key",
        "auth": "header",
        "timeout": "5,30",
        "cancel_status": "6",
        "rent_close_status": "2",
        "proxies": "http://proxy.example:3128",
        "verify": "/etc/ssl/certs/corporate-ca.pem",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata: hooks, operators, sensors, triggers, connection type."""
    return {
        "package-name": "airflow-provider-onlinesim",
        "name": "OnlineSIM",
        "description": "OnlineSIM Alternative API (SMS-Activate compatible): order virtual numbers, "
        "wait for SMS codes, always clean up.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://onlinesim.io/docs/api/en",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["onlinesim_provider.hooks.onlinesim"]}
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "onlinesim_provider.operators.onlinesim",
                    "onlinesim_provider.operators.rotation",
                ],
            }
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["onlinesim_provider.sensors.onlinesim"]}
        ],
        "task-decorators": [
            {
                "class-name": "onlinesim_provider.decorators.onlinesim.onlinesim_verification_task",
                "name": "onlinesim_verification",
            }
        ],
        "triggers": [
            {"integration-name": INTEGRATION, "python-modules": ["onlinesim_provider.triggers.onlinesim"]}
        ],
        "connection-types": [
            {
                "hook-class-name": HOOK_CLASS,
                "hook-name": HOOK_NAME,
                "connection-type": CONN_TYPE,
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
