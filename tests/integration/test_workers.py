"""Worker lifecycle: disconnects, aborts, several tabs, origin checks, malformed frames."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import openai
import pytest
from websockets.exceptions import InvalidStatus

from lmarena_bridge.config.model import Settings
from tests.conftest import wait_for
from tests.support.workers import ScriptedWorker, finish_line, last_user_text, site_line

MSGS: Any = [{"role": "user", "content": "hello there"}]


async def test_client_abort_reaches_worker(bridge, workers) -> None:
    started = asyncio.Event()

    async def endless(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        started.set()
        while True:
            await w.data(rid, site_line("0", "more "))
            await asyncio.sleep(0.02)

    w = await workers(bridge.ws_url, handler=endless)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="x", max_retries=0) as c:
        stream = await c.chat.completions.create(model="echo-model", messages=MSGS, stream=True)
        async for _ in stream:
            break
        await stream.close()
    await wait_for(lambda: len(w.aborts) == 1)
    pool = bridge.app.state.bridge.pool
    await wait_for(lambda: all(x.reserved == 0 for x in pool.workers.values()))


async def test_non_stream_client_abort_reaches_worker(bridge, workers) -> None:
    async def endless(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    w = await workers(bridge.ws_url, handler=endless)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="x", max_retries=0,
                                  timeout=0.5) as c:
        with pytest.raises(openai.APITimeoutError):
            await c.chat.completions.create(model="echo-model", messages=MSGS)
    await wait_for(lambda: len(w.aborts) == 1)


@pytest.mark.parametrize("protocol", [1, 2])
async def test_worker_drop_mid_stream_ends_promptly(make_bridge, workers, protocol: int) -> None:
    # Seed-era (protocol 1) tabs only run the legacy retry strategy.
    bridge = await make_bridge({"site_strategy": "retry"} if protocol == 1 else None)
    async def drops(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "partial "))
        await asyncio.sleep(0.2)
        assert w.ws is not None
        await w.ws.close()

    await workers(bridge.ws_url, handler=drops, protocol=protocol)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="x", max_retries=0) as c:
        stream = await c.chat.completions.create(model="echo-model", messages=MSGS, stream=True)
        text, t0 = "", time.monotonic()
        with pytest.raises(openai.APIError) as exc:
            async for chunk in stream:
                text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        assert time.monotonic() - t0 < 2
    assert text == "partial "
    assert "disconnected" in exc.value.message


async def test_job_moves_to_another_worker_if_first_drops_before_data(bridge, workers, client):
    async def vanishes(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        assert w.ws is not None
        await w.ws.close()

    first = await workers(bridge.ws_url, handler=vanishes)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    task = asyncio.create_task(client.chat.completions.create(model="echo-model", messages=MSGS))
    await wait_for(lambda: len(first.jobs) == 1)
    await workers(bridge.ws_url)
    resp = await task
    assert resp.choices[0].message.content == "hello there"


async def test_second_worker_joins_first_leaves(bridge, workers, client) -> None:
    a = await workers(bridge.ws_url)
    r1 = await client.chat.completions.create(model="echo-model", messages=MSGS)
    b = await workers(bridge.ws_url)
    pool = bridge.app.state.bridge.pool
    await wait_for(lambda: pool.ready_count == 2)
    await a.close()
    await wait_for(lambda: pool.ready_count == 1)
    results = await asyncio.gather(*(client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": f"n{i}"}]) for i in range(4)))
    assert [r.choices[0].message.content for r in results] == [f"n{i}" for i in range(4)]
    assert r1.choices[0].message.content == "hello there"
    assert len(b.jobs) == 4


async def test_new_worker_does_not_disturb_running_job(bridge, workers, client) -> None:
    gate = asyncio.Event()

    async def waits(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "first "))
        await gate.wait()
        await w.data(rid, site_line("0", "second") + finish_line())
        await w.done(rid)

    a = await workers(bridge.ws_url, handler=waits)
    task = asyncio.create_task(client.chat.completions.create(model="echo-model", messages=MSGS))
    await wait_for(lambda: len(a.jobs) == 1)
    b = await workers(bridge.ws_url)
    await b.close()
    gate.set()
    assert (await task).choices[0].message.content == "first second"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(None, True), ("https://lmarena.ai", True), ("https://beta.lmarena.ai", True),
     ("https://arena.ai", True), ("https://evil.example", False),
     ("https://lmarena.ai.evil.example", False), ("http://localhost:3000", False)],
)
async def test_ws_origin_check(bridge, origin: str | None, allowed: bool) -> None:
    w = ScriptedWorker(bridge.ws_url, origin=origin)
    if allowed:
        await w.start()
        await w.close()
    else:
        with pytest.raises(InvalidStatus) as exc:
            await w.start()
        assert exc.value.response.status_code == 403


async def test_configured_origin_and_token(make_bridge) -> None:
    srv = await make_bridge({"allowed_origins": ["http://localhost:3000"], "worker_token": "tok"})
    await (await ScriptedWorker(srv.ws_url, origin="http://localhost:3000").start()).close()
    await (await ScriptedWorker(srv.ws_url + "?token=tok", origin="https://x.example").start()).close()
    with pytest.raises(InvalidStatus):
        await ScriptedWorker(srv.ws_url + "?token=bad", origin="https://x.example").start()


async def test_malformed_frames_are_ignored(bridge, workers, client) -> None:
    w = await workers(bridge.ws_url)
    assert w.ws is not None
    for bad in ["not json", "[1,2]", '{"type":"status","state":"bogus"}', '{"type":"weird"}',
                '{"request_id":"nope","data":"x"}', '{"request_id":"x","error":"str"}', "null"]:
        await w.ws.send(bad)
    resp = await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert resp.choices[0].message.content == "hello there"


async def test_frame_with_a_non_string_request_id_keeps_the_tab_and_its_jobs(
    bridge, workers, client
) -> None:
    release = asyncio.Event()

    async def slow(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "kept "))
        await release.wait()
        await w.data(rid, site_line("0", "alive") + finish_line())
        await w.done(rid)

    w = await workers(bridge.ws_url, handler=slow)
    task = asyncio.create_task(client.chat.completions.create(model="echo-model", messages=MSGS))
    await wait_for(lambda: len(w.jobs) == 1)
    for bad in ('{"request_id":["a"],"data":"x"}', '{"request_id":{"a":1},"data":"x"}',
                '{"request_id":7,"error":{"message":"x"}}'):
        await w.send(json.loads(bad))
    release.set()
    resp = await task
    assert resp.choices[0].message.content == "kept alive"
    assert bridge.app.state.bridge.pool.ready_count == 1
    metrics = bridge.app.state.bridge.metrics.render().decode()
    assert "lmarena_bridge_bad_worker_frames_total 3.0" in metrics


async def test_queue_waits_for_a_free_slot(make_bridge, workers) -> None:
    srv = await make_bridge({"max_concurrent_per_worker": 1, "queue_timeout_seconds": 5})

    async def slowish(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(0.1)
        await w.data(rid, site_line("0", last_user_text(payload)) + finish_line())
        await w.done(rid)

    await workers(srv.ws_url, handler=slowish)
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0) as c:
        results = await asyncio.gather(*(c.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": f"q{i}"}]) for i in range(4)))
    assert [r.choices[0].message.content for r in results] == ["q0", "q1", "q2", "q3"]


async def test_full_queue_and_busy_timeout_are_503(make_bridge, workers) -> None:
    srv = await make_bridge({"max_concurrent_per_worker": 1, "queue_timeout_seconds": 0.3,
                             "queue_max_size": 1})

    async def hangs(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(5)

    await workers(srv.ws_url, handler=hangs)
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0,
                                  timeout=3) as c:
        first = asyncio.create_task(c.chat.completions.create(model="echo-model", messages=MSGS))
        await asyncio.sleep(0.1)
        results = await asyncio.gather(
            *(c.chat.completions.create(model="echo-model", messages=MSGS) for _ in range(2)),
            return_exceptions=True)
        first.cancel()
    statuses = sorted(getattr(r, "status_code", None) or 0 for r in results)
    assert statuses == [503, 503]
    # Each cause has its own code: one request found the queue full, the other waited.
    assert sorted(getattr(r, "code", "") for r in results) == ["queue_full", "queue_timeout"]


async def test_no_tab_answer_within_about_ten_seconds_through_sdk_retries(make_bridge) -> None:
    default = Settings.model_fields["no_worker_timeout_seconds"].default
    bridge = await make_bridge({"no_worker_timeout_seconds": default})
    # The SDK's defaults: two retries that honour Retry-After.
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="x") as c:
        t0 = time.monotonic()
        with pytest.raises(openai.APIStatusError) as exc:
            await c.chat.completions.create(model="echo-model", messages=MSGS)
        waited = time.monotonic() - t0
    assert exc.value.status_code == 503 and exc.value.code == "no_worker_available"
    assert exc.value.response.headers["retry-after"] == "2"
    # Three waits for a tab plus two Retry-After pauses; the old settings took 35 s.
    assert waited < 15
    # A new user learns where the userscript comes from, not only that one is missing.
    message = exc.value.message
    assert "http://127.0.0.1:5102/userscript.user.js" in message and "/monitor" in message


async def test_client_gone_while_queued_never_reaches_a_tab(make_bridge, workers) -> None:
    srv = await make_bridge({"max_concurrent_per_worker": 1, "queue_timeout_seconds": 20})
    release = asyncio.Event()

    async def holds(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await release.wait()
        await w.data(rid, site_line("0", "done") + finish_line())
        await w.done(rid)

    w = await workers(srv.ws_url, handler=holds)
    body = {"model": "echo-model", "messages": MSGS}
    async with httpx.AsyncClient(timeout=20) as http:
        first = asyncio.create_task(http.post(f"{srv.url}/v1/chat/completions", json=body))
        await wait_for(lambda: len(w.jobs) == 1)
        with pytest.raises(httpx.ReadTimeout):  # the client gives up while queued
            await http.post(f"{srv.url}/v1/chat/completions", json=body, timeout=0.5)
        hub = srv.app.state.bridge.monitor
        await wait_for(lambda: any(r["outcome"] == "cancelled" for r in hub.snapshot()["recent"]))
        release.set()
        assert (await first).status_code == 200
    await asyncio.sleep(0.2)
    assert len(w.jobs) == 1  # the abandoned request never became a site request
    recent = srv.app.state.bridge.monitor.snapshot()["recent"]
    assert [r["outcome"] for r in recent].count("cancelled") == 1
    assert not srv.app.state.bridge.monitor.snapshot()["errors"]


async def test_stream_client_gone_before_first_byte_aborts_the_tab_at_once(
    bridge, workers
) -> None:
    async def silent(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    w = await workers(bridge.ws_url, handler=silent)
    body = {"model": "echo-model", "messages": MSGS, "stream": True}
    async with httpx.AsyncClient(timeout=20) as http:
        with pytest.raises(httpx.ReadTimeout):
            async with http.stream("POST", f"{bridge.url}/v1/chat/completions", json=body,
                                   timeout=0.5) as r:
                await r.aread()
    t0 = time.monotonic()
    # keepalive_interval_seconds is 15: the abort must not wait for it.
    await wait_for(lambda: len(w.aborts) == 1, timeout=3)
    assert time.monotonic() - t0 < 2
    assert w.aborts == [w.jobs[0][0]]
