"""The emulator in real Chromium over TLS: host mapping, the fake grecaptcha, the page.

One browser for the module; skipped without Chromium or openssl. This is the only place the
script's XHR, CORS and the async script tag meet a real browser before the e2e suite.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.site_emulator import MAPPED_HOSTS, EmulatorState, create_emulator, make_cert
from tests.site_emulator.recaptcha import check_token

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Any, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    try:
        cert, key = make_cert(tmp_path_factory.mktemp("tls"))
    except RuntimeError as exc:
        pytest.skip(str(exc))
    from playwright.async_api import async_playwright

    state = EmulatorState()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(
        create_emulator(state), lifespan="off", log_level="warning", access_log=False,
        ssl_certfile=str(cert), ssl_keyfile=str(key), timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    rules = ", ".join(f"MAP {host}:443 127.0.0.1:{port}" for host in MAPPED_HOSTS)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=[*ARGS, f"--host-resolver-rules={rules}"])
            context = await browser.new_context(ignore_https_errors=True)
            yield state, await context.new_page()
            await browser.close()
    finally:
        server.should_exit = True
        await task


async def test_in_the_page_execute_mints_a_token_and_the_retry_button_uses_it(
    site: tuple[EmulatorState, Any],
) -> None:
    state, page = site
    await page.goto("https://lmarena.ai/?from=old")
    assert page.url == "https://arena.ai/?from=old"  # the 301
    await page.wait_for_function("window.grecaptcha && window.grecaptcha.enterprise")
    token = await page.evaluate(
        "grecaptcha.enterprise.execute(SITEKEY, {action: 'chat_submit'})")
    assert token.startswith("emu.")
    assert state.recaptcha_mints[-1].origin == "https://arena.ai"
    foreign = await page.evaluate(
        "grecaptcha.enterprise.execute('other-key', {action: 'x'}).then(() => 'ok', () => 'no')")
    assert foreign == "no"

    await page.click("#retry-btn")
    await page.wait_for_function("document.querySelector('#retry-btn').dataset.done")
    assert await page.get_attribute("#retry-btn", "data-done") == "ok"
    assert await page.text_content(".message.assistant .content") == "Echo: Hello there"
    assert [(c.action, c.reason) for c in state.recaptcha_checks] == [("chat_retry", "ok")]


async def test_the_visible_v2_widget_gives_a_token_when_clicked(
    site: tuple[EmulatorState, Any],
) -> None:
    state, page = site
    await page.goto("https://arena.ai/?v2")
    await page.wait_for_function("window.grecaptcha && window.grecaptcha.enterprise")
    await page.evaluate("""(key) => {
        const el = document.createElement('div');
        el.id = 'v2-slot';
        document.body.appendChild(el);
        window.v2Id = grecaptcha.enterprise.render(el, {sitekey: key,
            callback: (token) => { window.v2Token = token; }});
    }""", state.recaptcha_v2_sitekey)
    await page.click("#v2-slot #emulator-recaptcha-v2-checkbox")
    token = await (await page.wait_for_function("window.v2Token")).json_value()
    assert await page.evaluate("grecaptcha.enterprise.getResponse(window.v2Id)") == token
    assert state.recaptcha_mints[-1].kind == "v2"
    assert state.recaptcha_mints[-1].origin == "https://arena.ai"
    check = check_token(state, {"recaptchaV2Token": token}, "chat_submit", "/test")
    assert (check.kind, check.reason) == ("v2", "ok")

    # A widget for a key the fake does not know shows Google's error and cannot be clicked.
    await page.evaluate("""() => {
        const el = document.createElement('div');
        el.id = 'bad-slot';
        document.body.appendChild(el);
        grecaptcha.enterprise.render(el, {sitekey: 'not-the-v2-key', callback: () => {}});
    }""")
    assert await page.is_disabled("#bad-slot #emulator-recaptcha-v2-checkbox")
    assert "Invalid site key" in await page.inner_text("#bad-slot")
