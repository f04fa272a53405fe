"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright) on a real server.

Skipped where /usr/bin/chromium or Playwright is missing (CI installs both: see docs/server.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from server.wire import Backend
from tests.server.conftest import live_server, make_settings
from tests.server.factory import PASSWORD, finding, heartbeat, make_model, upload

CHROMIUM = os.environ.get("TENSORSMITH_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def test_filter_open_triage_and_download(browser, sqlite_url: str, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.server.conftest import _empty

    _empty(sqlite_url)
    settings = make_settings(sqlite_url)
    with live_server(settings) as url:
        with httpx.Client(base_url=url) as http:
            xss = "<script>window.pwned = 1</script>"
            upload(http, finding(f"wrong_result in Add {xss}", error_log=xss), model=make_model(("Relu", "Neg", "Abs")))
            upload(http, finding("crash in Conv", backend=Backend(name="tvm", version="0.18.0")))
            upload(http, finding("crash in Conv", backend=Backend(name="tvm", version="0.19.0")))
            heartbeat(http, tests_total=1200)
        page = browser.new_page(accept_downloads=True)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(f"{url}/buckets")
        assert page.locator("table.buckets tbody tr").count() == 2
        assert page.evaluate("window.pwned") is None  # injected markup is text, not script
        page.select_option("select[name=backend]", "tvm")  # applies on change (app.js)
        page.wait_for_url("**/buckets?*backend=tvm*")
        rows = page.locator("table.buckets tbody tr")
        assert rows.count() == 1 and "crash in Conv" in rows.first.inner_text()

        page.goto(f"{url}/buckets?sort=-count")
        page.fill("input[name=q]", "wrong_result")
        page.click("form#filters button[type=submit]")
        page.click("text=wrong_result in Add")
        assert page.locator("svg.graph text", has_text="Neg").count() == 1
        assert "<script>" in page.locator("#error-log").inner_text()
        assert page.evaluate("window.pwned") is None

        page.click("text=Sign in")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button")
        page.wait_for_selector("#status-form")
        assert page.locator(".when-reported").is_hidden()
        page.select_option("#status-select", "reported")
        assert page.locator(".when-reported").is_visible()
        page.fill("input[name=reported_url]", "https://github.com/microsoft/onnxruntime/issues/1")
        page.click("#status-form button")
        page.wait_for_selector("a:has-text('upstream report')")
        assert "reported" in page.locator(".summary .status").first.inner_text()
        assert "reported https://github.com/microsoft/onnxruntime/issues/1" in page.locator("#events").inner_text()

        with page.expect_download() as info:
            page.click("a.repro")
        download = info.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert saved.name.endswith("repro.py") and "import onnxruntime" in saved.read_text()

        page.goto(f"{url}/campaigns")
        page.click("text=camp-1")
        assert page.locator("#alive").inner_text() == "1"
        assert page.locator("figure.plot svg").count() == 3
        page.screenshot(path=str(tmp_path / "campaign.png"))
        assert not errors, errors
