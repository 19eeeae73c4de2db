"""The page script as an extension: ``GET /extension.zip`` unpacks to a manifest Chromium
loads (``--load-extension``), and its tab answers exactly as a userscript tab does."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.site_emulator import MAPPED_HOSTS, EmulatorState, wait_for

from .conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CONNECTED,
    SITE,
    Bridge,
    Emulator,
    Tabs,
    userscript_for,
)

PROMPTS = ("Same answer from both packagings", "Ünïcödé ✓ and \"quotes\"\nsecond line")


async def answers(client: openai.AsyncOpenAI) -> list[tuple[str, str | None]]:
    """For each prompt: the streamed text and its finish reason, then the non-stream ones."""
    out: list[tuple[str, str | None]] = []
    for prompt in PROMPTS:
        messages: Any = [{"role": "user", "content": prompt}]
        stream = await client.chat.completions.create(model="echo-model", messages=messages,
                                                      stream=True)
        text, finish = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
        out.append((text, finish))
        done = await client.chat.completions.create(model="echo-model", messages=messages)
        out.append((done.choices[0].message.content or "", done.choices[0].finish_reason))
    return out


@pytest.fixture(scope="module")
async def unpacked(bridge: Bridge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    async with httpx.AsyncClient(base_url=bridge.url) as http:
        res = await http.get("/extension.zip")
    assert res.status_code == 200
    assert res.headers["content-type"] == "application/zip"
    folder = tmp_path_factory.mktemp("extension")
    with zipfile.ZipFile(io.BytesIO(res.content)) as zf:
        zf.extractall(folder)
    return folder


@pytest.fixture(scope="module")
async def extension_context(
    unpacked: Path, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    rules = ", ".join(f"MAP {host}:443 127.0.0.1:{emulator.port}" for host in MAPPED_HOSTS)
    async with async_playwright() as pw:
        ctx = await pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("extension-profile")),
            executable_path=CHROMIUM, headless=True, ignore_https_errors=True,
            ignore_default_args=["--disable-extensions"],
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}",
                  f"--load-extension={unpacked}"],
        )
        yield ctx
        await ctx.close()


async def test_zip_holds_the_userscript_as_a_main_world_content_script(
    unpacked: Path, bridge: Bridge
) -> None:
    manifest = json.loads((unpacked / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    [script] = manifest["content_scripts"]
    assert script["world"] == "MAIN"
    assert script["matches"] == ["https://arena.ai/*", "https://*.arena.ai/*"]
    [name] = script["js"]
    # The one source file, with this bridge's address, as /userscript.user.js serves it.
    assert (unpacked / name).read_text() == userscript_for(bridge.url)
    assert bridge.url in (unpacked / name).read_text()


async def test_extension_tab_answers_like_a_userscript_tab(
    extension_context: Any, context: Any, bridge: Bridge, site: EmulatorState,
    client: openai.AsyncOpenAI, tabs: Tabs,
) -> None:
    """The same requests through a tab of each packaging, one at a time, give the same
    answers (and the extension's tab connects with no userscript injected)."""
    await tabs.ensure(0)  # tabs other tests left open would take the requests
    results = {}
    for packaging, ctx in (("extension", extension_context), ("userscript", context)):
        page = await ctx.new_page()
        try:
            await page.goto(f"{SITE}/?tab={packaging}")
            await page.wait_for_function(f"document.title.includes({json.dumps(CONNECTED)})",
                                         timeout=15000)
            await wait_for(lambda: bridge.ready_workers() == 1, 10,
                           what=f"the {packaging} tab ready")
            results[packaging] = await answers(client)
        finally:
            await page.close()
        await wait_for(lambda: bridge.ready_workers() == 0, 10, what="the tab gone")
    assert results["extension"] == results["userscript"]
    assert results["extension"][0] == (f"Echo: {PROMPTS[0]}", "stop")
    pages = {r.headers.get("referer", "").split("tab=")[-1] for r in site.create_requests}
    assert pages == {"extension", "userscript"}
