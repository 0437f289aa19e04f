"""Headless Chromium (the distribution's package) driven over the DevTools protocol."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from deploy.processes import ComponentError, ManagedProcess, free_port, wait_for

# Flags for a closed network: no background traffic, no first-run work, no GPU.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def chromium_binary() -> str:
    """Return the path of the installed Chromium."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise ComponentError(
        "chromium", "not installed", "install it with: apt-get install -y --no-install-recommends chromium"
    )


class Browser:
    """One headless Chromium with one page, controlled through its DevTools websocket."""

    def __init__(self, log_path: Path, width: int = 1280, height: int = 900) -> None:
        """Describe the browser; nothing starts yet.

        :param log_path: where Chromium's own output goes.
        :param width: the window width in pixels.
        :param height: the window height in pixels.
        """
        self.profile = Path(tempfile.mkdtemp(prefix="onlinesim-chromium-"))
        self.port = free_port()
        argv = [
            chromium_binary(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self.profile}",
            f"--remote-debugging-port={self.port}",
            "--remote-debugging-address=127.0.0.1",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self.process = ManagedProcess("chromium", argv, log_path)
        self._ws: ClientConnection | None = None
        self._closing = contextlib.ExitStack()
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        """Start Chromium and attach to its page."""
        self.process.start()

        def page_socket() -> str | None:
            targets = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5).json()
            pages = [t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"]
            return pages[0] if pages else None

        try:
            ws_url = wait_for(
                "Chromium offers a page to debug", page_socket, 30, [self.process], self.process
            )
            self._ws = self._closing.enter_context(connect(str(ws_url), max_size=None, open_timeout=10))
            self.send("Page.enable")
            self.send("Runtime.enable")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the connection, stop Chromium and remove its profile."""
        try:
            self._closing.close()
        finally:
            self.process.stop(grace=5)
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call one DevTools method and return its result (events meanwhile are dropped).

        :param method: e.g. ``Page.navigate``.
        :param params: the method's parameters.
        """
        assert self._ws is not None, "use the browser in a with block"
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise ComponentError(
                        "chromium", f"{method} failed: {message['error']}", self.process.tail()
                    )
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its (JSON-able) value.

        :param expression: the script; a promise is awaited.
        """
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise ComponentError("chromium", f"script failed: {reply['exceptionDetails']}", expression)
        return reply.get("result", {}).get("value")

    def wait_until(self, what: str, expression: str, timeout: float = 30) -> Any:
        """Evaluate ``expression`` until it is truthy; return its value.

        :param what: what is awaited, for the error message.
        :param expression: the JavaScript condition.
        :param timeout: seconds.
        """
        return wait_for(what, lambda: self.evaluate(expression), timeout, [self.process], self.process)

    def set_cookie(self, url: str, name: str, value: str) -> None:
        """Set a cookie for ``url`` before the page asks for it.

        :param url: the site.
        :param name: the cookie's name.
        :param value: its value.
        """
        self.send("Network.setCookie", url=url, name=name, value=value, httpOnly=True)

    def navigate(self, url: str) -> None:
        """Open ``url`` and wait until the document has loaded.

        :param url: the address.
        """
        self.send("Page.navigate", url=url)
        time.sleep(0.2)
        self.wait_until(f"{url} has loaded", "document.readyState === 'complete'")

    def click(self, element: str) -> None:
        """Click the middle of an element with the mouse, as a person would.

        :param element: a JavaScript expression that yields the element.
        """
        box = self.evaluate(
            f"(() => {{ const e = {element}; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def type_text(self, text: str) -> None:
        """Type ``text`` into the focused element.

        :param text: what to type.
        """
        self.send("Input.insertText", text=text)

    def press(self, key: str, code: str, key_code: int) -> None:
        """Press and release one key in the focused element.

        :param key: the DOM key name, e.g. ``Enter``.
        :param code: the DOM code, e.g. ``Enter``.
        :param key_code: the Windows virtual key code, e.g. 13.
        """
        for kind in ("keyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=code,
                windowsVirtualKeyCode=key_code,
                nativeVirtualKeyCode=key_code,
            )

    def screenshot(self, path: Path) -> Path:
        """Save the visible page as a PNG file.

        :param path: where to write it.
        """
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
