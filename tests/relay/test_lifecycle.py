"""The one request lifecycle (relay/lifecycle.py) through a real server, the openai SDK and
scripted tabs: the record's outcome on every ending, model aliases, the empty-answer retry,
and the idle timer applied alike to streamed and non-stream answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openai
import pytest

from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.request_record import RequestRecord
from tests.conftest import wait_for
from tests.support.workers import ScriptedWorker, finish_line, site_line

MSGS: Any = [{"role": "user", "content": "hi"}]


class Finished(RelayObserver):
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def request_finished(self, rec: RequestRecord) -> None:
        self.records.append(rec)


async def _answer(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    await w.data(rid, site_line("0", "hello") + finish_line())
    await w.done(rid)


async def _silent(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    await asyncio.sleep(30)


async def _lost(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    await w.data(rid, site_line("0", "partial"))
    assert w.ws is not None
    await w.ws.close()


async def _refused(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    await w.send({"request_id": rid, "error": {
        "message": "HTTP 429", "status": 429, "body": '{"error":"Too Many Requests"}'}})


async def _pieces_then_silence(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    await w.data(rid, site_line("0", "one "))
    await w.data(rid, site_line("0", "two"))
    await asyncio.sleep(30)


async def short_timers(make_bridge: Any) -> tuple[Any, Finished]:
    """A bridge with 1 s first-byte and idle limits, and the records it finishes."""
    bridge = await make_bridge({"first_byte_timeout_seconds": 1,
                                "stream_response_timeout_seconds": 1})
    seen = Finished()
    bridge.app.state.bridge.observers.add(seen)
    return bridge, seen


# What each ending must leave in the record: (outcome, status).
ENDINGS: dict[str, tuple[Callable[..., Awaitable[None]], str, int]] = {
    "success": (_answer, "success", 200),
    "timeout": (_silent, "error", 504),
    "tab_loss": (_lost, "error", 502),
    "site_refusal": (_refused, "error", 429),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("ending", sorted(ENDINGS))
async def test_every_ending_is_recorded_once(make_bridge, workers, ending: str,
                                             stream: bool) -> None:
    handler, outcome, status = ENDINGS[ending]
    bridge, seen = await short_timers(make_bridge)
    await workers(bridge.ws_url, handler=handler)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t", max_retries=0,
                                  timeout=20) as client:
        try:
            if stream:
                async for _ in await client.chat.completions.create(
                        model="echo-model", messages=MSGS, stream=True):
                    pass
            else:
                await client.chat.completions.create(model="echo-model", messages=MSGS)
        except openai.APIError:
            pass
    await wait_for(lambda: len(seen.records) == 1)
    (rec,) = seen.records
    assert (rec.outcome, rec.status) == (outcome, status)
    assert rec.endpoint == "chat" and rec.finished_mono is not None
    assert rec.request_id.startswith("req-") and len(rec.request_id) > 12


BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "echo-model", "messages": MSGS}),
    "messages": ("/v1/messages", {"model": "echo-model", "max_tokens": 50, "messages": MSGS}),
    "responses": ("/v1/responses", {"model": "echo-model", "input": "hi"}),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("endpoint", sorted(BODIES))
async def test_every_endpoint_records_the_same_outcome(make_bridge, workers, endpoint: str,
                                                       ending: str, stream: bool) -> None:
    handler, outcome, status = ENDINGS[ending]
    bridge, seen = await short_timers(make_bridge)
    await workers(bridge.ws_url, handler=handler)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    path, body = BODIES[endpoint]
    async with httpx.AsyncClient(timeout=20) as http:
        resp = await http.post(bridge.url + path, json={**body, "stream": stream})
    await wait_for(lambda: len(seen.records) == 1)
    (rec,) = seen.records
    assert (rec.endpoint, rec.outcome, rec.status) == (endpoint, outcome, status)
    if outcome == "success" or (stream and ending in ("tab_loss",)):
        assert resp.status_code == 200, resp.text


async def _image(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    items = [{"type": "image", "image": "https://img.test/a.png", "mimeType": "image/png"}]
    await w.data(rid, site_line("2", items) + finish_line())
    await w.done(rid)


@pytest.mark.parametrize("ending", sorted(ENDINGS))
async def test_images_record_the_same_outcome(make_bridge, workers, ending: str) -> None:
    handler, outcome, status = ENDINGS[ending]
    bridge, seen = await short_timers(make_bridge)
    await workers(bridge.ws_url, handler=_image if ending == "success" else handler)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    async with httpx.AsyncClient(timeout=20) as http:
        await http.post(bridge.url + "/v1/images/generations",
                        json={"model": "image-model", "prompt": "a cat"})
    await wait_for(lambda: len(seen.records) == 1)
    (rec,) = seen.records
    assert (rec.endpoint, rec.outcome, rec.status) == ("images", outcome, status)


@pytest.mark.parametrize("stream", [False, True])
async def test_client_hang_up_is_cancelled(make_bridge, workers, stream: bool) -> None:
    bridge = await make_bridge()
    seen = Finished()
    bridge.app.state.bridge.observers.add(seen)
    w = await workers(bridge.ws_url, handler=_pieces_then_silence)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    async with httpx.AsyncClient(timeout=10) as http:
        body = {"model": "echo-model", "messages": MSGS, "stream": stream}
        task = asyncio.create_task(http.post(f"{bridge.url}/v1/chat/completions", json=body))
        await wait_for(lambda: len(w.jobs) == 1)
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await wait_for(lambda: len(seen.records) == 1)
    assert seen.records[0].outcome == "cancelled"
    await wait_for(lambda: len(w.aborts) == 1)  # the tab's site request is aborted


async def test_request_ids_do_not_repeat(bridge, workers, client) -> None:
    seen = Finished()
    bridge.app.state.bridge.observers.add(seen)
    await workers(bridge.ws_url, handler=_answer)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    for _ in range(20):
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    await wait_for(lambda: len(seen.records) == 20)
    assert len({r.request_id for r in seen.records}) == 20


async def test_aliases_exact_and_pattern(make_bridge, workers) -> None:
    bridge = await make_bridge({"model_aliases": {"claude-*": "echo-model",
                                                  "gpt-5-codex": "echo-model"}})
    w = await workers(bridge.ws_url, handler=_answer)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t",
                                  max_retries=0) as client:
        for name in ("claude-sonnet-4-5", "gpt-5-codex"):
            resp = await client.chat.completions.create(model=name, messages=MSGS)
            assert resp.model == name  # the answer keeps the client's name
            assert resp.choices[0].message.content == "hello"
        with pytest.raises(openai.NotFoundError) as err:
            await client.chat.completions.create(model="gpt-4o", messages=MSGS)
    assert "model_aliases" in str(err.value)
    assert [p["body"]["modelAId"] for _, p in w.jobs] == [p["body"]["modelAId"]
                                                          for _, p in w.jobs[:1]] * 2


async def _empty(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    await w.data(rid, finish_line())
    await w.done(rid)


@pytest.mark.parametrize("stream", [False, True])
async def test_empty_answer_is_tried_once_more(make_bridge, workers, stream: bool) -> None:
    bridge = await make_bridge()
    answered: list[str] = []

    async def empty_then_answer(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        answered.append(payload["body"]["id"])
        await (_empty if len(answered) == 1 else _answer)(w, rid, payload)

    await workers(bridge.ws_url, handler=empty_then_answer)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    async with openai.AsyncOpenAI(base_url=f"{bridge.url}/v1", api_key="t",
                                  max_retries=0) as client:
        if stream:
            text = "".join([c.choices[0].delta.content or "" async for c in
                            await client.chat.completions.create(
                                model="echo-model", messages=MSGS, stream=True) if c.choices])
        else:
            resp = await client.chat.completions.create(model="echo-model", messages=MSGS)
            text = resp.choices[0].message.content or ""
    assert text == "hello"
    assert len(set(answered)) == 2  # the second try is a fresh evaluation


async def test_empty_twice_is_a_502_without_id_advice(bridge, workers, client) -> None:
    w = await workers(bridge.ws_url, handler=_empty)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    with pytest.raises(openai.InternalServerError) as err:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert err.value.status_code == 502
    assert err.value.code == "empty_response"
    assert "capture" not in err.value.message
    assert len(w.jobs) == 2


@pytest.mark.parametrize("stream", [False, True])
async def test_idle_limit_holds_for_every_answer(make_bridge, workers, stream: bool) -> None:
    # First byte allowed 6 s, silence between chunks 1 s: a answer that stops after two
    # pieces must end on the idle limit, streamed or not.
    bridge = await make_bridge({"first_byte_timeout_seconds": 6,
                                "stream_response_timeout_seconds": 1})
    await workers(bridge.ws_url, handler=_pieces_then_silence)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    body = {"model": "echo-model", "messages": MSGS, "stream": stream}
    t0 = time.monotonic()
    async with httpx.AsyncClient(timeout=20) as http:
        resp = await http.post(f"{bridge.url}/v1/chat/completions", json=body)
    elapsed = time.monotonic() - t0
    text = resp.text
    assert "between two chunks" in text
    assert elapsed < 5, elapsed  # not the 6 s first-byte deadline
    if not stream:
        assert resp.status_code == 504


async def test_a_body_s_first_token_is_its_first_data(make_bridge, workers) -> None:
    # Nothing of a non-stream answer reaches the client before the end: its time to first
    # token is when the tab's first data came, not when the answer was parsed.
    async def slow(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.data(rid, site_line("0", "early "))
        await asyncio.sleep(0.6)
        await w.data(rid, site_line("0", "late") + finish_line())
        await w.done(rid)

    bridge, seen = await short_timers(make_bridge)
    await workers(bridge.ws_url, handler=slow)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 1)
    async with httpx.AsyncClient(timeout=20) as http:
        resp = await http.post(f"{bridge.url}/v1/chat/completions",
                               json={"model": "echo-model", "messages": MSGS})
    assert resp.json()["choices"][0]["message"]["content"] == "early late"
    await wait_for(lambda: len(seen.records) == 1)
    (rec,) = seen.records
    assert rec.ttft is not None and rec.ttft < 0.4 < 0.6 <= rec.duration
