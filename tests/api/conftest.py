"""Fixtures of the client tests: a fast retry policy and a closed port."""

from __future__ import annotations

import socket

import pytest

from onlinesim_provider.api.retry import RetryPolicy

#: Four attempts, 10 ms apart: the retry behaviour of production, without the waiting.
FAST = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.02, max_total=10.0, jitter=0.0)


@pytest.fixture
def closed_url() -> str:
    """Return an http URL on a loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
