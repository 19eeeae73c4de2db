"""The monitor hub, /ws/monitor, /monitor, /health and the serve banner."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import lmarena_bridge
from lmarena_bridge.cli import startup_lines
from lmarena_bridge.config.store import ConfigStore
from lmarena_bridge.monitor_hub import SUBSCRIBER_QUEUE, MonitorHub
from lmarena_bridge.relay.observer import Observers
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.request_record import RequestRecord
from tests.conftest import wait_for
from tests.support.servers import write_config
from tests.support.workers import ScriptedWorker, finish_line, last_user_text, site_line

Event = dict[str, Any]


def monitor_url(srv: Any, key: str | None = None) -> str:
    return f"ws://127.0.0.1:{srv.port}/ws/monitor" + (f"?key={key}" if key else "")


async def next_event(ws: ClientConnection, pred: Callable[[Event], bool],
                     timeout: float = 5.0) -> Event:
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            if pred(event):
                return event


def of_type(kind: str, **match: Any) -> Callable[[Event], bool]:
    def pred(e: Event) -> bool:
        return e["type"] == kind and all(
            (e.get("request") or e.get("worker") or e).get(k) == v for k, v in match.items()
        )
    return pred


async def slow_echo(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    """Echo the user text a few characters at a time, over about 1.5 s."""
    text = last_user_text(payload)
    if text == "fail":
        await w.send({"request_id": rid, "error": {"message": "HTTP 500", "status": 500,
                                                   "body": "boom", "headers": {}}})
        return
    for i in range(0, len(text), 4):
        await w.data(rid, site_line("0", text[i : i + 4]))
        await asyncio.sleep(0.15)
    await w.data(rid, finish_line())
    await w.done(rid)


# -- health ----------------------------------------------------------------------------------


async def test_health_and_readiness(bridge, workers) -> None:
    async with httpx.AsyncClient(base_url=bridge.url) as http:
        live = await http.get("/health")
        assert live.status_code == 200
        body = live.json()
        assert body["status"] == "ok" and body["version"] and body["uptime_seconds"] >= 0

        r = await http.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["status"] == "not_ready"
        assert r.json()["reason"] == "no browser tab connected"

        w = await workers(bridge.ws_url)
        r = await http.get("/health/ready")
        assert r.status_code == 200
        assert r.json() == {"status": "ready", "workers_connected": 1, "workers_ready": 1,
                            "queue_depth": 0, "workers_needing_human": 0, "needs_human": [],
                            "workers_cooling": 0, "cooling": []}

        await w.send({"type": "status", "state": "challenge", "detail": "Just a moment"})
        await wait_for(lambda: bridge.app.state.bridge.pool.ready_count == 0)
        r = await http.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["reason"] == "tabs connected but none ready (challenge/logged_out)"
        (tab,) = r.json()["needs_human"]
        assert (tab["reason"], tab["detail"]) == ("challenge", "Just a moment")
        assert tab["action"] == "complete the Cloudflare check in that tab"


# -- page ------------------------------------------------------------------------------------


async def test_monitor_page_is_served_self_contained(make_bridge) -> None:
    srv = await make_bridge({"api_key": "s3cret"})
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{srv.url}/monitor")  # loads without the key, then asks for it
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in r.headers["content-security-policy"]
    assert "/ws/monitor" in r.text and "localStorage" in r.text
    assert "http://" not in r.text.replace("https://lmarena.ai", "")  # no CDN, no remote asset
    assert "<script src" not in r.text and "<link rel=\"stylesheet\"" not in r.text


# -- socket ----------------------------------------------------------------------------------


async def test_snapshot_then_live_events(bridge, workers, client) -> None:
    async with connect(monitor_url(bridge)) as ws:
        snap = json.loads(await ws.recv())
        assert snap["type"] == "snapshot"
        assert snap["workers"] == [] and snap["in_flight"] == [] and snap["recent"] == []
        cfg = snap["config"]
        assert cfg["session_ids_set"] is True and cfg["models"] == 2
        assert cfg["mode"] == "direct_chat" and cfg["problems"] == []
        assert cfg["api_key_set"] is False and cfg["userscript_path"] == "/userscript.user.js"

        await workers(bridge.ws_url, handler=slow_echo)
        joined = await next_event(ws, of_type("worker_connected"))
        hello = await next_event(ws, of_type("worker_changed", id=joined["worker"]["id"]))
        assert hello["worker"]["page"] == "https://arena.ai/c/test"
        assert hello["worker"]["protocol"] == 2 and hello["worker"]["state"] == "ready"

        text = "one two three four five six seven eight nine ten"  # ~1.8 s: ticks come
        task = asyncio.create_task(client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": text}]))
        started = await next_event(ws, of_type("request_started"))
        key = started["request"]["key"]
        assert started["request"]["model"] == "echo-model"
        dispatched = await next_event(ws, of_type("request_updated", key=key))
        assert dispatched["request"]["worker"] == joined["worker"]["id"]
        tick = await next_event(
            ws, lambda e: e["type"] == "tick" and e["in_flight"][0]["chars"] > 0)
        assert tick["in_flight"][0]["key"] == key and tick["in_flight"][0]["elapsed"] > 0
        done = await next_event(ws, of_type("request_finished", key=key))
        assert done["request"]["outcome"] == "success" and done["request"]["status"] == 200
        assert done["request"]["ttft"] is not None and done["request"]["duration"] > 0
        assert (await task).choices[0].message.content == text

        with pytest.raises(Exception):  # noqa: B017 - the SDK's 502 class is not the point
            await client.chat.completions.create(
                model="echo-model", messages=[{"role": "user", "content": "fail"}])
        err = await next_event(ws, of_type("error"))
        assert err["error"]["status"] == 502 and "500" in err["error"]["message"]

    async with connect(monitor_url(bridge)) as ws:  # a new page sees the history
        snap = json.loads(await ws.recv())
        assert [r["outcome"] for r in snap["recent"]] == ["success", "error"]
        assert len(snap["errors"]) == 1 and len(snap["workers"]) == 1


async def test_refresh_action_reaches_the_tab(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    async with connect(monitor_url(bridge)) as ws:
        await ws.recv()
        await ws.send(json.dumps({"action": "refresh_worker", "worker_id": w.worker_id}))
        ack = await next_event(ws, of_type("action_result"))
        assert ack["ok"] is True
        await wait_for(lambda: w.commands == ["refresh"])
        await ws.send(json.dumps({"action": "refresh_worker", "worker_id": "w999"}))
        assert (await next_event(ws, of_type("action_result")))["ok"] is False


async def test_socket_requires_the_api_key_when_set(make_bridge) -> None:
    srv = await make_bridge({"api_key": "s3cret"})
    for key in (None, "wrong"):
        async with connect(monitor_url(srv, key)) as ws:
            with pytest.raises(ConnectionClosed) as exc:
                await ws.recv()
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 1008
        assert exc.value.rcvd.reason == "api key required"
    async with connect(monitor_url(srv, "s3cret")) as ws:
        snap = json.loads(await ws.recv())
    assert snap["type"] == "snapshot" and snap["config"]["api_key_set"] is True


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(None, True), ("same", True), ("http://evil.example", False),
     ("https://lmarena.ai", False), ("null", False)],
)
async def test_socket_refuses_foreign_origins(bridge, origin: str | None, allowed: bool) -> None:
    if origin == "same":
        origin = bridge.url
    headers = {"Origin": origin} if origin else None
    if allowed:
        async with connect(monitor_url(bridge), additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
    else:
        with pytest.raises(InvalidStatus) as exc:
            await connect(monitor_url(bridge), additional_headers=headers)
        assert exc.value.response.status_code == 403


async def test_rejected_config_edit_reaches_the_page(bridge) -> None:
    config_dir: Path = bridge.app.state.bridge.config_dir
    async with connect(monitor_url(bridge)) as ws:
        assert json.loads(await ws.recv())["config"]["problems"] == []
        (config_dir / "config.jsonc").write_text('{"port": "not a number"', encoding="utf-8")
        event = await next_event(ws, lambda e: e["type"] == "config" and e["config"]["problems"])
    assert "config.jsonc" in event["config"]["problems"][0]


async def test_an_old_userscript_tab_is_flagged_for_update(bridge, workers) -> None:
    await workers(bridge.ws_url, protocol=1)  # the seed-era script: no hello, no site_request
    await workers(bridge.ws_url)  # ours
    await wait_for(lambda: len(bridge.app.state.bridge.pool.workers) == 2)
    async with connect(monitor_url(bridge)) as ws:
        snap = json.loads(await ws.recv())
    flags = {w["protocol"]: w["needs_update"] for w in snap["workers"]}
    assert flags == {1: True, 2: False}
    assert snap["config"]["site_strategy"] == "create"
    page = (Path(lmarena_bridge.__file__).parent / "static" / "monitor.html").read_text()
    assert "needs_update" in page and "install the current one" in page


async def test_retry_strategy_warns_at_start(make_bridge, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="lmarena_bridge.bridge"):
        await make_bridge({"site_strategy": "retry"})
    assert any("answers the conversation it has stored" in r.getMessage()
               for r in caplog.records)


async def test_first_tab_is_logged(bridge, workers, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="lmarena_bridge.monitor_hub"):
        await workers(bridge.ws_url)
        await workers(bridge.ws_url)
    lines = [r.getMessage() for r in caplog.records if "browser tab is connected" in r.message]
    assert len(lines) == 1 and "w1" in lines[0]


# -- hub unit --------------------------------------------------------------------------------


def make_hub(tmp_path: Path) -> MonitorHub:
    write_config(tmp_path)
    pool = WorkerPool(observer=Observers(), limit=lambda: 2, queue_max=lambda: 8,
                      queue_timeout=lambda: 1.0, no_worker_timeout=lambda: 1.0)
    return MonitorHub(pool, ConfigStore(tmp_path))


async def test_a_stuck_page_is_dropped_without_blocking(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    gate = asyncio.Event()
    closed = asyncio.Event()

    async def stuck(text: str) -> None:
        await gate.wait()  # a page that never reads

    async def close() -> None:
        closed.set()

    fast: list[str] = []

    async def quick(text: str) -> None:
        fast.append(text)

    async def noop() -> None: ...

    slow_sub = hub.subscribe(stuck, close)
    hub.subscribe(quick, noop)
    for i in range(SUBSCRIBER_QUEUE + 5):
        rec = RequestRecord(request_id=f"r{i}", endpoint="chat", model="m", stream=True)
        hub.request_started(rec)  # plain calls: the relay is never held up by a page
        rec.outcome = "success"
        hub.request_finished(rec)
        await asyncio.sleep(0)  # the relay's own awaits, where healthy pages catch up
    assert slow_sub not in hub.subscribers and len(hub.subscribers) == 1
    await asyncio.wait_for(closed.wait(), 1)
    await wait_for(lambda: len(fast) == 1 + 2 * (SUBSCRIBER_QUEUE + 5))
    assert len(hub.recent) == 200 and not hub.in_flight
    hub.close()


async def test_ticks_only_while_something_runs(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    got: list[Event] = []

    async def send(text: str) -> None:
        got.append(json.loads(text))

    async def noop() -> None: ...

    hub.subscribe(send, noop)
    hub.tick()
    await asyncio.sleep(0)
    assert [e["type"] for e in got] == ["snapshot"]
    rec = RequestRecord(request_id="r", endpoint="chat", model="m", stream=True)
    hub.request_started(rec)
    rec.chars = 42  # what the relay does per chunk: no event
    await asyncio.sleep(0)
    assert [e["type"] for e in got] == ["snapshot", "request_started"]
    hub.tick()
    await asyncio.sleep(0)
    assert got[-1]["type"] == "tick" and got[-1]["in_flight"][0]["chars"] == 42
    hub.close()


def test_startup_lines_say_where_things_are() -> None:
    lines = "\n".join(startup_lines("0.0.0.0", 5199, api_key_set=False))
    assert "http://127.0.0.1:5199/v1" in lines
    assert "http://127.0.0.1:5199/monitor" in lines
    assert "http://127.0.0.1:5199/userscript.user.js" in lines
    assert "No browser tab connected yet" in lines
