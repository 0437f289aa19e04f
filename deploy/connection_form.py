"""Open Airflow's "Add Connection" form for OnlineSIM in headless Chromium and photograph it.

Playwright drives the distribution's Chromium, launched by path: Playwright's own browser
download is never used, so the test needs nothing beyond PyPI and Debian packages.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
from typing import TYPE_CHECKING, Any

from deploy.processes import ComponentError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Locator, Page

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
#: Milliseconds any one step may take (the api-server builds the UI's assets on first use).
STEP_TIMEOUT_MS = 60_000
#: The labels of the visible fields, without the "required" star.
_VISIBLE_LABELS = (
    "labels => labels.filter(l => l.offsetParent !== null).map(l => l.innerText.replace('*', '').trim())"
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


@contextlib.contextmanager
def chromium_page(log_path: Path) -> Iterator[Page]:
    """Launch headless Chromium and yield one page; its console messages and errors go to a log.

    :param log_path: where the page's console messages and errors go (appended).
    """
    from playwright.sync_api import sync_playwright

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright, log_path.open("a", encoding="utf-8") as log:
        browser = playwright.chromium.launch(
            executable_path=chromium_binary(), args=list(CHROMIUM_FLAGS), timeout=STEP_TIMEOUT_MS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1400}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.on("console", lambda message: print(f"console {message.type}: {message.text}", file=log))
            page.on("pageerror", lambda error: print(f"page error: {error}", file=log))
            yield page
        finally:
            browser.close()


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
    :param log_path: where the page's console messages and errors go.
    :return: ``{"standard": [labels], "extra": [labels], "placeholders": {...}}`` as shown.
    """
    with chromium_page(log_path) as page:
        page.context.add_cookies([{"name": "_token", "value": token, "url": base_url}])
        return _fill_and_photograph(page, base_url, conn_type_label, path)


def _fill_and_photograph(page: Page, base_url: str, conn_type_label: str, path: Path) -> dict[str, Any]:
    page.goto(f"{base_url}/connections")
    page.get_by_role("button", name="Add Connection", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[name=connection_id]").fill("onlinesim_default")
    dialog.get_by_role("combobox").click()
    page.keyboard.type(conn_type_label)
    page.get_by_role("option", name=conn_type_label, exact=True).wait_for()
    page.keyboard.press("Enter")
    _label(dialog, "API key").wait_for()
    standard = _labels(dialog)
    placeholders = dialog.locator("input[placeholder]").evaluate_all(
        "inputs => Object.fromEntries(inputs.map(i => [i.name, i.placeholder]))"
    )
    left = dialog.screenshot()  # waits until the dialog is visible and no longer moving
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    _label(dialog, "Auth style").wait_for()
    extra = _labels(dialog)
    right = dialog.screenshot()
    side_by_side(page, left, right, path)
    return {"standard": standard, "extra": extra, "placeholders": placeholders}


def _label(dialog: Locator, text: str) -> Locator:
    """Return the dialog's label that reads exactly ``text`` (a trailing "required" star allowed)."""
    return dialog.locator("label").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$"))


def _labels(dialog: Locator) -> list[str]:
    labels: list[str] = dialog.locator("label").evaluate_all(_VISIBLE_LABELS)
    return labels


def side_by_side(page: Page, left: bytes, right: bytes, path: Path) -> None:
    """Lay two PNGs next to each other on a neutral page and save that page as one PNG.

    :param page: the page to draw on (its content is replaced).
    :param left: the first PNG.
    :param right: the second PNG.
    :param path: where to save the result.
    """
    images = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}">' for png in (left, right)
    )
    page.set_content(
        "<html><body style='margin:0;padding:16px;background:#e2e8f0;display:inline-flex;gap:16px;"
        f"align-items:flex-start'>{images}</body></html>"
    )
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.locator("body").screenshot(path=path)
