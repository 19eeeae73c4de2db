"""Models and files with scripted tabs: uploads before the site request, the upload
errors, the ``models`` job behind /internal/models, image downloads through a tab."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import BridgeFactory, wait_for
from tests.support.servers import RunningServer, start_server
from tests.support.workers import ScriptedWorker, finish_line, site_line, text_lines

VISION_ID = "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
                       "60e6kgAAAABJRU5ErkJggg==")
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
CAPABILITIES = ("abort", "heartbeat", "status", "structured_errors", "site_request", "upload",
                "models", "fetch_image")
VISION_ENTRY = {"id": VISION_ID, "publicName": "echo-vision-1", "arena": "text",
                "capabilities": {"inputCapabilities": {"text": True,
                                                       "image": {"requiresUpload": True}},
                                 "outputCapabilities": {"text": True}}}
CATALOG = [
    {"arena": "text", "models": [VISION_ENTRY | {"arena": None}], "complete": True},
    {"arena": "code", "models": [{"id": "c-1", "publicName": "echo-vision-1"}],
     "complete": True},
]
STORE = "https://uploads.example/"


def stored_url(name: str) -> str:
    return f"{STORE}{name}?X-Amz-Expires=3600&X-Amz-Signature=abc"


class Tab:
    """A scripted tab that runs uploads, models and image downloads like the userscript."""

    def __init__(self, upload_error: str | None = None) -> None:
        self.upload_error = upload_error
        self.uploads: list[dict[str, Any]] = []
        self.site_bodies: list[dict[str, Any]] = []
        self.fetches: list[str] = []
        self.image: dict[str, Any] = {"type": "image", "image": "https://arena.ai/i/1.png",
                                      "mimeType": "image/png"}

    async def __call__(self, w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "upload":
            self.uploads.append(payload)
            if self.upload_error:
                await w.send({"request_id": rid, "error": {
                    "message": "no generateUploadUrl action in the 2 script chunks",
                    "status": None, "code": self.upload_error}})
                return
            key = f"k{len(self.uploads)}/{payload['name']}"
            await w.send({"request_id": rid, "result": {
                "name": key, "contentType": payload["content_type"], "url": stored_url(key)}})
        elif kind == "models":
            await w.send({"request_id": rid, "result": {"source": "catalog", "catalog": CATALOG}})
        elif kind == "fetch_image":
            self.fetches.append(payload["url"])
            await w.send({"request_id": rid, "result": {
                "content_type": "image/png", "data_b64": base64.b64encode(PNG).decode()}})
        else:
            body = payload["body"]
            self.site_bodies.append(body)
            if body["modality"] == "image":
                await w.data(rid, site_line("2", [self.image]) + finish_line())
            else:
                for line in text_lines("Echo: " + body["userMessage"]["content"]):
                    await w.data(rid, line)
                await w.data(rid, finish_line())
            await w.done(rid)


async def vision_bridge(make_bridge: BridgeFactory, **settings: Any) -> RunningServer:
    bridge = await make_bridge(settings or None, models={
        "vision": VISION_ID, "image-model": "51ad1d79-61e2-414c-99e3-faeb64bb6b1b:image"})
    config_dir = bridge.app.state.bridge.config_dir
    (config_dir / "available_models.json").write_text(json.dumps([VISION_ENTRY]), "utf-8")
    bridge.app.state.bridge.config_store.reload()
    return bridge


def image_message(url: str = PNG_URI, text: str = "what is this?") -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


async def test_images_are_uploaded_first_on_the_same_tab(make_bridge, workers) -> None:
    bridge = await vision_bridge(make_bridge)
    tabs = [Tab(), Tab()]
    for tab in tabs:
        await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 2)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t", max_retries=0) as c:
        messages = [*image_message(), {"role": "assistant", "content": "A dot."},
                    *image_message(text="and again?")]  # the same image twice: uploaded once
        done = await c.chat.completions.create(model="vision", messages=messages)
    assert done.choices[0].message.content.startswith("Echo: ")
    (tab,) = [t for t in tabs if t.uploads]
    (upload,) = tab.uploads
    assert (upload["name"].endswith(".png"), upload["content_type"]) == (True, "image/png")
    assert base64.b64decode(upload["data_b64"]) == PNG
    (body,) = tab.site_bodies  # the site request ran on the tab that uploaded
    key = f"k1/{upload['name']}"
    assert body["userMessage"]["experimental_attachments"] == [
        {"name": key, "contentType": "image/png", "url": stored_url(key)}] * 2


async def test_a_model_without_uploads_gets_the_image_inline(make_bridge, workers) -> None:
    bridge = await vision_bridge(make_bridge, upload_images="never")
    tab = Tab()
    await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t", max_retries=0) as c:
        await c.chat.completions.create(model="vision", messages=image_message())
    assert tab.uploads == []
    assert tab.site_bodies[0]["userMessage"]["experimental_attachments"][0]["url"] == PNG_URI


@pytest.mark.parametrize(("code", "status"), [("upload_unavailable", 502),
                                              ("upload_failed", 502)])
async def test_upload_failures(code: str, status: int, make_bridge, workers) -> None:
    bridge = await vision_bridge(make_bridge)
    tab = Tab(upload_error=code)
    await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES)
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post("/v1/chat/completions",
                            json={"model": "vision", "messages": image_message()})
        metrics = (await http.get("/metrics")).text
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert "generateUploadUrl" in r.json()["error"]["message"]
    assert tab.site_bodies == []  # nothing went to the site
    assert 'lmarena_bridge_site_errors_total{kind="upload",model="vision"} 1.0' in metrics


async def test_bad_images_are_refused_before_any_tab_is_used(make_bridge, workers) -> None:
    bridge = await vision_bridge(make_bridge)
    tab = Tab()
    await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES)
    gif = "data:image/gif;base64," + base64.b64encode(b"GIF89a\x01\x00\x01\x00").decode()
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post("/v1/chat/completions",
                            json={"model": "vision", "messages": image_message(gif)})
        missing = await http.post("/v1/chat/completions", json={
            "model": "vision", "messages": image_message("http://127.0.0.1:9/none.png")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_image_type"
    assert "PNG, JPEG or WebP images of at most 15 MB" in r.json()["error"]["message"]
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "image_url_unreadable"
    assert tab.uploads == [] and tab.site_bodies == []


async def test_http_images_are_fetched_by_the_bridge_and_uploaded(make_bridge, workers) -> None:
    async def image(request: Request) -> Response:
        return Response(PNG, media_type="application/octet-stream")

    origin = await start_server(Starlette(routes=[Route("/cat", image)]), lifespan="off")
    try:
        bridge = await vision_bridge(make_bridge)
        tab = Tab()
        await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES)
        async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t",
                                      max_retries=0) as c:
            await c.chat.completions.create(model="vision",
                                            messages=image_message(f"{origin.url}/cat"))
    finally:
        await origin.stop()
    (upload,) = tab.uploads
    assert upload["content_type"] == "image/png"  # from the bytes, not the server's label
    assert base64.b64decode(upload["data_b64"]) == PNG


async def test_internal_models_runs_the_models_job(make_bridge, workers) -> None:
    bridge = await make_bridge()
    tab = Tab()
    w = await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES)
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post("/internal/models", json={"save": True})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["source"], answer["worker_id"], answer["previous"]) == (
        "catalog", w.worker_id, [])
    assert [(m["arena"], m["id"]) for m in answer["models"]] == [("text", VISION_ID),
                                                                 ("code", "c-1")]
    config_dir = bridge.app.state.bridge.config_dir
    assert json.loads((config_dir / "available_models.json").read_text()) == answer["models"]
    assert answer["saved_to"] == str((config_dir / "available_models.json").resolve())
    assert bridge.app.state.bridge.config().available_models[0]["arena"] == "text"


async def test_internal_models_falls_back_to_the_page(make_bridge, workers) -> None:
    from tests.site_emulator import EmulatorState
    from tests.site_emulator.page import chat_page

    state = EmulatorState()

    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.send({"request_id": rid, "result": {
            "source": "page", "html": chat_page(state, None, True), "catalog_error": "HTTP 404"}})

    bridge = await make_bridge()
    await workers(bridge.ws_url, handler=handler, capabilities=CAPABILITIES)
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post("/internal/models")
    assert r.status_code == 200 and r.json()["source"] == "page"
    assert r.json()["models"] == state.models and "saved_to" not in r.json()


@pytest.mark.parametrize(("image", "fetched"), [
    # The site's own domain: only the tab has its cookies.
    ({"type": "image", "image": "https://arena.ai/i/1.png"}, ["https://arena.ai/i/1.png"]),
    # A host the bridge cannot reach: the tab tries.
    ({"type": "image", "image": "https://images.invalid/1.png"},
     ["https://images.invalid/1.png"]),
    # Base64 data: nothing to fetch.
    ({"type": "image", "data": base64.b64encode(PNG).decode(), "mimeType": "image/png"}, []),
])
async def test_b64_json_images(image: dict[str, Any], fetched: list[str], make_bridge,
                               workers) -> None:
    bridge = await make_bridge()
    tab = Tab()
    tab.image = image
    await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t", max_retries=0) as c:
        resp = await c.images.generate(model="image-model", prompt="a dot",
                                       response_format="b64_json")
        chat = await c.chat.completions.create(
            model="image-model", messages=[{"role": "user", "content": "a dot"}])
    assert [base64.b64decode(d.b64_json or "") for d in resp.data] == [PNG]
    assert tab.fetches == fetched
    assert [b["modality"] for b in tab.site_bodies] == ["image", "image"]
    shown = image.get("image") or f"data:image/png;base64,{image['data']}"
    assert chat.choices[0].message.content == f"![Image]({shown})"


async def test_b64_json_without_a_tab_that_can_fetch(make_bridge, workers) -> None:
    bridge = await make_bridge()
    tab = Tab()
    tab.image = {"type": "image", "image": "https://images.invalid/2.png"}
    await workers(bridge.ws_url, handler=tab, capabilities=CAPABILITIES[:5])
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post("/v1/images/generations", json={
            "model": "image-model", "prompt": "x", "response_format": "b64_json"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "image_fetch_failed"
    assert "https://images.invalid/2.png" in r.json()["error"]["message"]


async def test_model_list_refreshed_when_a_tab_connects(make_bridge: BridgeFactory, workers,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    srv = await make_bridge({"refresh_models_on_connect": True, "add_new_models": True})
    config_dir = srv.app.state.bridge.config_dir
    caplog.set_level("INFO", logger="lmarena_bridge")
    w = await workers(srv.ws_url, handler=Tab(), capabilities=CAPABILITIES)
    await w.send({"type": "status", "state": "ready", "page": w.page})
    await wait_for(lambda: "echo-vision-1" in srv.app.state.bridge.config().models, timeout=10)
    written = json.loads((config_dir / "available_models.json").read_text("utf-8"))
    assert [(e["id"], e["arena"]) for e in written] == [(VISION_ID, "text"), ("c-1", "code")]
    models = json.loads((config_dir / "models.json").read_text("utf-8"))
    assert models["echo-vision-1"] == f"text:{VISION_ID}"  # one per name, the text arena's
    assert "echo-model" in models  # the user's entries stay
    assert "models added on the site: echo-vision-1, echo-vision-1 [code]" in caplog.text


async def test_model_list_left_alone_by_default(make_bridge: BridgeFactory, workers) -> None:
    srv = await make_bridge()
    tab = Tab()
    w = await workers(srv.ws_url, handler=tab, capabilities=CAPABILITIES)
    await w.send({"type": "status", "state": "ready", "page": w.page})
    await wait_for(lambda: srv.app.state.bridge.pool.ready_count == 1)
    await asyncio.sleep(0.3)
    assert w.jobs == []  # no models job was sent
    assert srv.app.state.bridge.config().available_models == ()
