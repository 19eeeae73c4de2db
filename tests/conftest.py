"""Shared fixtures: a real bridge on a loopback port, scripted workers, the openai SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from lmarena_bridge.http.app import create_app
from tests.support.servers import RunningServer, start_server, write_config
from tests.support.workers import ScriptedWorker

BridgeFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def make_bridge(tmp_path: Path) -> AsyncIterator[BridgeFactory]:
    servers: list[RunningServer] = []

    async def factory(settings: dict[str, Any] | None = None, **files: Any) -> RunningServer:
        config_dir = tmp_path / f"cfg{len(servers)}"
        write_config(config_dir, settings, **files)
        srv = await start_server(create_app(config_dir))
        servers.append(srv)
        return srv

    yield factory
    for srv in servers:
        await srv.stop()


@pytest.fixture
async def bridge(make_bridge: BridgeFactory) -> RunningServer:
    return await make_bridge()


@pytest.fixture
async def legacy_bridge(make_bridge: BridgeFactory) -> RunningServer:
    """A bridge on the seed-era ``retry`` strategy (captured ids, seed payloads)."""
    return await make_bridge({"site_strategy": "retry"})


@pytest.fixture
async def legacy_client(legacy_bridge: RunningServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{legacy_bridge.url}/v1", api_key="test", max_retries=0, timeout=20
    ) as c:
        yield c


@pytest.fixture
async def workers() -> AsyncIterator[Callable[..., Awaitable[ScriptedWorker]]]:
    started: list[ScriptedWorker] = []

    async def factory(url: str, **kw: Any) -> ScriptedWorker:
        w = await ScriptedWorker(url, **kw).start()
        started.append(w)
        return w

    yield factory
    for w in started:
        await w.close()


@pytest.fixture
async def client(bridge: RunningServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{bridge.url}/v1", api_key="test", max_retries=0, timeout=20
    ) as c:
        yield c


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until predicate() is true (fails the test on timeout)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
