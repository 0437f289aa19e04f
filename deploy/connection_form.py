"""Open Airflow's "Add Connection" form for OnlineSIM in headless Chromium and photograph it."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from deploy.browser import Browser

if TYPE_CHECKING:
    from pathlib import Path

_DIALOG = "document.querySelector('[role=dialog]')"
_BUTTONS = "Array.from(document.querySelectorAll('button'))"
_LABELS = (
    "Array.from(document.querySelectorAll('[role=dialog] label'))"
    ".filter(l => l.offsetParent !== null).map(l => l.innerText.replace('*', '').trim())"
)


def _button(text: str, scope: str = "document") -> str:
    return (
        f"Array.from({scope}.querySelectorAll('button')).find(b => b.innerText.trim() === {json.dumps(text)})"
    )


def _dialog_png(browser: Browser) -> bytes:
    box = browser.evaluate(
        f"(() => {{ const r = {_DIALOG}.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()"
    )
    clip = {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "scale": 1}
    return base64.b64decode(browser.send("Page.captureScreenshot", format="png", clip=clip)["data"])


def capture_connection_form(
    base_url: str, token: str, conn_type_label: str, path: Path, log_path: Path
) -> dict[str, Any]:
    """Fill the "Add Connection" form up to the connection type and save both panels as one PNG.

    The form shows the standard fields and the extra fields in an accordion that opens one panel
    at a time, so the picture puts the two panels side by side.

    :param base_url: the api-server (which also serves the web UI).
    :param token: a JWT of a user allowed to add connections (the UI's ``_token`` cookie).
    :param conn_type_label: the connection type as the form lists it, e.g. ``OnlineSIM``.
    :param path: where to save the PNG.
    :param log_path: where Chromium's own output goes.
    :return: ``{"standard": [labels], "extra": [labels], "placeholders": {...}}`` as shown.
    """
    with Browser(log_path) as browser:
        browser.send(
            "Emulation.setDeviceMetricsOverride", width=1280, height=1400, deviceScaleFactor=1, mobile=False
        )
        browser.set_cookie(base_url, "_token", token)
        browser.navigate(f"{base_url}/connections")
        add = _button("Add Connection")
        browser.wait_until("the Connections page offers 'Add Connection'", f"!!{add}")
        browser.click(add)
        browser.wait_until(
            "the form asks for a connection type", f"!!{_DIALOG}?.querySelector('[role=combobox]')"
        )
        browser.click(f"{_DIALOG}.querySelector('input[name=connection_id]')")
        browser.type_text("onlinesim_default")
        browser.click(f"{_DIALOG}.querySelector('[role=combobox]')")
        browser.type_text(conn_type_label)
        browser.wait_until(
            f"the type list offers {conn_type_label}",
            "Array.from(document.querySelectorAll('[role=option]'))"
            f".some(o => o.innerText.trim() === {json.dumps(conn_type_label)})",
        )
        browser.press("Enter", "Enter", 13)
        browser.wait_until("the standard fields are shown", f"{_LABELS}.includes('API key') && {_LABELS}")
        standard = browser.evaluate(f"{_LABELS}")
        placeholders = browser.evaluate(
            "Object.fromEntries(Array.from(document.querySelectorAll('[role=dialog] input[placeholder]'))"
            ".map(i => [i.name, i.placeholder]))"
        )
        left = _dialog_png(browser)
        browser.click(_button("Extra Fields", _DIALOG))
        browser.wait_until(
            "the extra fields are shown",
            f"(() => {{ const f = Array.from({_DIALOG}.querySelectorAll('label'))"
            ".find(l => l.innerText.trim() === 'Auth style'); return !!f && f.offsetParent !== null; })()",
        )
        browser.evaluate("new Promise(r => setTimeout(r, 400))")  # let the panel finish opening
        extra = browser.evaluate(_LABELS)
        right = _dialog_png(browser)
        _side_by_side(browser, left, right, path)
    return {"standard": standard, "extra": extra, "placeholders": placeholders}


def _side_by_side(browser: Browser, left: bytes, right: bytes, path: Path) -> None:
    """Lay two PNGs next to each other on a neutral page and save that page as one PNG."""
    images = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}">' for png in (left, right)
    )
    page = (
        "<html><body style='margin:0;padding:16px;background:#e2e8f0;display:inline-flex;gap:16px;"
        f"align-items:flex-start'>{images}</body></html>"
    )
    browser.send("Page.navigate", url="about:blank")
    browser.wait_until("a blank page", "document.readyState === 'complete'")
    browser.evaluate(f"document.open(); document.write({json.dumps(page)}); document.close(); true")
    browser.wait_until("both panels are drawn", "Array.from(document.images).every(i => i.complete)")
    size = browser.evaluate(
        "(() => { const r = document.body.getBoundingClientRect();"
        " return [Math.ceil(r.width), Math.ceil(r.height)]; })()"
    )
    clip = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
    browser.send(
        "Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1, mobile=False
    )
    data = browser.send("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))
