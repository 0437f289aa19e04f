"""The browser part of the deployment test: Chromium found by path, driven by Playwright.

The test that starts Chromium needs the Debian package, so it belongs to the ``deployment`` layer
(``make test-deployment`` installs the package first).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import pytest

from deploy import connection_form
from deploy.connection_form import chromium_binary, chromium_page, side_by_side
from deploy.processes import ComponentError

if TYPE_CHECKING:
    from pathlib import Path


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_a_missing_chromium_names_the_command_that_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_form.shutil, "which", lambda name: None)
    with pytest.raises(ComponentError, match=r"chromium: not installed") as failure:
        chromium_binary()
    assert "apt-get install -y --no-install-recommends chromium" in str(failure.value)


@pytest.mark.deployment
def test_two_panels_are_saved_side_by_side_in_one_png(tmp_path: Path) -> None:
    log = tmp_path / "chromium.log"
    with chromium_page(log) as page:
        page.set_content(
            "<div id=a style='width:300px;height:200px;background:#c00'></div>"
            "<div id=b style='width:200px;height:400px;background:#00c'></div>"
            "<script>console.log('drawn')</script>"
        )
        left, right = page.locator("#a").screenshot(), page.locator("#b").screenshot()
        side_by_side(page, left, right, tmp_path / "both.png")
    assert (png_size(left), png_size(right)) == ((300, 200), (200, 400))
    # 16 px padding around, a 16 px gap between, aligned at the top.
    assert png_size((tmp_path / "both.png").read_bytes()) == (16 + 300 + 16 + 200 + 16, 16 + 400 + 16)
    assert "console log: drawn" in log.read_text()
