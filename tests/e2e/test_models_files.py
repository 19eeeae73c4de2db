"""End to end, models and files on today's site: the ``models`` job reads the catalog, a
vision request's image is uploaded through the page's own server actions to the file store
(a second origin) before the site request, image generation answers both image forms
through both endpoints, and a page without its upload actions gives a clear 502.

openai SDK / httpx -> bridge -> our userscript in headless Chromium on https://arena.ai ->
the site emulator (catalog, server actions, presigned uploads on uploads.emulator.test).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from tests.site_emulator import (
    ACTION_IDS,
    CODE_MODEL_ID,
    TEXT_MODEL_ID,
    UPLOADS_ORIGIN,
    VISION_MODEL_ID,
    EmulatorState,
)
from tests.site_emulator.answers import PNG_1PX

from .conftest import SITE, Bridge, Tabs

PNG = base64.b64decode(PNG_1PX)


@pytest.fixture
async def restore(bridge: Bridge) -> AsyncIterator[None]:
    """The shared bridge's model files as they were before the test."""
    names = ("models.json", "available_models.json")
    saved = {n: (bridge.config_dir / n).read_bytes() for n in names}
    yield
    for name, data in saved.items():
        (bridge.config_dir / name).write_bytes(data)
    bridge.app.state.bridge.config_store.reload()


@pytest.fixture
async def reload_after(tabs: Tabs, site: EmulatorState) -> AsyncIterator[None]:
    """The tabs reload afterwards, on the emulator's default page (they cache what the
    page they loaded offers)."""
    yield
    site.reset()
    for page in tabs.pages:
        if not page.is_closed():
            await page.reload()
    await tabs.wait_ready()


async def read_models(bridge: Bridge, save: bool = False) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as http:
        r = await http.post("/internal/models", json={"save": save})
    assert r.status_code == 200, r.text
    return dict(r.json())


def add_model(bridge: Bridge, name: str, value: str) -> None:
    path = bridge.config_dir / "models.json"
    models = json.loads(path.read_text("utf-8"))
    models[name] = value
    path.write_text(json.dumps(models, indent=2), "utf-8")
    bridge.app.state.bridge.config_store.reload()


def image_message(text: str, url: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


async def test_the_models_job_reads_the_catalog(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, restore: None
) -> None:
    await tabs.ensure(1)
    answer = await read_models(bridge, save=True)
    assert answer["source"] == "catalog"
    entries = answer["models"]
    arenas = {(e["arena"], e["id"]) for e in entries}
    assert {("text", TEXT_MODEL_ID), ("code", CODE_MODEL_ID)} <= arenas
    assert {e["arena"] for e in entries} == {"text", "code", "document", "text-to-image",
                                             "text-to-video", "search"}
    assert any(e["userSelectable"] is False for e in entries)
    saved = json.loads((bridge.config_dir / "available_models.json").read_text("utf-8"))
    assert saved == entries
    assert [r.status for r in site.requests if r.path == "/nextjs-api/model-catalog"] == [200]

    site.catalog_available = False  # an older deployment: the page's list instead
    answer = await read_models(bridge)
    assert (answer["source"], answer["models"]) == ("page", site.models)


async def test_a_vision_request_uploads_the_image_first(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI, restore: None
) -> None:
    await tabs.ensure(1)
    add_model(bridge, "vision-model", VISION_MODEL_ID)
    await read_models(bridge, save=True)  # the model list says the model needs uploads
    data_uri = f"data:image/png;base64,{PNG_1PX}"
    done = await client.chat.completions.create(
        model="vision-model", messages=image_message("what is this?", data_uri))
    assert done.choices[0].message.content == "Echo: what is this?"

    (req,) = site.create_requests
    assert req.status == 200
    (attachment,) = req.body["userMessage"]["experimental_attachments"]
    assert attachment["contentType"] == "image/png"
    assert attachment["url"].startswith(f"{UPLOADS_ORIGIN}/{attachment['name']}?")
    stored = site.store.objects[attachment["name"]]
    assert (stored.data, stored.owner) == (PNG, site.default_user.id)
    # Both server actions, called by the page on its own URL, as the site's code does.
    actions = site.action_requests
    assert [r.headers["next-action"] for r in actions] == [
        ACTION_IDS["generateUploadUrl"], ACTION_IDS["getSignedUrl"]]
    assert all(r.headers["accept"] == "text/x-component" and r.headers["origin"] == SITE
               for r in actions)
    (put,) = [r for r in site.asset_requests if r.method == "PUT"]
    assert (put.host, put.headers["origin"], put.status) == (
        "uploads.emulator.test", SITE, 200)
    assert put.headers["content-type"] == "image/png"

    # The action ids are kept for the page's life: a second image scans no chunk again.
    chunk_reads = len([r for r in site.asset_requests if r.path.endswith(".js")])
    await client.chat.completions.create(
        model="vision-model", messages=image_message("and this?", data_uri))
    assert len([r for r in site.asset_requests if r.path.endswith(".js")]) == chunk_reads
    assert len(site.store.objects) == 2


@pytest.mark.parametrize(("as_base64", "urls"), [(False, "store"), (True, "store"),
                                                 (False, "site")])
async def test_image_generation_in_both_forms(
    as_base64: bool, urls: str, site: EmulatorState, tabs: Tabs, bridge: Bridge,
    client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    site.image_as_base64 = as_base64
    site.image_urls = urls  # type: ignore[assignment]
    as_url = await client.images.generate(model="image-model", prompt="a dot")
    (url,) = [d.url for d in as_url.data]
    assert url is not None
    if as_base64:
        assert url == f"data:image/png;base64,{PNG_1PX}"
    else:
        assert url.startswith(UPLOADS_ORIGIN if urls == "store" else f"{SITE}/nextjs-api/")
    # b64_json: the bridge cannot reach the emulator's hosts; the tab fetches the image.
    as_b64 = await client.images.generate(model="image-model", prompt="a dot",
                                          response_format="b64_json")
    assert [base64.b64decode(d.b64_json or "") for d in as_b64.data] == [PNG]
    chat = await client.chat.completions.create(
        model="image-model", messages=[{"role": "user", "content": "a dot"}])
    content = chat.choices[0].message.content or ""
    assert content.startswith("![Image](") and (
        f"base64,{PNG_1PX}" in content if as_base64 else "https://" in content)
    assert [r.body["modality"] for r in site.create_requests] == ["image"] * 3


async def test_a_page_without_upload_actions_gives_a_clear_502(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, restore: None, reload_after: None
) -> None:
    (page,) = await tabs.ensure(1)
    add_model(bridge, "vision-model", VISION_MODEL_ID)
    await read_models(bridge, save=True)
    site.upload_actions_advertised = False  # a deployment whose chunks the tab cannot read
    await page.reload()
    await tabs.wait_ready()
    async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as http:
        r = await http.post("/v1/chat/completions", json={
            "model": "vision-model",
            "messages": image_message("see?", f"data:image/png;base64,{PNG_1PX}")})
        metrics = (await http.get("/metrics")).text
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "upload_unavailable"
    assert "generateUploadUrl" in error["message"] and "Reload the tab" in error["message"]
    assert site.create_requests == [] and site.action_requests == []
    assert 'lmarena_bridge_site_errors_total{kind="upload",model="vision-model"}' in metrics
