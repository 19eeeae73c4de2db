"""POST /v1/images/generations against the real server and scripted workers."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import wait_for
from tests.support.servers import IMAGE_MODEL_ID, RunningServer, start_server
from tests.support.workers import ScriptedWorker, finish_line, site_line, text_lines

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def image_handler(urls_per_job: list[list[str]]) -> Any:
    """Answers each image job with the next list of URLs as one a2 line (none: text only)."""
    queue = list(urls_per_job)

    async def handler(worker: ScriptedWorker, request_id: str, payload: dict[str, Any]) -> None:
        urls = queue.pop(0) if queue else []
        if urls:
            items = [{"type": "image", "image": u, "mimeType": "image/png"} for u in urls]
            await worker.data(request_id, site_line("2", items))
        else:
            for line in text_lines("I cannot draw that."):
                await worker.data(request_id, line)
        await worker.data(request_id, finish_line())
        await worker.done(request_id)

    return handler


@pytest.fixture
async def image_server() -> AsyncIterator[RunningServer]:
    """A tiny HTTP server holding one PNG, like the site's image CDN."""

    async def png(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    srv = await start_server(Starlette(routes=[Route("/img/{name}", png)]), lifespan="off")
    yield srv
    await srv.stop()


async def post(bridge: RunningServer, body: dict[str, Any],
               path: str = "/v1/images/generations") -> httpx.Response:
    async with httpx.AsyncClient(timeout=20) as http:
        return await http.post(bridge.url + path, json=body)


async def test_one_image_url_through_the_openai_sdk(bridge, workers, client) -> None:
    w = await workers(bridge.ws_url, handler=image_handler([["https://img.test/1.png"]]))
    resp = await client.images.generate(model="image-model", prompt="a red fox")
    assert [d.url for d in resp.data] == ["https://img.test/1.png"]
    assert resp.created > 0
    (_, payload), = w.jobs
    body = payload["body"]
    assert payload["path"] == "/nextjs-api/stream/create-evaluation"
    assert body["modality"] == "image" and body["modelAId"] == IMAGE_MODEL_ID
    assert body["userMessage"]["content"] == "a red fox"


async def test_legacy_retry_strategy_sends_the_seed_image_payload(legacy_bridge, workers) -> None:
    w = await workers(legacy_bridge.ws_url, handler=image_handler([["https://img.test/1.png"]]))
    r = await post(legacy_bridge, {"model": "image-model", "prompt": "a red fox"})
    assert r.status_code == 200, r.text
    (_, payload), = w.jobs
    assert payload["is_image_request"] is True
    assert payload["target_model_id"] == IMAGE_MODEL_ID
    assert [(t["role"], t["content"]) for t in payload["message_templates"]] == [
        ("user", "a red fox")
    ]


async def test_n_runs_that_many_generations_and_returns_every_image(bridge, workers) -> None:
    urls = [["https://img.test/a1.png", "https://img.test/a2.png"], ["https://img.test/b1.png"]]
    w = await workers(bridge.ws_url, handler=image_handler(urls))
    r = await post(bridge, {"model": "image-model", "prompt": "two foxes", "n": 2,
                            "size": "1024x1024"})
    assert r.status_code == 200, r.text
    got = sorted(d["url"] for d in r.json()["data"])
    assert got == sorted(u for job in urls for u in job)
    assert len(w.jobs) == 2 and len({rid for rid, _ in w.jobs}) == 2


async def test_dall_e_name_and_api_v1_alias_use_the_first_image_model(bridge, workers) -> None:
    w = await workers(bridge.ws_url, handler=image_handler([["https://img.test/x.png"]]))
    r = await post(bridge, {"model": "dall-e-3", "prompt": "x"}, "/api/v1/images/generations")
    assert r.status_code == 200, r.text
    assert w.jobs[0][1]["body"]["modelAId"] == IMAGE_MODEL_ID


async def test_b64_json_from_a_data_url_and_from_an_http_url(
    bridge, workers, image_server: RunningServer
) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    http_url = f"{image_server.url}/img/cat.png"
    await workers(bridge.ws_url, handler=image_handler([[data_url, http_url]]))
    r = await post(bridge, {"model": "image-model", "prompt": "cat",
                            "response_format": "b64_json"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [base64.b64decode(d["b64_json"]) for d in data] == [PNG, PNG]
    assert all("url" not in d for d in data)


async def test_b64_json_fetch_failure_is_502_naming_the_url(bridge, workers) -> None:
    url = "http://127.0.0.1:9/missing.png"  # the discard port: connection refused
    await workers(bridge.ws_url, handler=image_handler([[url]]))
    r = await post(bridge, {"model": "image-model", "prompt": "x", "response_format": "b64_json"})
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["code"] == "image_fetch_failed" and url in err["message"]


async def test_text_model_is_400_on_model(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    r = await post(bridge, {"model": "echo-model", "prompt": "x"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "model"
    assert "not an image model" in r.json()["error"]["message"]
    assert w.jobs == []


async def test_openai_sdk_sees_the_400_as_bad_request(bridge, workers, client) -> None:
    await workers(bridge.ws_url)
    with pytest.raises(openai.BadRequestError):
        await client.images.generate(model="echo-model", prompt="x")


async def test_answer_without_an_image_is_502_no_image(bridge, workers) -> None:
    await workers(bridge.ws_url, handler=image_handler([[]]))
    r = await post(bridge, {"model": "image-model", "prompt": "x"})
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["code"] == "no_image"
    assert "I cannot draw that." in err["message"]


async def test_some_generations_failing_leaves_the_others(bridge, workers) -> None:
    await workers(bridge.ws_url, handler=image_handler([[], ["https://img.test/ok.png"], []]))
    r = await post(bridge, {"model": "image-model", "prompt": "x", "n": 3})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [{"url": "https://img.test/ok.png"}]


async def test_bad_n_and_missing_prompt_are_400(bridge) -> None:
    for body, param in (({"prompt": "x", "n": 0}, "n"), ({"n": 1}, "prompt")):
        r = await post(bridge, body)
        assert r.status_code == 400
        assert r.json()["error"]["param"] == param


async def test_client_hang_up_aborts_the_generation(bridge, workers) -> None:
    async def stall(worker: ScriptedWorker, request_id: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    w = await workers(bridge.ws_url, handler=stall)
    async with httpx.AsyncClient(timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(bridge.url + "/v1/images/generations",
                            json={"model": "image-model", "prompt": "x"})
    await wait_for(lambda: len(w.aborts) == 1)
    pool = bridge.app.state.bridge.pool
    await wait_for(lambda: all(x.load == 0 for x in pool.workers.values()))


@pytest.mark.parametrize(("strategy", "advice"), [
    ("create", "update-models --apply"), ("retry", '"nano-banana": "null:image"')])
async def test_no_image_model_says_how_to_get_one(make_bridge, strategy: str,
                                                  advice: str) -> None:
    # Fresh files hold no image model: the advice fits the strategy in use.
    bridge = await make_bridge({"site_strategy": strategy},
                               models={"echo-model": "e2d9d353-6dbe-4414-bf87-bd289d523726"})
    resp = await post(bridge, {"prompt": "a cat"})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "bridge_not_configured" and advice in err["message"]
    other = '"null:image"' if strategy == "create" else "update-models"
    assert other not in err["message"]
