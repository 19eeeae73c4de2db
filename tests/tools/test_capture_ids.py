"""capture-ids against the real bridge: our protocol, the seed's side channel, the writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import wait_for
from tests.support.servers import MESSAGE_ID, SESSION_ID, RunningServer
from tests.support.workers import ScriptedWorker, finish_line, text_lines
from tests.tools.tool_runner import ToolRun, free_port, run_tool

NEW_SID = "aaaaaaaa-1111-4aaa-8aaa-aaaaaaaaaaaa"
NEW_MID = "bbbbbbbb-2222-4bbb-8bbb-bbbbbbbbbbbb"

# A hand-edited config: comments everywhere, odd spacing, a trailing comma.
RICH_CONFIG = f"""// My bridge settings: hand-edited, keep my notes!
{{
  /* ids: captured on 2025-01-01 */
  "session_id": "{SESSION_ID}", // old session
  "message_id":   "{MESSAGE_ID}",
  "id_updater_last_mode": "direct_chat",  // was direct before
  "id_updater_battle_target": "A",
  "bypass_enabled": true,
  "tavern_mode_enabled": false,
  "site_strategy": "retry",  // captured ids serve the legacy strategy
  "no_worker_timeout_seconds": 0.5,
  "queue_timeout_seconds": 2,
  // a trailing comma is fine in JSONC
  "heartbeat_interval_seconds": 15,
}}
"""


def state(srv: RunningServer) -> Any:
    return srv.app.state.bridge


async def rich_bridge(make_bridge: Any, **files: Any) -> tuple[RunningServer, Path]:
    srv = await make_bridge(**files)
    config_dir: Path = state(srv).config_dir
    (config_dir / "config.jsonc").write_text(RICH_CONFIG, encoding="utf-8")
    # (heartbeat_interval_seconds is 15 by default too: wait for a key that changes.)
    await wait_for(lambda: state(srv).settings.site_strategy == "retry"
                   and not state(srv).config_store.problems)
    return srv, config_dir


def tool(srv: RunningServer, config_dir: Path, *extra: str) -> list[str]:
    return ["capture-ids", "--config-dir", str(config_dir), "--bridge-url", srv.url,
            "--side-channel-port", str(free_port()), "--timeout", "15", *extra]


async def click_retry(w: ScriptedWorker, sid: str = NEW_SID, mid: str = NEW_MID) -> None:
    """What our userscript does after the user's Retry click on an armed tab."""
    await wait_for(lambda: "activate_id_capture" in w.commands)
    await w.send({"type": "ids_captured", "session_id": sid, "message_id": mid})


async def sided_echo(worker: ScriptedWorker, request_id: str, payload: dict[str, Any]) -> None:
    """Answers "ok" on the side the job asks for (battle B answers on b lines)."""
    side = payload["message_templates"][-1]["participantPosition"]
    for line in [*text_lines("ok", side=side), finish_line(side=side)]:
        await worker.data(request_id, line)
    await worker.done(request_id)


async def chat(srv: RunningServer, model: str = "echo-model") -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return await http.post(f"{srv.url}/v1/chat/completions", json=body)


async def test_global_ids_written_keeping_every_other_byte(make_bridge, workers) -> None:
    srv, config_dir = await rich_bridge(make_bridge)
    w = await workers(srv.ws_url, handler=sided_echo)
    run = ToolRun(tool(srv, config_dir, "--mode", "battle", "--target", "b")).start()
    await click_retry(w)
    assert await run.finished() == 0, run.errors

    expected = (
        RICH_CONFIG.replace(SESSION_ID, NEW_SID).replace(MESSAGE_ID, NEW_MID)
        .replace('"id_updater_last_mode": "direct_chat"', '"id_updater_last_mode": "battle"')
        .replace('"id_updater_battle_target": "A"', '"id_updater_battle_target": "B"')
    )
    assert (config_dir / "config.jsonc").read_text(encoding="utf-8") == expected
    assert f"session_id = {NEW_SID}" in run.output and f"message_id = {NEW_MID}" in run.output
    assert "Assistant B" in run.errors  # told what to click

    # The running bridge picks the ids up by itself; the next request uses them.
    await wait_for(lambda: state(srv).settings.session_id == NEW_SID)
    assert (await chat(srv)).status_code == 200
    payload = w.jobs[-1][1]
    assert (payload["session_id"], payload["message_id"]) == (NEW_SID, NEW_MID)
    assert {t["participantPosition"] for t in payload["message_templates"]} == {"b"}


async def test_bridge_address_and_api_key_come_from_config(make_bridge, workers) -> None:
    srv = await make_bridge({"api_key": "sekret"})
    b = state(srv)
    b.config_store.update_sync("config.jsonc", {("port",): srv.port})
    w = await workers(srv.ws_url)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{srv.url}/internal/workers")).status_code == 401
        # The seed's bodiless form cannot send a key and still works.
        r = await http.post(f"{srv.url}/internal/start_id_capture")
        assert r.status_code == 200
        assert r.json()["message"] == "Activation command sent."
    argv = ["capture-ids", "--config-dir", str(b.config_dir), "--mode", "direct_chat",
            "--no-side-channel", "--timeout", "15"]
    run = ToolRun(argv).start()
    await wait_for(lambda: w.commands.count("activate_id_capture") == 2)
    await w.send({"type": "ids_captured", "session_id": NEW_SID, "message_id": NEW_MID})
    assert await run.finished() == 0, run.errors
    await wait_for(lambda: b.settings.session_id == NEW_SID)


async def test_model_entry_pool_append_and_refusal(make_bridge, workers) -> None:
    existing = {"session_id": SESSION_ID, "message_id": MESSAGE_ID, "mode": "direct_chat"}
    srv = await make_bridge({"site_strategy": "retry"}, endpoint_map={"other": existing})
    config_dir = state(srv).config_dir
    map_path = config_dir / "model_endpoint_map.json"
    before_config = (config_dir / "config.jsonc").read_text(encoding="utf-8")
    w = await workers(srv.ws_url, handler=sided_echo)

    run = ToolRun(tool(srv, config_dir, "--mode", "direct_chat", "--model", "echo-model")).start()
    await click_retry(w)
    assert await run.finished() == 0, run.errors
    data = json.loads(map_path.read_text(encoding="utf-8"))
    assert data == {"other": existing, "echo-model": {
        "session_id": NEW_SID, "message_id": NEW_MID, "mode": "direct_chat"}}
    assert (config_dir / "config.jsonc").read_text(encoding="utf-8") == before_config

    # --append turns the single entry into a pool; the bridge uses the pool round-robin.
    w.commands.clear()
    run = ToolRun(tool(srv, config_dir, "--mode", "battle", "--target", "A",
                       "--model", "echo-model", "--append")).start()
    await click_retry(w, sid="cccccccc-3333-4ccc-8ccc-cccccccccccc")
    assert await run.finished() == 0, run.errors
    pool = json.loads(map_path.read_text(encoding="utf-8"))["echo-model"]
    assert [e["session_id"] for e in pool] == [NEW_SID, "cccccccc-3333-4ccc-8ccc-cccccccccccc"]
    assert pool[1]["mode"] == "battle" and pool[1]["battle_target"] == "A"
    await wait_for(lambda: len(state(srv).config().endpoint_map.get("echo-model", ())) == 2)
    for _ in range(2):
        assert (await chat(srv)).status_code == 200
    assert {p["session_id"] for _, p in w.jobs[-2:]} == {NEW_SID,
                                                         "cccccccc-3333-4ccc-8ccc-cccccccccccc"}

    # A pool is never replaced by accident: refused before the tab is even armed.
    w.commands.clear()
    run = await run_tool(tool(srv, config_dir, "--mode", "direct_chat", "--model", "echo-model"))
    assert await run.finished() == 1
    assert "--append" in run.errors and "--replace" in run.errors
    assert "activate_id_capture" not in w.commands
    assert len(json.loads(map_path.read_text(encoding="utf-8"))["echo-model"]) == 2


async def test_seed_era_tab_reports_on_the_side_channel(make_bridge, workers) -> None:
    srv, config_dir = await rich_bridge(make_bridge)
    w = await workers(srv.ws_url, protocol=1)
    port = free_port()
    argv = ["capture-ids", "--config-dir", str(config_dir), "--bridge-url", srv.url,
            "--side-channel-port", str(port), "--mode", "direct_chat", "--timeout", "15"]
    run = ToolRun(argv).start()
    await wait_for(lambda: "activate_id_capture" in w.commands)
    side = f"http://127.0.0.1:{port}"
    origin = {"Origin": "https://lmarena.ai"}
    async with httpx.AsyncClient() as http:
        pre = await http.options(f"{side}/update", headers={
            **origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "*"
        assert pre.headers["access-control-allow-methods"] == "POST, OPTIONS"
        assert pre.headers["access-control-allow-headers"] == "Content-Type"
        missing = await http.post(f"{side}/update", json={"sessionId": NEW_SID}, headers=origin)
        assert missing.status_code == 400
        assert missing.content == b'{"error": "Missing sessionId or messageId"}'
        assert missing.headers["access-control-allow-origin"] == "*"
        other = await http.post(f"{side}/elsewhere", json={}, headers=origin)
        assert other.status_code == 404
        ok = await http.post(f"{side}/update", headers=origin,
                             json={"sessionId": NEW_SID, "messageId": NEW_MID})
        assert ok.status_code == 200 and ok.content == b'{"status": "success"}'
    assert await run.finished() == 0, run.errors
    assert "seed side channel" in run.output
    expected = RICH_CONFIG.replace(SESSION_ID, NEW_SID).replace(MESSAGE_ID, NEW_MID)
    assert (config_dir / "config.jsonc").read_text(encoding="utf-8") == expected
    with pytest.raises(httpx.ConnectError):  # one-shot: gone once the tool ended
        async with httpx.AsyncClient() as http:
            await http.post(f"{side}/update", json={})


async def test_timeout_writes_nothing_and_says_so(make_bridge, workers) -> None:
    srv, config_dir = await rich_bridge(make_bridge)
    await workers(srv.ws_url)
    argv = tool(srv, config_dir, "--mode", "direct_chat")
    argv[argv.index("--timeout") + 1] = "1.5"
    run = await run_tool(argv)
    assert await run.finished() == 2
    assert "No Retry click was seen within 1.5 seconds" in run.errors
    assert "Waiting for the Retry click: 2 s left" in run.errors  # the countdown
    assert (config_dir / "config.jsonc").read_text(encoding="utf-8") == RICH_CONFIG


async def test_several_tabs_need_a_choice(make_bridge, workers) -> None:
    srv, config_dir = await rich_bridge(make_bridge)
    first = await workers(srv.ws_url, page="https://lmarena.ai/c/one")
    second = await workers(srv.ws_url, page="https://lmarena.ai/c/two")
    run = await run_tool(tool(srv, config_dir, "--mode", "direct_chat"))
    assert await run.finished() == 1
    assert "--worker" in run.errors and "/c/one" in run.errors and "/c/two" in run.errors

    # On a terminal the user picks from the list (and answers the mode questions).
    run = ToolRun(tool(srv, config_dir), stdin="2\nb\nB\n", interactive=True).start()
    await click_retry(second)
    assert await run.finished() == 0, run.errors
    assert "activate_id_capture" not in first.commands
    assert "Which tab?" in run.errors and "Mode?" in run.errors
    await wait_for(lambda: state(srv).settings.id_updater_battle_target == "B")
    assert state(srv).settings.id_updater_last_mode == "battle"

    # --worker picks one without asking.
    second.commands.clear()
    run = ToolRun(tool(srv, config_dir, "--worker", first.worker_id or "",
                       "--mode", "direct_chat")).start()
    await click_retry(first, sid="dddddddd-4444-4ddd-8ddd-dddddddddddd")
    assert await run.finished() == 0, run.errors
    assert "activate_id_capture" not in second.commands


async def test_no_tab_connected(make_bridge) -> None:
    srv, config_dir = await rich_bridge(make_bridge)
    run = await run_tool(tool(srv, config_dir, "--mode", "direct_chat"))
    assert await run.finished() == 1
    assert "No browser tab is connected" in run.errors
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{srv.url}/internal/start_id_capture")
    assert r.status_code == 503
    assert r.json()["detail"] == "Browser client not connected."
    assert r.json()["error"]["code"] == "no_worker_available"


async def test_bridge_not_running(tmp_path: Path) -> None:
    run = await run_tool(["capture-ids", "--config-dir", str(tmp_path), "--bridge-url",
                          f"http://127.0.0.1:{free_port()}", "--mode", "direct_chat"])
    assert await run.finished() == 1
    assert "Cannot reach the bridge" in run.errors


@pytest.mark.parametrize("path", ["/internal/workers", "/internal/start_id_capture",
                                  "/internal/request_model_update", "/internal/page_source",
                                  "/internal/update_available_models"])
async def test_internal_routes_refuse_foreign_origins(bridge, workers, path: str) -> None:
    await workers(bridge.ws_url)
    method = "GET" if path.endswith("workers") else "POST"
    async with httpx.AsyncClient() as http:
        r = await http.request(method, bridge.url + path,
                               headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "origin_not_allowed"
        pre = await http.options(bridge.url + path, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403
        assert "access-control-allow-origin" not in pre.headers
        pre = await http.options(bridge.url + path, headers={
            "Origin": "https://lmarena.ai", "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "https://lmarena.ai"


async def test_internal_workers_lists_tabs(bridge, workers) -> None:
    w = await workers(bridge.ws_url, page="https://lmarena.ai/c/listed")
    async with httpx.AsyncClient() as http:
        r = await http.get(bridge.url + "/internal/workers",
                           headers={"Origin": "https://lmarena.ai"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://lmarena.ai"
    (listed,) = r.json()["workers"]
    assert listed["id"] == w.worker_id and listed["protocol"] == 2
    assert listed["page"] == "https://lmarena.ai/c/listed" and listed["state"] == "ready"


async def test_capture_long_poll_and_unknown_capture(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    async with httpx.AsyncClient(timeout=10) as http:
        started = (await http.post(bridge.url + "/internal/start_id_capture",
                                   json={"worker_id": w.worker_id})).json()
        assert started["worker_id"] == w.worker_id and started["status"] == "success"
        url = f"{bridge.url}/internal/id_capture/{started['capture_id']}"
        assert (await http.get(url)).json()["status"] == "pending"
        await click_retry(w)
        polled = (await http.get(url, params={"wait": 5})).json()
        assert polled == {"status": "captured", "capture_id": started["capture_id"],
                          "worker_id": w.worker_id, "session_id": NEW_SID,
                          "message_id": NEW_MID, "saved": False}
        missing = await http.get(f"{bridge.url}/internal/id_capture/nope")
        assert missing.status_code == 404
        unknown = await http.post(bridge.url + "/internal/start_id_capture",
                                  json={"worker_id": "w999"})
        assert unknown.status_code == 404 and "w999" in unknown.json()["error"]["message"]


async def test_internal_routes_accept_the_bridges_own_pages(bridge, workers) -> None:
    """The monitor page posts from the bridge's origin; a rebound domain does not pass."""
    await workers(bridge.ws_url)
    async with httpx.AsyncClient() as http:
        own = await http.post(bridge.url + "/internal/start_id_capture",
                              headers={"Origin": bridge.url})
        assert own.status_code == 200
        host = f"rebound.example:{bridge.port}"
        rebound = await http.post(bridge.url + "/internal/start_id_capture",
                                  headers={"Origin": f"http://{host}", "Host": host})
        assert rebound.status_code == 403


async def test_under_create_it_says_ids_are_not_needed(make_bridge, workers) -> None:
    srv = await make_bridge()  # the default create strategy
    config_dir: Path = state(srv).config_dir
    w = await workers(srv.ws_url)
    before = (config_dir / "config.jsonc").read_text(encoding="utf-8")
    # On a terminal it asks first; the default answer captures nothing.
    run = await run_tool(tool(srv, config_dir, "--mode", "direct_chat"), interactive=True,
                         stdin="\n")
    assert await run.finished() == 0
    assert '"site_strategy": "create", which needs no ids' in run.errors
    assert "Nothing captured." in run.output
    assert "activate_id_capture" not in w.commands
    assert (config_dir / "config.jsonc").read_text(encoding="utf-8") == before
    # A script still gets its capture, with the same note.
    run = ToolRun(tool(srv, config_dir, "--mode", "direct_chat")).start()
    await click_retry(w)
    assert await run.finished() == 0, run.errors
    assert "needs no ids" in run.errors
    await wait_for(lambda: state(srv).settings.session_id == NEW_SID)


async def test_under_retry_nothing_is_said_about_the_strategy(make_bridge, workers) -> None:
    srv, config_dir = await rich_bridge(make_bridge)
    w = await workers(srv.ws_url, handler=sided_echo)
    run = ToolRun(tool(srv, config_dir, "--mode", "direct_chat")).start()
    await click_retry(w)
    assert await run.finished() == 0, run.errors
    assert "needs no ids" not in run.errors
