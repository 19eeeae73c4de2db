"""Captures the bridge finishes itself: the monitor's button (save) and a seed id_updater."""

from __future__ import annotations

import asyncio
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest

from lmarena_bridge.site.legacy import id_channel
from tests.conftest import wait_for
from tests.support.servers import MESSAGE_ID, SESSION_ID
from tests.tools.test_capture_ids import NEW_MID, NEW_SID, RICH_CONFIG, click_retry


async def test_save_capture_writes_config_keeping_comments(make_bridge, workers) -> None:
    srv = await make_bridge()
    config = Path(srv.app.state.bridge.config_dir) / "config.jsonc"
    config.write_text(RICH_CONFIG, encoding="utf-8")
    store = srv.app.state.bridge.config_store
    store.reload()
    w = await workers(srv.ws_url)
    async with httpx.AsyncClient(timeout=10) as http:
        started = (await http.post(srv.url + "/internal/start_id_capture",
                                   json={"save": True, "mode": "battle", "target": "B"})).json()
        await click_retry(w)
        url = f"{srv.url}/internal/id_capture/{started['capture_id']}"
        await wait_for(lambda: store.current.settings.session_id == NEW_SID, timeout=5)
        polled = (await http.get(url)).json()
    assert polled["saved"] is True
    expected = (
        RICH_CONFIG.replace(SESSION_ID, NEW_SID)
        .replace(MESSAGE_ID, NEW_MID)
        .replace('"id_updater_last_mode": "direct_chat"', '"id_updater_last_mode": "battle"')
        .replace('"id_updater_battle_target": "A"', '"id_updater_battle_target": "B"')
    )
    assert config.read_text(encoding="utf-8") == expected
    assert store.current.settings.id_updater_battle_target == "B"


@pytest.fixture
def seed_updater(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A stand-in for the seed's id_updater.py side channel (its POST /update)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"status": "success"}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(
        id_channel, "SEED_UPDATER_URL", f"http://127.0.0.1:{server.server_port}/update"
    )
    yield received
    server.shutdown()


async def test_seed_form_forwards_ids_from_our_userscript(bridge, workers, seed_updater) -> None:
    w = await workers(bridge.ws_url)
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(bridge.url + "/internal/start_id_capture")  # the seed's bodiless form
    assert r.status_code == 200
    await click_retry(w)
    for _ in range(200):
        if seed_updater:
            break
        await asyncio.sleep(0.02)
    assert seed_updater == [{"sessionId": NEW_SID, "messageId": NEW_MID}]
