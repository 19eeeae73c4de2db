"""POST /v1/responses on a real server with a scripted tab: the openai SDK's
``responses.create`` (whole and streamed), a function-call round trip, the ignored-params
header, OpenAI's error envelope, an error after the start, and a client hanging up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.integration.test_tools import Site, start
from tests.support.workers import ScriptedWorker, call_block, finish_line, site_line, text_lines

WEATHER: Any = {"type": "function", "name": "get_weather", "description": "Weather now.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}
PARIS = call_block("get_weather", {"city": "Paris"})


@pytest.mark.parametrize("stream", [False, True])
async def test_function_call_round_trip(bridge, workers, client, stream: bool) -> None:
    site = Site("Let me check.\n" + PARIS, "It is 18°C in Paris.")
    await start(bridge, workers, site)
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        async with client.responses.stream(model="echo-model", input=question,
                                           tools=[WEATHER]) as s:
            types = [e.type async for e in s]
            first = await s.get_final_response()
        assert types[0] == "response.created" and types[-1] == "response.completed"
    else:
        first = await client.responses.create(model="echo-model", input=question,
                                              tools=[WEATHER])
    assert first.status == "completed" and first.output_text == "Let me check."
    msg, call = first.output
    assert msg.type == "message" and call.type == "function_call"
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("call_")

    history: Any = [*question, *[item.model_dump(exclude_none=True) for item in first.output],
                    {"type": "function_call_output", "call_id": call.call_id,
                     "output": "18°C, sunny"}]
    final = await client.responses.create(model="echo-model", input=history, tools=[WEATHER])
    assert final.output_text == "It is 18°C in Paris."
    assert final.usage is not None and final.usage.total_tokens > 0
    told = site.prompts[1]
    assert "get_weather" in told and "18°C, sunny" in told and call.call_id in told


async def test_ignored_params_header_and_dropped_tools(bridge, workers) -> None:
    await start(bridge, workers, Site("Hi."))
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post("/v1/responses", json={
            "model": "echo-model", "input": "x", "prompt_cache_key": "k",
            "client_metadata": {"a": 1}, "tools": [{"type": "web_search"}], "store": False})
    assert r.status_code == 200, r.text
    assert r.headers["x-bridge-ignored-params"] == (
        "client_metadata, prompt_cache_key, tools:web_search")
    assert r.json()["output"][0]["content"][0]["text"] == "Hi."


@pytest.mark.parametrize("path", ["/v1/responses", "/api/v1/responses", "/responses"])
async def test_refusals_in_openai_envelope(bridge, path: str) -> None:
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post(path, json={"model": "echo-model", "input": "x",
                                        "previous_response_id": "resp_1"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "previous_response_not_supported"
    assert r.json()["error"]["param"] == "previous_response_id"


async def test_unknown_model_is_404(client) -> None:
    with pytest.raises(openai.NotFoundError):
        await client.responses.create(model="no-such-model", input="x")


async def test_error_after_the_start_ends_with_response_failed(bridge, workers, client) -> None:
    async def failing(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        for line in text_lines("Partial answer", 4):
            await w.data(rid, line)
        await asyncio.sleep(0.2)  # the client has the first events: the stream is committed
        await w.data(rid, site_line("3", "provider exploded") + finish_line("error"))
        await w.done(rid)

    await workers(bridge.ws_url, handler=failing)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count >= 1)
    stream = await client.responses.create(model="echo-model", input="x", stream=True)
    events = [e async for e in stream]
    assert events[-2].type == "error" and events[-1].type == "response.failed"
    assert events[-1].response.status == "failed"
    assert events[-1].response.error is not None
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_a_client_hanging_up_aborts_the_tab_request(bridge, workers) -> None:
    release = asyncio.Event()

    async def slow(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, text_lines("Hello there", 20)[0])
        await release.wait()

    w = await workers(bridge.ws_url, handler=slow)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count >= 1)
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http, http.stream(
        "POST", "/v1/responses", json={"model": "echo-model", "input": "x", "stream": True}
    ) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if "response.output_text.delta" in line:
                break
    await wait_for(lambda: len(w.aborts) == 1)
    release.set()
