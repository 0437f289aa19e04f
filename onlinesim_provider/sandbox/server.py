"""Run the sandbox's aiohttp application on event loops in background threads.

The routes live in :mod:`onlinesim_provider.sandbox.web`; this module binds the port, serves
plain HTTP or, given an :class:`ssl.SSLContext`, HTTPS, and stops cleanly, closing every open
connection. Callers stay synchronous: tests, the CLI and the pytest fixture never see a loop.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from typing import TYPE_CHECKING

from aiohttp import web

from onlinesim_provider.sandbox.app import SandboxApp
from onlinesim_provider.sandbox.config import SandboxConfig
from onlinesim_provider.sandbox.control import SandboxControl
from onlinesim_provider.sandbox.web import API_PATH, CONTROL_PREFIX, build_application

if TYPE_CHECKING:
    import concurrent.futures
    from types import TracebackType

__all__ = ["API_PATH", "CONTROL_PREFIX", "SandboxServer"]

#: Event loops (threads) accepting from the one listening socket side by side. Their socket calls
#: can run on a second core while another loop runs Python, which a single loop cannot do;
#: ``benchmarks/sandbox_throughput.py`` on a loaded two-core machine saturated a little higher on
#: average with 4 than with 1 or 2 (noisy runs). The state has its own lock.
LOOPS = 4
#: Seconds an idle keep-alive connection stays open.
KEEPALIVE_TIMEOUT = 120.0
#: Seconds ``stop()`` lets replies in flight finish before it cuts their connections.
SHUTDOWN_GRACE = 0.5
_BACKLOG = 1024
_THREAD_TIMEOUT = 30.0


class SandboxServer:
    """Run the sandbox on a loopback port, on event loops in background threads.

    :param config: the settings (default: :class:`SandboxConfig` defaults).
    :param host: the address to bind.
    :param port: the port (0 = any free port).
    :param seed: seed for random SMS codes and delivery draws, for reproducible runs (``None``:
        the config's ``seed``).
    :param ssl_context: serve HTTPS with this server-side context (certificate and key loaded);
        ``None`` serves plain HTTP.

    Example::

        with SandboxServer(SandboxConfig(balance="50.00")) as server:
            requests.get(server.url + "/stubs/handler_api.php",
                         params={"action": "getBalance"},
                         headers={"Authorization": f"Bearer {server.api_key}"})

    Over TLS (``server.url`` then starts with ``https://``)::

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain("sandbox.crt", "sandbox.key")
        with SandboxServer(ssl_context=context) as server:
            requests.get(server.api_url, params={"action": "getBalance"}, verify="ca.crt", ...)
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.app = SandboxApp(self.config, seed)
        self._loops: list[_ServingLoop] = []
        self._bound_port = 0
        self._control: SandboxControl | None = None

    def __repr__(self) -> str:
        """Return a representation without the key."""
        return f"SandboxServer(url={self.url if self._loops else None!r})"

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8765`` (API under ``/stubs/handler_api.php``)."""
        if not self._loops:
            raise RuntimeError("the sandbox server is not running: call start() first")
        scheme = "https" if self.ssl_context is not None else "http"
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"{scheme}://{host}:{self._bound_port}"

    @property
    def api_url(self) -> str:
        """Return the full API endpoint URL."""
        return self.url + API_PATH

    @property
    def api_key(self) -> str:
        """Return the API key the sandbox accepts."""
        return self.app.config.api_key

    @property
    def control(self) -> SandboxControl:
        """Return a :class:`SandboxControl` bound to this server.

        Over TLS it skips certificate checks: it talks to this very server object, whose
        certificate a test may have made for another name.
        """
        if self._control is None:
            context = _trust_any_certificate() if self.ssl_context is not None else None
            self._control = SandboxControl(self.url, api_key=self.api_key, ssl_context=context)
        return self._control

    def start(self) -> SandboxServer:
        """Bind the port and serve in daemon threads; return ``self``.

        :raises OSError: the address cannot be bound (in use, not local, ...).
        """
        if self._loops:
            return self
        with _listen(self.host, self.port) as sock:
            try:
                for number in range(LOOPS):
                    application = build_application(self.app)
                    self._loops.append(_ServingLoop(application, sock.dup(), self.ssl_context, number))
            except BaseException:
                self.stop()
                raise
            self._bound_port = int(sock.getsockname()[1])
        return self

    def stop(self) -> None:
        """Stop serving, close the port and every open connection."""
        if self._control is not None:
            self._control.close()
            self._control = None
        cleanups = [serving.begin_stop() for serving in self._loops]
        for serving, cleanup in zip(self._loops, cleanups, strict=True):
            serving.finish_stop(cleanup)
        self._loops = []

    def __enter__(self) -> SandboxServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop the server."""
        self.stop()


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, in the caller's thread, so that a busy port raises OSError to the caller."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=_BACKLOG)


class _ServingLoop:
    """One event loop in a daemon thread, serving an application on its copy of the listening socket.

    :param application: the routes (an aiohttp application belongs to one loop).
    :param sock: the listening socket; the loop owns and closes it.
    :param ssl_context: serve HTTPS with it (``None``: plain HTTP).
    :param number: the loop's number, for the thread name.
    """

    def __init__(
        self,
        application: web.Application,
        sock: socket.socket,
        ssl_context: ssl.SSLContext | None,
        number: int,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name=f"onlinesim-sandbox-{number}", daemon=True
        )
        self.runner = web.AppRunner(
            application,
            access_log=None,  # request lines may carry the API key in the query string
            keepalive_timeout=KEEPALIVE_TIMEOUT,
            shutdown_timeout=SHUTDOWN_GRACE,
            # A delayed reply to a client that gave up is dropped at once, so a delay fault leaves
            # nothing pending when the sandbox stops.
            handler_cancellation=True,
        )
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(_serve(self.runner, sock, ssl_context), self.loop).result(
                _THREAD_TIMEOUT
            )
        except BaseException:
            sock.close()
            self._halt()
            raise

    def begin_stop(self) -> concurrent.futures.Future[None]:
        """Start closing the port and the connections (several loops then stop side by side)."""
        return asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop)

    def finish_stop(self, cleanup: concurrent.futures.Future[None]) -> None:
        """Wait for ``cleanup``, then end the loop and its thread."""
        try:
            cleanup.result(_THREAD_TIMEOUT)
        finally:
            self._halt()

    def _halt(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(_THREAD_TIMEOUT)
        if not self.thread.is_alive():
            self.loop.close()


async def _serve(runner: web.AppRunner, sock: socket.socket, ssl_context: ssl.SSLContext | None) -> None:
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=ssl_context, backlog=_BACKLOG).start()


def _trust_any_certificate() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
