"""The real server on a loopback port, the official openai SDK, scripted workers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from lmarena_bridge.protocol.worker import JobFrame
from tests.conftest import wait_for
from tests.support.workers import (
    ScriptedWorker,
    finish_line,
    last_user_text,
    site_line,
    text_lines,
)

TRICKY = 'He said "hi" \\ back\\slash\nnew line\ttab 😀 你好世界 \u2028 sep </think> {"error": 1}'


@pytest.mark.parametrize("protocol", [1, 2])
@pytest.mark.parametrize("stream", [False, True])
async def test_exact_round_trip(make_bridge, workers, protocol: int, stream: bool) -> None:
    # Seed-era (protocol 1) tabs only run the legacy retry strategy.
    bridge = await make_bridge({"site_strategy": "retry"} if protocol == 1 else None)
    client = openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t", max_retries=0)
    await workers(bridge.ws_url, protocol=protocol)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    messages: Any = [{"role": "user", "content": TRICKY}]
    if stream:
        chunks = [c async for c in await client.chat.completions.create(
            model="echo-model", messages=messages, stream=True)]
        assert chunks[0].choices[0].delta.role == "assistant"
        assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        resp = await client.chat.completions.create(model="echo-model", messages=messages)
        text = resp.choices[0].message.content
        assert resp.choices[0].finish_reason == "stop"
        assert resp.usage is not None and resp.usage.completion_tokens > 0
    assert text == TRICKY


async def test_payload_sent_to_worker(legacy_bridge, workers, legacy_client) -> None:
    bridge, client = legacy_bridge, legacy_client
    w = await workers(bridge.ws_url)
    await client.chat.completions.create(
        model="echo-model",
        messages=[
            {"role": "developer", "content": "Be terse."},
            {"role": "user", "content": "Hello"},
        ],
    )
    (rid, payload), = w.jobs
    JobFrame.model_validate({"request_id": rid, "payload": payload})  # the documented shape
    assert payload["session_id"] and payload["message_id"]
    assert payload["target_model_id"] == "e2d9d353-6dbe-4414-bf87-bd289d523726"
    roles = [(t["role"], t["participantPosition"]) for t in payload["message_templates"]]
    assert roles == [("system", "b"), ("user", "a"), ("user", "a")]  # bypass adds a user turn


async def test_usage_chunk_only_when_asked(bridge, workers, client) -> None:
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "four") + finish_line(
            "stop", {"promptTokens": 7, "completionTokens": 3}))
        await w.done(rid)

    await workers(bridge.ws_url, handler=handler)
    msgs: Any = [{"role": "user", "content": "x"}]
    plain = [c async for c in await client.chat.completions.create(
        model="echo-model", messages=msgs, stream=True)]
    assert all(c.choices for c in plain) and all(c.usage is None for c in plain)
    with_usage = [c async for c in await client.chat.completions.create(
        model="echo-model", messages=msgs, stream=True, stream_options={"include_usage": True})]
    last = with_usage[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (7, 3)
    assert all(c.choices for c in with_usage[:-1])


@pytest.mark.parametrize(
    ("site_reason", "openai_reason"),
    [("stop", "stop"), ("length", "length"), ("content-filter", "content_filter"),
     ("unknown", "stop")],
)
async def test_finish_reasons(bridge, workers, client, site_reason: str, openai_reason: str):
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "partial") + finish_line(site_reason))
        await w.done(rid)

    await workers(bridge.ws_url, handler=handler)
    resp = await client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": "x"}])
    assert resp.choices[0].finish_reason == openai_reason


async def test_reasoning_content(bridge, workers, client) -> None:
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("g", "thinking ") + site_line("g", "hard"))
        await w.data(rid, site_line("0", "answer") + finish_line())
        await w.done(rid)

    await workers(bridge.ws_url, handler=handler)
    msgs: Any = [{"role": "user", "content": "x"}]
    resp = await client.chat.completions.create(model="echo-model", messages=msgs)
    msg = resp.choices[0].message
    assert msg.content == "answer"
    assert msg.model_extra and msg.model_extra["reasoning_content"] == "thinking hard"
    chunks = [c async for c in await client.chat.completions.create(
        model="echo-model", messages=msgs, stream=True)]
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in chunks if c.choices)
    assert reasoning == "thinking hard"


@pytest.mark.parametrize("stream", [False, True])
async def test_stop_sequence_cuts_and_aborts(bridge, workers, client, stream: bool) -> None:
    release = asyncio.Event()

    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        for line in text_lines("Hello world. STOP here and more", size=3):
            await w.data(rid, line)
        await release.wait()  # the site would keep going; the bridge must abort it

    w = await workers(bridge.ws_url, handler=handler)
    msgs: Any = [{"role": "user", "content": "x"}]
    if stream:
        chunks = [c async for c in await client.chat.completions.create(
            model="echo-model", messages=msgs, stream=True, stop=["STOP"])]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        reason = chunks[-1].choices[0].finish_reason
    else:
        resp = await client.chat.completions.create(model="echo-model", messages=msgs, stop="STOP")
        text, reason = resp.choices[0].message.content, resp.choices[0].finish_reason
    assert text == "Hello world. "
    assert reason == "stop"
    await wait_for(lambda: len(w.aborts) == 1)


async def test_images_become_markdown(bridge, workers, client) -> None:
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        assert payload["body"]["modality"] == "image"
        imgs = [{"type": "image", "image": f"https://cdn.test/{i}.png", "mimeType": "image/png"}
                for i in range(2)]
        await w.data(rid, site_line("2", imgs) + finish_line())
        await w.done(rid)

    await workers(bridge.ws_url, handler=handler)
    resp = await client.chat.completions.create(
        model="image-model", messages=[{"role": "user", "content": "a cat"}])
    content = resp.choices[0].message.content or ""
    assert "![Image](https://cdn.test/0.png)" in content
    assert "![Image](https://cdn.test/1.png)" in content


async def test_concurrent_requests_on_one_worker(bridge, workers, client) -> None:
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        text = last_user_text(payload)
        for line in text_lines(text, size=2):
            await w.data(rid, line)
            await asyncio.sleep(0.005)
        await w.data(rid, finish_line())
        await w.done(rid)

    await workers(bridge.ws_url, handler=handler)

    async def one(i: int) -> str:
        resp = await client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": f"request number {i} ✓"}])
        return resp.choices[0].message.content or ""

    results = await asyncio.gather(*(one(i) for i in range(12)))
    assert results == [f"request number {i} ✓" for i in range(12)]


async def test_least_busy_routing_across_workers(bridge, workers, client) -> None:
    gate = asyncio.Event()

    async def slow(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await gate.wait()
        await w.data(rid, site_line("0", last_user_text(payload)) + finish_line())
        await w.done(rid)

    a = await workers(bridge.ws_url, handler=slow)
    b = await workers(bridge.ws_url, handler=slow)
    tasks = [asyncio.create_task(client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": f"m{i}"}])) for i in range(6)]
    await wait_for(lambda: len(a.jobs) + len(b.jobs) == 6)
    assert len(a.jobs) == 3 and len(b.jobs) == 3
    gate.set()
    results = await asyncio.gather(*tasks)
    assert sorted(r.choices[0].message.content for r in results) == [f"m{i}" for i in range(6)]


async def test_keepalive_comments_during_silence(make_bridge, workers) -> None:
    import httpx

    srv = await make_bridge({"keepalive_interval_seconds": 0.2})

    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "early "))
        await asyncio.sleep(0.7)
        await w.data(rid, site_line("0", "late") + finish_line())
        await w.done(rid)

    await workers(srv.ws_url, handler=handler)
    async with httpx.AsyncClient(timeout=10) as http, http.stream(
        "POST", f"{srv.url}/v1/chat/completions",
        json={"model": "echo-model", "stream": True,
              "messages": [{"role": "user", "content": "x"}]},
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        body = "".join([part async for part in resp.aiter_text()])
    assert ": keep-alive" in body
    data = [json.loads(line[6:]) for line in body.splitlines()
            if line.startswith("data: {")]
    assert "".join(d["choices"][0]["delta"].get("content") or "" for d in data) == "early late"
    assert body.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize("stream", [False, True])
async def test_ignored_parameters_are_named_in_a_header(bridge, workers, client, stream: bool):
    await workers(bridge.ws_url)
    raw = await client.chat.completions.with_raw_response.create(
        model="echo-model", messages=[{"role": "user", "content": "hi"}], stream=stream,
        temperature=0.2, seed=7, extra_body={"top_p": 0.9},
    )
    assert raw.headers["x-bridge-ignored-params"] == "seed, temperature, top_p"
    if stream:
        async for _ in raw.parse():
            pass
    plain = await client.chat.completions.with_raw_response.create(
        model="echo-model", messages=[{"role": "user", "content": "hi"}])
    assert "x-bridge-ignored-params" not in plain.headers
