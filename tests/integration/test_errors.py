"""Every /v1 error path reaches the client in OpenAI's envelope with a fitting status."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.support.workers import ScriptedWorker, finish_line, site_line

MSGS: Any = [{"role": "user", "content": "hi"}]


def assert_envelope(body: dict[str, Any]) -> dict[str, Any]:
    err = body["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    assert err["message"]
    return err


async def test_malformed_json_is_400(bridge) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{bridge.url}/v1/chat/completions", content=b"{not json",
                            headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert assert_envelope(r.json())["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": MSGS}, "model"),
        ({"model": "echo-model"}, "messages"),
        ({"model": "echo-model", "messages": [{"role": "wizard", "content": "x"}]},
         "messages[0].role"),
        ({"model": "echo-model", "messages": MSGS, "n": 2}, "n"),
        ({"model": "echo-model", "messages": MSGS, "n": 0}, "n"),
        ({"model": "echo-model", "messages": MSGS, "max_tokens": 0}, "max_tokens"),
        ({"model": "echo-model", "messages": MSGS, "stream": "yes please"}, "stream"),
        ({"model": "echo-model", "messages": MSGS, "tools": [{"type": "web_search"}]},
         "tools[0].type"),
        ({"model": "echo-model", "messages": MSGS, "tool_choice": "required"}, "tool_choice"),
        ({"model": "echo-model", "messages": []}, "messages"),
    ],
)
async def test_validation_errors_name_the_param(bridge, body: dict[str, Any], param: str) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{bridge.url}/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    assert assert_envelope(r.json())["param"] == param


async def test_unknown_model_is_404(bridge, client) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        await client.chat.completions.create(model="no-such-model", messages=MSGS)
    assert exc.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("no-such-model")


async def test_models_list_and_retrieve(bridge, client) -> None:
    models = await client.models.list()
    ids = [m.id for m in models.data]
    # The create strategy adds its anonymous battle pseudo-model.
    assert ids == ["echo-model", "image-model", "battle"]
    assert {m.object for m in models.data} == {"model"}
    one = await client.models.retrieve("echo-model")
    assert one.id == "echo-model" and one.created == models.data[0].created


async def test_models_carry_the_site_capabilities(make_bridge) -> None:
    srv = await make_bridge()
    (Path(srv.app.state.bridge.config_dir) / "available_models.json").write_text(json.dumps([
        {"id": "e2d9d353-6dbe-4414-bf87-bd289d523726", "publicName": "echo", "organization": "acme",
         "capabilities": {"inputCapabilities": {"text": True, "image": {"requiresUpload": True}},
                          "outputCapabilities": {"text": True, "search": True}}},
    ]))
    store = srv.app.state.bridge.config_store
    await wait_for(lambda: len(store.current.available_models) == 1, timeout=5)
    async with httpx.AsyncClient() as http:
        data = {m["id"]: m for m in (await http.get(f"{srv.url}/v1/models")).json()["data"]}
    assert data["echo-model"]["owned_by"] == "acme"
    assert data["echo-model"]["capabilities"] == {
        "vision": True, "image_output": False, "search": True, "requires_upload": True}
    assert "capabilities" not in data["image-model"]  # the site did not list it


async def test_api_key_protects_v1(make_bridge) -> None:
    srv = await make_bridge({"api_key": "s3cret"})
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="wrong",
                                  max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            await bad.models.list()
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="s3cret",
                                  max_retries=0) as good:
        assert (await good.models.list()).data


async def test_no_worker_is_503_with_retry_after(bridge, client) -> None:
    with pytest.raises(openai.APIStatusError) as exc:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert exc.value.status_code == 503
    assert exc.value.response.headers.get("retry-after")
    assert "userscript" in exc.value.message


async def test_missing_session_ids_is_clear_400(make_bridge, workers) -> None:
    srv = await make_bridge({"session_id": "", "message_id": "", "site_strategy": "retry"})
    w = await workers(srv.ws_url)
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{srv.url}/v1/chat/completions",
                            json={"model": "echo-model", "messages": MSGS})
    assert r.status_code == 400
    assert "capture-ids" in assert_envelope(r.json())["message"]
    assert w.jobs == []  # nothing was dispatched


def failing(error: dict[str, Any] | None = None, seed_text: str | None = None):
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        if seed_text is not None:
            await w.send({"request_id": rid, "data": {"error": seed_text}})
        else:
            await w.send({"request_id": rid, "error": error})
    return handler


@pytest.mark.parametrize("stream", [False, True])
async def test_site_rate_limit_is_429(bridge, workers, client, stream: bool) -> None:
    await workers(bridge.ws_url, handler=failing({
        "message": "HTTP 429", "status": 429, "content_type": "application/json",
        "body": '{"error":"Too Many Requests"}', "headers": {"retry-after": "42"}}))
    with pytest.raises(openai.RateLimitError) as exc:
        await client.chat.completions.create(model="echo-model", messages=MSGS, stream=stream)
    assert exc.value.response.headers["retry-after"] == "42"


NO_ACCESS_401 = {
    "message": "HTTP 401", "status": 401, "content_type": "application/json",
    "body": '{"error":"User 7f3 does not have access to evaluation session 413a"}'}


@pytest.mark.parametrize("strategy", ["create", "retry"])
async def test_session_refusal_advice_fits_the_strategy(make_bridge, workers, strategy: str):
    srv = await make_bridge({"site_strategy": strategy})
    await workers(srv.ws_url, handler=failing(NO_ACCESS_401))
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{srv.url}/v1/chat/completions",
                            json={"model": "echo-model", "messages": MSGS})
    assert r.status_code == 403
    error = assert_envelope(r.json())
    assert error["code"] == "site_session_rejected"
    # Only the retry strategy has ids to capture again.
    assert ("capture-ids" in error["message"]) == (strategy == "retry")


async def test_seed_protocol_error_text_is_classified(legacy_bridge, workers, legacy_client):
    bridge, client = legacy_bridge, legacy_client
    await workers(bridge.ws_url, protocol=1, handler=failing(
        seed_text='网络响应不正常。状态: 422. 内容: {"error":"Request rejected: Content violates '
                  'our terms of use for evaluation session id: 4130-413"}'))
    with pytest.raises(openai.BadRequestError) as exc:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert exc.value.code == "content_policy_violation"


async def test_challenge_is_503_and_refresh_sent_once(bridge, workers, client) -> None:
    w = await workers(bridge.ws_url, handler=failing({
        "message": "HTTP 403", "status": 403, "content_type": "text/html",
        "body": "<!DOCTYPE html><html><head><title>Just a moment...</title>",
        "headers": {"cf-mitigated": "challenge"}}))
    with pytest.raises(openai.APIStatusError) as exc:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert exc.value.status_code == 503
    assert exc.value.code == "cloudflare_challenge"
    await wait_for(lambda: w.commands == ["refresh"])
    pool = bridge.app.state.bridge.pool
    assert pool.ready_count == 0  # the challenged tab is drained from routing
    with pytest.raises(openai.APIStatusError) as again:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert again.value.status_code == 503
    assert w.commands == ["refresh"]
    await w.send({"type": "status", "state": "ready"})
    await wait_for(lambda: pool.ready_count == 1)


async def test_first_byte_timeout_is_504(make_bridge, workers) -> None:
    srv = await make_bridge({"first_byte_timeout_seconds": 0.3})

    async def silent(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(10)

    w = await workers(srv.ws_url, handler=silent)
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0) as c:
        with pytest.raises(openai.APIStatusError) as exc:
            await c.chat.completions.create(model="echo-model", messages=MSGS)
    assert exc.value.status_code == 504
    await wait_for(lambda: len(w.aborts) == 1)


async def test_idle_timeout_mid_stream_is_error_event(make_bridge, workers) -> None:
    srv = await make_bridge({"stream_response_timeout_seconds": 0.3})

    async def stalls(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "partial"))
        await asyncio.sleep(10)

    await workers(srv.ws_url, handler=stalls)
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0) as c:
        stream = await c.chat.completions.create(model="echo-model", messages=MSGS, stream=True)
        got = ""
        with pytest.raises(openai.APIError) as exc:
            async for chunk in stream:
                got += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert got == "partial"
    assert "No data" in exc.value.message


async def test_in_stream_site_error_is_not_assistant_text(bridge, workers, client) -> None:
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "Hel"))
        await asyncio.sleep(0.2)  # the client has the first chunk: the stream is committed
        await w.data(rid, site_line("3", "provider exploded") + finish_line("error"))
        await w.done(rid)

    await workers(bridge.ws_url, handler=handler)
    stream = await client.chat.completions.create(model="echo-model", messages=MSGS, stream=True)
    text = ""
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            text += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert text == "Hel"


async def test_empty_answer_is_an_error(bridge, workers, client) -> None:
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, finish_line())
        await w.done(rid)

    await workers(bridge.ws_url, handler=handler)
    with pytest.raises(openai.APIStatusError) as exc:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert exc.value.status_code == 502


async def test_unknown_path_is_openai_404(bridge) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{bridge.url}/v1/nothing-here")
    assert r.status_code == 404
    assert_envelope(r.json())


async def test_success_path_aliases(bridge, workers) -> None:
    await workers(bridge.ws_url)
    async with httpx.AsyncClient() as http:
        for path in ("/api/v1/chat/completions", "/chat/completions"):
            r = await http.post(f"{bridge.url}{path}",
                                json={"model": "echo-model", "messages": MSGS})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "hi"
    _ = finish_line
