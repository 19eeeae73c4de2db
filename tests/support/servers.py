"""Run real uvicorn servers on free loopback ports inside the test's event loop."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from lmarena_bridge.http.app import uvicorn_options

SESSION_ID = "11111111-1111-4111-8111-111111111111"
MESSAGE_ID = "22222222-2222-4222-8222-222222222222"
TEXT_MODEL_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"
IMAGE_MODEL_ID = "33333333-3333-4333-8333-333333333333"


@dataclass
class RunningServer:
    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    app: Any

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def stop(self) -> None:
        self.server.should_exit = True
        try:
            await asyncio.wait_for(self.task, 5)
        except TimeoutError:
            self.server.force_exit = True
            self.task.cancel()


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def start_server(app: Any, **config: Any) -> RunningServer:
    sock = free_socket()
    port = sock.getsockname()[1]
    opts: dict[str, Any] = {"lifespan": "on", "log_level": "warning", "access_log": False}
    if getattr(app.state, "bridge", None) is not None:
        opts.update(uvicorn_options())  # the bridge is served in tests as in real use
    opts.update(config)
    server = uvicorn.Server(uvicorn.Config(app, **opts))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return RunningServer(server=server, task=task, port=port, app=app)


def write_config(config_dir: Path, settings: dict[str, Any] | None = None, *,
                 models: dict[str, str] | None = None,
                 endpoint_map: dict[str, Any] | None = None) -> None:
    """Write the config files as plain JSON (valid JSONC) for a test."""
    config_dir.mkdir(parents=True, exist_ok=True)
    base: dict[str, Any] = {
        "session_id": SESSION_ID,
        "message_id": MESSAGE_ID,
        "id_updater_last_mode": "direct_chat",
        "id_updater_battle_target": "A",
        "bypass_enabled": True,
        "tavern_mode_enabled": False,
        "no_worker_timeout_seconds": 0.5,
        "queue_timeout_seconds": 2,
    }
    base.update(settings or {})
    (config_dir / "config.jsonc").write_text(
        "// test config\n" + json.dumps(base, indent=2), encoding="utf-8"
    )
    (config_dir / "models.json").write_text(
        json.dumps(
            models
            if models is not None
            else {"echo-model": TEXT_MODEL_ID, "image-model": f"{IMAGE_MODEL_ID}:image"},
            indent=2,
        ),
        encoding="utf-8",
    )
    (config_dir / "model_endpoint_map.json").write_text(
        json.dumps(endpoint_map or {}, indent=2), encoding="utf-8"
    )
    (config_dir / "available_models.json").write_text("[]", encoding="utf-8")
