"""End to end: the CLI tools and /v1/images/generations with our userscript in Chromium on
the emulated site (the bridge and the tabs are the session's, shared with other modules;
every test puts back the files it changes). Captured ids serve the legacy "retry" strategy,
so the capture tests run the bridge with it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.site_emulator import IMAGE_MODEL_ID, EmulatorState, wait_for
from tests.site_emulator.catalog import model_catalog
from tests.tools.tool_runner import ToolRun

from .conftest import SITE, Bridge, Tabs

STALE_SID = "00000000-0000-4000-8000-00000000000a"
STALE_MID = "00000000-0000-4000-8000-00000000000b"


@pytest.fixture
async def restore(bridge: Bridge) -> AsyncIterator[None]:
    """The shared bridge's config files as they were before the test."""
    names = ("config.jsonc", "models.json", "model_endpoint_map.json", "available_models.json")
    saved = {n: (bridge.config_dir / n).read_bytes() for n in names}
    store = bridge.app.state.bridge.config_store
    yield
    for name, data in saved.items():
        if (bridge.config_dir / name).read_bytes() != data:
            (bridge.config_dir / name).write_bytes(data)
    store.reload()


def tool(bridge: Bridge, command: str, *extra: str) -> list[str]:
    argv = [command, "--config-dir", str(bridge.config_dir), "--bridge-url", bridge.url]
    if command == "capture-ids":
        argv.append("--no-side-channel")  # our userscript reports over the WebSocket
    return [*argv, *extra]


async def armed(page: Any) -> None:
    await page.wait_for_function("document.title.includes('🎯')", timeout=10000)


async def test_capture_ids_from_a_retry_click(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI, restore: None,
    legacy_retry: None,
) -> None:
    (page,) = await tabs.ensure(1)
    direct = site.direct_session
    store = bridge.app.state.bridge.config_store
    path: Path = bridge.config_dir / "config.jsonc"
    # A hand-edited config with comments and stale ids.
    data = json.loads(path.read_text("utf-8"))
    data.update(session_id=STALE_SID, message_id=STALE_MID, id_updater_last_mode="battle")
    body = json.dumps(data, indent=2).replace(
        '  "session_id"', '  // captured long ago\n  "session_id"', 1)
    original = f"// e2e bridge config /* keep me */\n{body}\n"
    path.write_text(original, "utf-8")
    await wait_for(lambda: store.current.settings.session_id == STALE_SID, 5,
                   what="the stale ids in force")

    run = ToolRun(tool(bridge, "capture-ids", "--mode", "direct_chat", "--timeout", "20")).start()
    await armed(page)
    await page.click("#retry-btn")  # the user's click on the assistant answer
    assert await run.finished() == 0, run.errors
    assert "click Retry" in run.errors

    expected = (
        original.replace(STALE_SID, direct.id)
        .replace(STALE_MID, direct.assistant("a").id)
        .replace('"id_updater_last_mode": "battle"', '"id_updater_last_mode": "direct_chat"')
    )
    assert path.read_text("utf-8") == expected
    # The page's own retry went through; the running bridge uses the new ids at once.
    await page.wait_for_function("document.querySelector('#retry-btn').dataset.done === 'ok'")
    await wait_for(lambda: store.current.settings.session_id == direct.id, 5,
                   what="the bridge reloading config.jsonc")
    site.requests.clear()
    done = await client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": "after capture"}])
    # The site answers the captured session's stored turn.
    assert done.choices[0].message.content == "Echo: " + direct.messages[0].content
    (req,) = site.retry_requests
    assert req.path.endswith(f"/{direct.id}/messages/{direct.assistant('a').id}")
    assert req.status == 200


async def test_capture_battle_ids_into_the_endpoint_map(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI, restore: None,
    legacy_retry: None,
) -> None:
    (page,) = await tabs.ensure(1)
    home = page.url
    battle = site.battle_session
    await page.goto(f"{SITE}/c/{battle.id}?tab={tabs.name_of(page)}")
    await tabs.wait_ready()
    try:
        run = ToolRun(tool(bridge, "capture-ids", "--mode", "battle", "--target", "A",
                           "--model", "captured-battle", "--timeout", "20")).start()
        await armed(page)
        await page.click("#retry-btn")  # side A's answer
        assert await run.finished() == 0, run.errors
        entry = json.loads((bridge.config_dir / "model_endpoint_map.json").read_text())[
            "captured-battle"]
        assert entry == {"session_id": battle.id, "message_id": battle.assistant("a").id,
                         "mode": "battle", "battle_target": "A"}
        cfg = bridge.app.state.bridge.config
        await wait_for(lambda: "captured-battle" in cfg().endpoint_map, 5,
                       what="the bridge reloading the endpoint map")
        done = await client.chat.completions.create(
            model="captured-battle", messages=[{"role": "user", "content": "who?"}])
        assert done.choices[0].message.content == "A: Echo: " + battle.messages[0].content
    finally:
        await page.goto(home)
        await tabs.wait_ready()


async def test_update_models_reads_the_page_and_applies(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, restore: None
) -> None:
    (page,) = await tabs.ensure(1)
    await page.reload()  # the page as the emulator renders it now
    await tabs.wait_ready()
    models_path = bridge.config_dir / "models.json"
    before = models_path.read_text("utf-8")
    (bridge.config_dir / "available_models.json").write_text("[]", "utf-8")

    run = ToolRun(tool(bridge, "update-models", "--apply", "echo-vision-1")).start()
    assert await run.finished(30) == 0, run.errors
    # The tab read the site's model catalog: every arena, each entry with its arena.
    written = json.loads((bridge.config_dir / "available_models.json").read_text())
    catalog = model_catalog(site.models, site.catalog_extra)
    assert written == [{**m, "arena": g["arena"]} for g in catalog for m in g["models"]]
    assert "its model catalog" in run.output
    assert "Added (9): " in run.output and "echo-1 [code]" in run.output
    assert "  echo-vision-1: text, vision (images uploaded first)" in run.output
    assert f'Image-capable models (1):\n  echo-image-1  "text-to-image:{IMAGE_MODEL_ID}"' in (
        run.output)
    # Added after the user's entries, which stay as they were; the value names the arena.
    text = models_path.read_text("utf-8")
    assert text.startswith(before.rstrip()[:-1].rstrip())
    assert json.loads(text)["echo-vision-1"] == "text:" + next(
        m["id"] for m in site.models if m["publicName"] == "echo-vision-1")
    async with httpx.AsyncClient() as http:
        await wait_for(lambda: "echo-vision-1" in bridge.app.state.bridge.config().models, 5,
                       what="models.json reloaded")
        listed = (await http.get(f"{bridge.url}/v1/models")).json()["data"]
    assert "echo-vision-1" in {m["id"] for m in listed}


async def test_image_generation_through_the_site(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    site.images_per_answer = 2
    resp = await client.images.generate(model="image-model", prompt="a cat", n=2)
    urls = [d.url for d in resp.data]
    assert len(urls) == 4 and len(set(urls)) == 4
    assert all(u and u.startswith("https://images.emulator.test/") for u in urls)
    reqs = site.create_requests
    assert len(reqs) == 2
    assert all((r.body["modelAId"], r.body["modality"], r.user_content)
               == (IMAGE_MODEL_ID, "image", "a cat") for r in reqs)
    assert all(r.recaptcha is not None and r.recaptcha.ok for r in reqs)


async def test_image_b64_json_needs_a_reachable_image(
    site: EmulatorState, tabs: Tabs, bridge: Bridge
) -> None:
    # The emulator's image URLs point at a host that does not exist, so the bridge cannot
    # fetch them for b64_json and says which one (tests/tools covers reachable images).
    await tabs.ensure(1)
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{bridge.url}/v1/images/generations", json={
            "model": "image-model", "prompt": "a dog", "response_format": "b64_json"})
    assert r.status_code == 502
    assert "https://images.emulator.test/" in r.json()["error"]["message"]
    assert r.json()["error"]["code"] == "image_fetch_failed"
