"""Edits of the config files on disk reach the running bridge without a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import openai

from lmarena_bridge.config.editor import set_value
from lmarena_bridge.config.files import write_atomic
from tests.conftest import wait_for

NEW_SESSION = "44444444-4444-4444-8444-444444444444"


def config_path(bridge) -> Path:
    return bridge.app.state.bridge.config_dir / "config.jsonc"


async def test_hand_edit_of_ids_is_used_by_next_request(legacy_bridge, workers, legacy_client):
    bridge, client = legacy_bridge, legacy_client
    w = await workers(bridge.ws_url)
    path = config_path(bridge)
    write_atomic(path, set_value(path.read_text(), ["session_id"], NEW_SESSION))
    store = bridge.app.state.bridge.config_store
    await wait_for(lambda: store.current.settings.session_id == NEW_SESSION, timeout=5)
    await client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": "x"}])
    assert w.jobs[-1][1]["session_id"] == NEW_SESSION


async def test_invalid_edit_keeps_last_good_config(bridge, workers, client) -> None:
    await workers(bridge.ws_url)
    store = bridge.app.state.bridge.config_store
    before = store.generation
    path = config_path(bridge)
    path.write_text(path.read_text().replace('"bypass_enabled": true', '"bypass_enabled": "maybe"'))
    await wait_for(lambda: bool(store.problems), timeout=5)
    assert store.generation == before
    assert any("bypass_enabled" in str(p) for p in store.problems)
    resp = await client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": "still works"}])
    assert resp.choices[0].message.content == "still works"


async def test_new_model_in_models_json_is_listed(bridge) -> None:
    path = bridge.app.state.bridge.config_dir / "models.json"
    models = json.loads(path.read_text())
    models["fresh-model"] = "55555555-5555-4555-8555-555555555555"
    write_atomic(path, json.dumps(models))
    async with httpx.AsyncClient() as http:
        async def listed() -> bool:
            r = await http.get(f"{bridge.url}/v1/models")
            return "fresh-model" in [m["id"] for m in r.json()["data"]]

        for _ in range(100):
            if await listed():
                break
            await asyncio.sleep(0.05)
        assert await listed()


async def test_endpoint_pool_round_robin_and_strategy_reload(make_bridge, workers) -> None:
    pool = [
        {"session_id": f"{i}1111111-1111-4111-8111-111111111111",
         "message_id": f"{i}2222222-2222-4222-8222-222222222222"}
        for i in range(1, 4)
    ]
    srv = await make_bridge({"site_strategy": "retry"}, endpoint_map={"echo-model": pool})
    w = await workers(srv.ws_url)
    async with openai.AsyncOpenAI(
        base_url=f"{srv.url}/v1", api_key="x", max_retries=0
    ) as c:
        for _ in range(6):
            await c.chat.completions.create(
                model="echo-model", messages=[{"role": "user", "content": "x"}])
    used = [payload["session_id"][0] for _, payload in w.jobs]
    assert used == ["1", "2", "3", "1", "2", "3"]
    bridge = srv.app.state.bridge
    path = bridge.config_dir / "config.jsonc"
    write_atomic(path, set_value(path.read_text(), ["endpoint_pool_strategy"], "random"))
    await wait_for(lambda: bridge.strategy.rotation.strategy == "random", timeout=5)
