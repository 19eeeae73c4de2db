"""The Anthropic routes on a real bridge with a scripted tab: the anthropic SDK streamed and
not, tools, thinking, stop sequences, count_tokens, the model list, errors in Anthropic's
shape before and after the first byte, and a client hanging up mid-stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import wait_for
from tests.support.servers import RunningServer
from tests.support.workers import ScriptedWorker, call_block, finish_line, site_line, text_lines

READ: Any = {"name": "Read", "description": "Read a file.", "input_schema": {
    "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}
HI: Any = [{"role": "user", "content": "hi"}]



def answering(*answers: str, reasoning: str = "") -> Any:
    """A tab handler answering each job with the next text (7-character lines)."""
    queue = list(answers)
    prompts: list[str] = []

    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        prompts.append(json.dumps(payload))
        if reasoning:
            await w.data(rid, site_line("g", reasoning))
        for line in text_lines(queue.pop(0), size=7):
            await w.data(rid, line)
        await w.data(rid, finish_line())
        await w.done(rid)

    handler.prompts = prompts  # type: ignore[attr-defined]
    return handler


@pytest.fixture
async def claude(bridge: RunningServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=bridge.url, api_key="test", max_retries=0, timeout=20
    ) as c:
        yield c


async def tab(bridge: RunningServer, workers: Any, handler: Any) -> ScriptedWorker:
    w = await workers(bridge.ws_url, handler=handler)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count >= 1)
    return w


async def test_create_and_stream_text(bridge, workers, claude) -> None:
    await tab(bridge, workers, answering("Hello from the site.", "Streamed answer."))
    msg = await claude.messages.create(model="echo-model", max_tokens=100, messages=HI)
    assert msg.id.startswith("msg_") and msg.model == "echo-model"
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "Hello from the site."  # type: ignore[union-attr]
    assert msg.stop_reason == "end_turn" and msg.usage.output_tokens > 0
    async with claude.messages.stream(model="echo-model", max_tokens=100, messages=HI) as s:
        chunks = [t async for t in s.text_stream]
        final = await s.get_final_message()
    assert "".join(chunks) == "Streamed answer." == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_use_round_trip(bridge, workers, claude, stream: bool) -> None:
    handler = answering("I'll read it.\n" + call_block("Read", {"path": "a.txt"}),
                        "The file says hello.")
    await tab(bridge, workers, handler)
    msgs: Any = [{"role": "user", "content": "What is in a.txt?"}]
    if stream:
        async with claude.messages.stream(model="echo-model", max_tokens=100, messages=msgs,
                                          tools=[READ]) as s:
            first = await s.get_final_message()
    else:
        first = await claude.messages.create(model="echo-model", max_tokens=100, messages=msgs,
                                             tools=[READ])
    assert first.stop_reason == "tool_use"
    text, use = first.content
    assert text.type == "text" and text.text == "I'll read it."
    assert use.type == "tool_use" and use.name == "Read" and use.input == {"path": "a.txt"}
    assert use.id.startswith("toolu_")
    msgs += [{"role": "assistant", "content": first.content},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                           "content": "hello"}]}]
    second = await claude.messages.create(model="echo-model", max_tokens=100, messages=msgs,
                                          tools=[READ])
    assert second.content[0].text == "The file says hello."  # type: ignore[union-attr]
    prompt = handler.prompts[-1]
    assert use.id in prompt and "hello" in prompt and "a.txt" in prompt


async def test_thinking_blocks_only_when_asked(bridge, workers, claude) -> None:
    await tab(bridge, workers, answering("Four.", "Four.", reasoning="2+2 is 4."))
    asked = await claude.messages.create(model="echo-model", max_tokens=100, messages=HI,
                                         thinking={"type": "enabled", "budget_tokens": 1024})
    thinking, text = asked.content
    assert thinking.type == "thinking" and thinking.thinking == "2+2 is 4."
    assert thinking.signature and text.text == "Four."  # type: ignore[union-attr]
    plain = await claude.messages.create(model="echo-model", max_tokens=100, messages=HI)
    assert [b.type for b in plain.content] == ["text"]


async def test_stop_sequence_named(bridge, workers, claude) -> None:
    await tab(bridge, workers, answering("one two END three"))
    msg = await claude.messages.create(model="echo-model", max_tokens=100, messages=HI,
                                       stop_sequences=["END"])
    assert (msg.stop_reason, msg.stop_sequence) == ("stop_sequence", "END")
    assert msg.content[0].text == "one two "  # type: ignore[union-attr]


async def test_count_tokens_matches_usage(bridge, workers, claude) -> None:
    await tab(bridge, workers, answering("ok"))
    counted = await claude.messages.count_tokens(model="echo-model", messages=HI,
                                                 system="Be brief.", tools=[READ])
    msg = await claude.messages.create(model="echo-model", max_tokens=10, messages=HI,
                                       system="Be brief.", tools=[READ])
    assert counted.input_tokens == msg.usage.input_tokens > 0


async def test_claude_code_request_shape(bridge, workers) -> None:
    await tab(bridge, workers, answering("Done."))
    body = {
        "model": "echo-model", "max_tokens": 32000, "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code.",
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "system", "content": "ctx"}, {"role": "user", "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
        "tools": [READ, {"type": "web_search_20250305", "name": "web_search"}],
        "thinking": {"type": "adaptive"}, "context_management": {"edits": []},
        "output_config": {"effort": "medium"}, "metadata": {"user_id": "u"}, "temperature": 1,
    }
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "k",
               "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,nope-1"}
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        assert (await http.head("/")).status_code == 200
        r = await http.post("/v1/messages?beta=true", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["x-bridge-ignored-params"] == (
        "context_management, output_config, temperature, tools:web_search")
    assert "event: message_stop" in r.text and '"text":"Done."' in r.text


@pytest.mark.parametrize(("body", "status", "kind"), [
    ({"model": "echo-model", "messages": HI}, 400, "invalid_request_error"),  # no max_tokens
    ({"model": "nope", "max_tokens": 5, "messages": HI}, 404, "not_found_error"),
    ({"model": "echo-model", "max_tokens": 5, "messages": HI,
      "tools": [{"type": "web_search_20250305", "name": "web_search"}],
      "tool_choice": {"type": "tool", "name": "web_search"}}, 400, "invalid_request_error"),
    ({"model": "echo-model", "max_tokens": 5, "messages": HI}, 529, "overloaded_error"),  # no tab
])
async def test_errors_in_anthropic_shape(bridge, body, status: int, kind: str) -> None:
    async with httpx.AsyncClient(base_url=bridge.url, timeout=20) as http:
        r = await http.post("/v1/messages", json=body)
    assert r.status_code == status
    data = r.json()
    assert data["type"] == "error" and data["error"]["type"] == kind
    assert data["error"]["message"]


async def test_api_key_as_x_api_key_or_bearer(make_bridge) -> None:
    srv = await make_bridge({"api_key": "sekrit"})
    async with httpx.AsyncClient(base_url=srv.url, timeout=20) as http:
        body = {"model": "echo-model", "max_tokens": 5, "messages": HI}
        r = await http.post("/v1/messages/count_tokens", json=body)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        r = await http.post("/v1/messages/count_tokens", json=body,
                            headers={"x-api-key": "sekrit"})
        assert r.status_code == 200 and r.json()["input_tokens"] > 0
        r = await http.post("/v1/messages/count_tokens", json=body,
                            headers={"authorization": "Bearer sekrit"})
        assert r.status_code == 200


async def test_models_in_anthropic_shape(bridge, claude) -> None:
    page = await claude.models.list(limit=1)
    assert [m.id for m in page.data] == ["echo-model"] and page.has_more
    model = await claude.models.retrieve("image-model")
    assert model.type == "model" and model.display_name == "image-model"
    with pytest.raises(anthropic.NotFoundError):
        await claude.models.retrieve("nope")
    async with httpx.AsyncClient(base_url=bridge.url) as http:  # OpenAI's without the header
        assert (await http.get("/v1/models")).json()["object"] == "list"


async def test_error_mid_stream_is_an_error_event(bridge, workers, claude) -> None:
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, text_lines("Partial", size=7)[0])
        await asyncio.sleep(0.05)
        await w.data(rid, site_line("3", "Error during generation: boom"))
        await w.done(rid)

    await tab(bridge, workers, handler)
    with pytest.raises(anthropic.APIStatusError) as err:
        async with claude.messages.stream(model="echo-model", max_tokens=10, messages=HI) as s:
            async for _ in s:
                pass
    assert err.value.body["error"]["type"] == "api_error"  # type: ignore[index]


async def test_client_hang_up_aborts_the_site_request(bridge, workers) -> None:
    release = asyncio.Event()

    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, text_lines("Some text", size=9)[0])
        await release.wait()

    w = await tab(bridge, workers, handler)
    body = {"model": "echo-model", "max_tokens": 10, "messages": HI, "stream": True}
    async with (
        httpx.AsyncClient(base_url=bridge.url, timeout=20) as http,
        http.stream("POST", "/v1/messages", json=body) as r,
    ):
        async for chunk in r.aiter_text():
            if "text_delta" in chunk:
                break
    await wait_for(lambda: len(w.aborts) == 1)
    release.set()


async def test_errors_before_routing_are_in_anthropic_shape(make_bridge) -> None:
    # Middleware (body limit, browser origin) and the api-key guard answer before the route:
    # an Anthropic client still reads Anthropic's shape.
    srv = await make_bridge({"api_key": "sekrit", "max_request_body_bytes": 2048})
    key = {"x-api-key": "sekrit"}
    async with httpx.AsyncClient(base_url=srv.url, timeout=20) as http:
        big = {"model": "echo-model", "max_tokens": 5,
               "messages": [{"role": "user", "content": "x" * 4096}]}
        cases = [
            await http.post("/v1/messages", json=big, headers=key),
            await http.post("/v1/messages", json=HI[0], headers={**key, "origin": "https://evil.example"}),
            await http.get("/v1/models", headers={"anthropic-version": "2023-06-01"}),
        ]
        openai_shaped = await http.get("/v1/models")
    assert [r.status_code for r in cases] == [413, 403, 401]
    for r in cases:
        assert r.json()["type"] == "error" and r.json()["error"]["message"], r.text
    assert "type" not in openai_shaped.json() and openai_shaped.json()["error"]["code"]
