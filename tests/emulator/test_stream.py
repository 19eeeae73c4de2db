"""The answer stream and the site's limits: heartbeats, stop, failures, rate-limit headers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.site_emulator import Chunking, EmulatorState, wait_for

from .conftest import CREATE, create_body, send, text_of

HEARTBEAT = 'a2:[{"type":"heartbeat"}]'


async def test_heartbeats_fill_waits_longer_than_the_interval(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.chunking = Chunking(delay=0.2)  # the fixture's interval is 0.05 s
    state.chars_per_delta = 100
    r = await send(client, state, CREATE, create_body("hi"))
    lines = r.text.splitlines()
    # The first line, then heartbeats during each delay: before the text and before the finish.
    assert lines[:2] == [HEARTBEAT, HEARTBEAT]
    answer = lines.index('a0:"Echo: hi"')
    assert set(lines[1:answer]) == {HEARTBEAT} and lines[answer + 1] == HEARTBEAT
    assert text_of(r) == "Echo: hi"


async def test_short_delays_and_a_disabled_interval_send_no_extra_heartbeats(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.chunking = Chunking(delay=0.01)
    r = await send(client, state, CREATE, create_body("hi"))
    assert r.text.count(HEARTBEAT) == 1
    state.heartbeat_interval = None
    state.chunking = Chunking(delay=0.12)
    r = await send(client, state, CREATE, create_body("hi"))
    assert r.text.count(HEARTBEAT) == 1


async def test_routed_model_follows_the_heartbeat(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.routed_model = "anthropic"
    r = await send(client, state, CREATE, create_body())
    assert r.text.splitlines()[:2] == [
        HEARTBEAT, 'a2:[{"type":"routed_model","organization":"anthropic"}]']


@pytest.mark.parametrize(("kind", "beats"), [("stall", True), ("silent_stall", False)])
async def test_stop_ends_a_running_stream(
    kind: str, beats: bool, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body = create_body("long answer " * 4)
    state.fail_next(kind)
    started = time.monotonic()
    answer = asyncio.create_task(send(client, state, CREATE, body))
    await wait_for(lambda: bool(state.running_streams), 2, what="the stream to start")
    await asyncio.sleep(0.2)
    stop = await client.post(f"/nextjs-api/stream/stop/{body['id']}/messages/"
                             f"{body['userMessageId']}")
    r = await asyncio.wait_for(answer, 2)
    assert stop.status_code == 200 and time.monotonic() - started < 2
    assert text_of(r).startswith("Echo: long answer")
    assert "finishReason" not in r.text
    assert (r.text.count(HEARTBEAT) > 1) is beats
    (rec,) = state.create_requests
    assert rec.stopped and rec.completed
    assert [q.path for q in state.stop_requests] == [stop.request.url.path]
    assert state.running_streams == []


async def test_arena_error_ends_with_the_sentinel_line(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    r = await send(client, state, CREATE, create_body("fails [[emulate:arena_error]] here"))
    lines = r.text.splitlines()
    assert r.status_code == 200 and lines[-1] == 'a0:"hasArenaError"'
    assert any(ln.startswith("a0:") for ln in lines[1:-1])


@pytest.mark.parametrize("how", ["fail_next", "magic", "too long"])
async def test_prompt_failed(how: str, client: httpx.AsyncClient, state: EmulatorState) -> None:
    content = "x" * 20
    if how == "fail_next":
        state.fail_next("prompt_failed")
    elif how == "magic":
        content = "[[emulate:prompt_failed]]"
    else:
        state.max_prompt_chars = 10
    r = await send(client, state, CREATE, create_body(content))
    assert (r.status_code, r.json()) == (429, {"error": "prompt failed"})
    assert r.headers["ratelimit-policy"] == "1800;w=300"


@pytest.mark.parametrize("kind", ["stream_error", "content_filter"])
async def test_older_stream_failures_work_on_create(
    kind: str, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.fail_next(kind)
    r = await send(client, state, CREATE, create_body())
    reason = {"stream_error": "error", "content_filter": "content-filter"}[kind]
    assert r.status_code == 200 and f'"finishReason":"{reason}"' in r.text


async def test_both_rate_limit_header_families(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    first = await send(client, state, CREATE, create_body())
    second = await send(client, state, CREATE, create_body())
    h1, h2 = first.headers, second.headers
    assert h1["ratelimit"].startswith("limit=1800, remaining=1799, reset=")
    assert h2["ratelimit"].startswith("limit=1800, remaining=1798, reset=")
    assert h1["ratelimit-policy"] == "1800;w=300"
    assert (h1["ratelimit-limit"], h1["ratelimit-remaining"], h2["ratelimit-remaining"]) == (
        "30", "29", "28")
    assert time.time() < int(h1["ratelimit-reset"]) <= time.time() + 60  # a Unix time

    state.fail_next("rate_limit", retry_after=17)
    limited = await send(client, state, CREATE, create_body())
    h = limited.headers
    assert (limited.status_code, h["retry-after"], h["ratelimit"]) == (
        429, "17", "limit=1800, remaining=0, reset=17")
    assert h["ratelimit-remaining"] == "0"
    assert abs(int(h["ratelimit-reset"]) - (time.time() + 17)) <= 2


async def test_fail_next_reaches_create_then_clears(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.fail_next("content_policy")
    assert (await send(client, state, CREATE, create_body())).status_code == 422
    assert (await send(client, state, CREATE, create_body())).status_code == 200
