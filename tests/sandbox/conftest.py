"""Helpers for the sandbox's HTTP tests: a plain ``requests`` client bound to the sandbox fixture."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.sandbox.state_api import Api

if TYPE_CHECKING:
    from collections.abc import Iterator

    from onlinesim_provider.sandbox import SandboxControl


class RawApi:
    """Speak the Alternative API with ``requests`` only (deliberately not the project's client)."""

    def __init__(self, control: SandboxControl) -> None:
        self.control = control
        self.url = control.url + "/stubs/handler_api.php"
        self.key = control.api_key
        self.session = requests.Session()

    def get(self, action: str | None, *, auth: str = "header", **params: Any) -> requests.Response:
        query = {k: str(v) for k, v in params.items()}
        if action is not None:
            query["action"] = action
        headers = {}
        if auth == "header":
            headers["Authorization"] = f"Bearer {self.key}"
        elif auth == "query":
            query["api_key"] = self.key
        return self.session.get(self.url, params=query, headers=headers, timeout=10)

    def text(self, action: str | None, **params: Any) -> str:
        response = self.get(action, **params)
        assert response.status_code == 200
        return response.text

    def json(self, action: str, **params: Any) -> Any:
        response = self.get(action, **params)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        return json.loads(response.text)

    def order(self, service: str = "tg", **params: Any) -> int:
        reply = self.text("getNumber", service=service, **params)
        assert reply.startswith("ACCESS_NUMBER:"), reply
        return int(reply.split(":")[1])

    def rent(self, country: str = "7", **params: Any) -> int:
        document = self.json("getRentNumber", country=country, **params)
        assert document["status"] == "success", document
        return int(document["phone"]["id"])


@pytest.fixture
def raw_api(onlinesim_sandbox: SandboxControl) -> Iterator[RawApi]:
    api = RawApi(onlinesim_sandbox)
    yield api
    api.session.close()


@pytest.fixture
def api() -> Api:
    """A fresh sandbox state with the default world and a 1000.00 balance."""
    return Api()
