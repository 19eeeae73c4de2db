"""End to end: /monitor in headless Chromium while scripted tabs answer requests.

A ScriptedWorker stands in for the site tab (the page under test is the monitor, not the
userscript), so this needs no site emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from lmarena_bridge.config.editor import set_value
from lmarena_bridge.config.files import write_atomic
from tests.conftest import wait_for
from tests.support.workers import ScriptedWorker, finish_line, last_user_text, text_lines

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
MIN_SCREENSHOT_BYTES = 10 * 1024


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(chromium: Any) -> AsyncIterator[Any]:
    ctx = await chromium.new_context(viewport={"width": 1280, "height": 900})
    pg = await ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    await ctx.close()
    assert errors == [], f"JavaScript errors on the monitor page: {errors}"


class Site:
    """Tab behaviour by user text: ``fail`` errors, ``hold ...`` streams slowly and waits
    for ``release``, anything else is echoed at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        text = last_user_text(payload)
        if text == "fail":
            await w.send({"request_id": rid, "error": {
                "message": "HTTP 429", "status": 429, "content_type": "application/json",
                "body": '{"error":"Too Many Requests"}', "headers": {"retry-after": "9"}}})
            return
        for line in text_lines(text, size=3):
            await w.data(rid, line)
            if text.startswith("hold"):
                await asyncio.sleep(0.05)
        if text.startswith("hold"):
            await self.release.wait()
        await w.data(rid, finish_line())
        await w.done(rid)


def rows(page: Any, testid: str) -> Any:
    return page.locator(f'[data-testid="{testid}"]')


async def test_monitor_shows_tabs_requests_and_results(
    make_bridge, workers, page: Any, tmp_path: Path
) -> None:
    srv = await make_bridge()
    site = Site()
    w = await workers(srv.ws_url, handler=site)
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0,
                                  timeout=20) as client:
        done = await client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": "hello monitor"}])
        assert done.choices[0].message.content == "hello monitor"
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(
                model="echo-model", messages=[{"role": "user", "content": "fail"}])

        await page.goto(f"{srv.url}/monitor")
        await page.wait_for_selector('[data-testid="connection"]:has-text("live")')
        tab = rows(page, "tab-row")
        await tab.first.wait_for()
        tab_text = await tab.first.inner_text()
        # The site's 429 (retry-after 9) rests the tab's account: the monitor says so.
        assert "https://arena.ai/c/test" in tab_text and "cooling down" in tab_text
        accounts = await page.locator('[data-testid="accounts"]').inner_text()
        assert "cooling_down: rate_limit until" in accounts
        assert await rows(page, "recent-row").count() == 2
        assert "Too Many Requests" in await rows(page, "error-item").first.inner_text()
        config = await page.locator('[data-testid="config"]').inner_text()
        assert "create" in config and "direct-battle" in config  # the default strategy
        srv.app.state.bridge.pool.clear_accounts()  # the account is fine again
        await page.wait_for_function(
            """() => !document.querySelector('[data-testid="accounts"]').innerText
                         .includes('cooling_down')""", timeout=5_000)

        held = "hold " + "streaming slowly " * 4
        request = asyncio.create_task(client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": held}], stream=True))
        flight = rows(page, "inflight-row")
        await flight.first.wait_for()
        await page.wait_for_function(
            """() => {
                const row = document.querySelector('[data-testid="inflight-row"]');
                return row && Number(row.cells[2].textContent.replace(/\\D/g, '')) > 30;
            }""",
            timeout=10_000,
        )
        flight_text = await flight.first.inner_text()
        assert "echo-model" in flight_text and w.worker_id in flight_text
        assert "busy" in await tab.first.inner_text()

        shot = tmp_path / "monitor.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.exists() and shot.stat().st_size > MIN_SCREENSHOT_BYTES

        site.release.set()
        stream = await request
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == held

    await page.wait_for_function(
        """() => document.querySelectorAll('[data-testid="recent-row"]').length === 3""")
    assert await flight.count() == 0
    newest = await rows(page, "recent-row").first.inner_text()
    assert "echo-model" in newest and "success" in newest and "200" in newest

    # The Refresh button reloads the tab.
    await tab.first.get_by_role("button", name="Refresh").click()
    await wait_for(lambda: w.commands == ["refresh"])

    # Actions answer in the output panel.
    await page.get_by_role("button", name="Copy userscript link").click()
    output = page.locator('[data-testid="action-output"]')
    await page.wait_for_function(
        """() => document.querySelector('[data-testid="action-output"]')
                  .textContent.includes('/userscript.user.js')""")
    assert f"{srv.url}/userscript.user.js" in await output.inner_text()
    await page.get_by_role("button", name="Update models").click()
    # The bridge's answer (its message, or the status when it has none), not "Sending…".
    await page.wait_for_function(
        """() => {
            const text = document.querySelector('[data-testid="action-output"]').textContent;
            return text.startsWith('Update models') && !text.includes('Sending');
        }""")
    assert "page source" in await output.inner_text()

    # A tab that leaves disappears.
    await w.close()
    await page.wait_for_selector('[data-testid="tab-row"]', state="detached")


async def test_monitor_asks_for_the_api_key_once(make_bridge, workers, page: Any) -> None:
    srv = await make_bridge({"api_key": "s3cret"})
    await workers(srv.ws_url)
    await page.goto(f"{srv.url}/monitor")
    await page.wait_for_selector("#key-panel:not([hidden])")
    assert await rows(page, "tab-row").count() == 0

    await page.fill("#key-input", "wrong")
    await page.click("#key-save")
    await page.wait_for_selector("#key-message:has-text('not accepted')")

    await page.fill("#key-input", "s3cret")
    await page.press("#key-input", "Enter")
    await rows(page, "tab-row").first.wait_for()
    assert await page.locator("#key-panel").is_hidden()

    await page.reload()  # the key is remembered in this browser
    await rows(page, "tab-row").first.wait_for()
    assert await page.evaluate("localStorage.getItem('lmarena-bridge.monitor.key')") == "s3cret"


async def test_capture_ids_is_offered_only_with_the_retry_strategy(make_bridge, page: Any):
    srv = await make_bridge()  # the default create strategy captures nothing
    await page.goto(f"{srv.url}/monitor")
    await page.wait_for_selector('[data-testid="config"] dt')
    assert await page.get_by_role("button", name="Update models").is_visible()
    assert await page.get_by_role("button", name="Capture ids").count() == 0  # hidden
    # Switching to retry in config.jsonc brings it back without a reload.
    path = srv.app.state.bridge.config_dir / "config.jsonc"
    write_atomic(path, set_value(path.read_text(), ["site_strategy"], "retry"))
    await page.get_by_role("button", name="Capture ids").wait_for(timeout=10_000)


async def test_capture_ids_without_a_tab_says_so_in_words(make_bridge, page: Any) -> None:
    # A bridge of its own: the e2e session bridge has the site tabs of other modules.
    srv = await make_bridge({"site_strategy": "retry"})
    await page.goto(f"{srv.url}/monitor")
    await page.get_by_role("button", name="Capture ids").click()
    output = page.locator('[data-testid="action-output"]')
    await page.wait_for_function(
        """() => document.querySelector('[data-testid="action-output"]')
                  .textContent.includes('not done')""")
    text = await output.inner_text()
    assert "Capture ids: not done" in text
    assert "No browser tab is connected" in text
    assert "{" not in text and "503" not in text  # not the raw JSON answer
