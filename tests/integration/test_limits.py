"""Limits and a loop that never blocks: body size, stop and message counts, hostile pages.

Timings are measured, not tuned: the bounds are generous (a blocked loop took ~10 s here
for a 150 KB page before the model scan became linear and moved off the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.conftest import wait_for
from tests.support.servers import RunningServer

MSGS: Any = [{"role": "user", "content": "hello there"}]
CHAT = {"model": "echo-model", "messages": MSGS}
# What a hostile page (or a seed-era tab gone wrong) may send: the key the model scan looks
# for, escaped once, thousands of times.
HOSTILE_UNIT = '\\"initialModels\\":['


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    return err


# -- body size -----------------------------------------------------------------------------


async def test_body_over_the_limit_is_413(make_bridge, workers) -> None:
    srv = await make_bridge({"max_request_body_bytes": 4096})
    w = await workers(srv.ws_url)
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 8000}]}
    async with httpx.AsyncClient() as http:
        r = await http.post(srv.url + "/v1/chat/completions", json=big)
        err = error_of(r, 413)
        assert err["code"] == "request_too_large" and "max_request_body_bytes" in err["message"]

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
            data = json.dumps(big).encode()
            for i in range(0, len(data), 1000):
                yield data[i : i + 1000]

        r = await http.post(srv.url + "/v1/chat/completions", content=chunked(),
                            headers={"Content-Type": "application/json"})
        assert error_of(r, 413)["code"] == "request_too_large"
        r = await http.post(srv.url + "/internal/update_available_models",
                            content=b"<html>" + b"x" * 8000)
        assert error_of(r, 413)["code"] == "request_too_large"
        # The connection stays usable and small bodies pass.
        ok = await http.post(srv.url + "/v1/chat/completions", json=CHAT)
        assert ok.status_code == 200
    assert len(w.jobs) == 1


async def test_default_limit_takes_large_images(bridge, workers) -> None:
    await workers(bridge.ws_url)
    image = "data:image/png;base64," + "A" * (8 * 1024 * 1024)
    body = {**CHAT, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hello there"},
        {"type": "image_url", "image_url": {"url": image}}]}]}
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(bridge.url + "/v1/chat/completions", json=body)
    assert r.status_code != 413, r.text


# -- stop and messages -------------------------------------------------------------------


async def test_at_most_four_stop_sequences(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    async with httpx.AsyncClient() as http:
        r = await http.post(bridge.url + "/v1/chat/completions",
                            json={**CHAT, "stop": ["a", "b", "c", "d", "e"]})
        err = error_of(r, 400)
        assert (err["param"], err["code"]) == ("stop", "array_above_max_length")
        started = time.perf_counter()
        r = await http.post(bridge.url + "/v1/chat/completions",
                            json={**CHAT, "stop": ["s" * 200] * 3000})
        assert error_of(r, 400)["param"] == "stop"
        assert time.perf_counter() - started < 1.0
        ok = await http.post(bridge.url + "/v1/chat/completions",
                             json={**CHAT, "stop": ["zz", "yy", "xx", "ww"]})
        assert ok.status_code == 200
    assert len(w.jobs) == 1


async def test_message_count_limit(make_bridge, workers) -> None:
    srv = await make_bridge({"max_messages": 10})
    w = await workers(srv.ws_url)
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(srv.url + "/v1/chat/completions", json={**CHAT, "messages": MSGS * 11})
        err = error_of(r, 400)
        assert (err["param"], err["code"]) == ("messages", "array_above_max_length")
        assert "max_messages" in err["message"]
        ok = await http.post(srv.url + "/v1/chat/completions", json={**CHAT, "messages": MSGS * 10})
        assert ok.status_code == 200
    assert len(w.jobs) == 1


async def test_huge_message_list_is_refused_quickly(bridge) -> None:
    body = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x"}] * 200_000})
    async with httpx.AsyncClient(timeout=30) as http:
        started = time.perf_counter()
        r = await http.post(bridge.url + "/v1/chat/completions", content=body,
                            headers={"Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
    assert error_of(r, 400)["param"] == "messages"
    assert elapsed < 1.0, elapsed


# -- the event loop stays free while a page is scanned ------------------------------------


@contextlib.asynccontextmanager
async def health_watch(srv: RunningServer) -> AsyncIterator[list[float]]:
    """Polls /health meanwhile; yields the list of its answer times (seconds)."""
    times: list[float] = []
    stop = asyncio.Event()

    async def poll() -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            while not stop.is_set():
                started = time.perf_counter()
                r = await http.get(srv.url + "/health")
                assert r.status_code == 200
                times.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

    task = asyncio.create_task(poll())
    try:
        yield times
    finally:
        stop.set()
        await task


async def test_health_answers_while_a_posted_page_is_scanned(bridge) -> None:
    html = "<html><body>" + HOSTILE_UNIT * 700_000 + "</body></html>"  # ~13 MB: ~2 s of scanning
    async with health_watch(bridge) as times, httpx.AsyncClient(timeout=60) as http:
        await asyncio.sleep(0.1)
        r = await http.post(bridge.url + "/internal/update_available_models",
                            content=html.encode(),
                            headers={"Content-Type": "text/html; charset=utf-8"})
        await asyncio.sleep(0.1)
    assert r.status_code == 400
    assert r.json()["message"] == "Could not extract model data from HTML."
    assert len(times) >= 3
    assert max(times) < 1.0, max(times)


async def test_health_answers_while_a_page_source_frame_is_scanned(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    html = "<html>" + HOSTILE_UNIT * 700_000 + "</html>"  # ~13 MB in one frame
    async with health_watch(bridge) as times, httpx.AsyncClient(timeout=60) as http:
        call = asyncio.create_task(http.post(bridge.url + "/internal/page_source"))
        await wait_for(lambda: "send_page_source" in w.commands)
        await w.send({"type": "page_source", "html": html})
        r = await call
        await asyncio.sleep(0.1)
    assert error_of(r, 502)["code"] == "no_models_in_page"
    assert max(times) < 1.0, max(times)


async def test_every_n_but_one_gets_the_same_message(bridge) -> None:
    # n=1000000 used to hit a validation bound ("less than or equal to 128") while n=2 said
    # only 1 is supported; both are the same limit of the site.
    messages = []
    async with httpx.AsyncClient() as http:
        for n in (2, 1_000_000, 0, -3):
            r = await http.post(f"{bridge.url}/v1/chat/completions", json={**CHAT, "n": n})
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["param"] == "n"
            messages.append(error["message"].replace(f"n={n})", "n=N)"))
    assert messages[0].startswith("Only n=1 is supported")
    assert set(messages) == {messages[0]}
