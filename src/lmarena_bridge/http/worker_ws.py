"""/ws: the Starlette WebSocket adapter between browser tabs and the relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.protocol.worker import Hello, HelloAck, Ping
from lmarena_bridge.relay.tab import Worker
from lmarena_bridge.relay.tab_job import DONE

log = logging.getLogger(__name__)

routes = Routes()

# A tab running our userscript says hello at once; one that stays silent this long is a
# seed-era userscript (protocol 1), which never does.
HELLO_WAIT_SECONDS = 3.0


class StarletteWorkerConnection:
    """WorkerConnection over a Starlette WebSocket."""

    __slots__ = ("ws",)

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def send(self, frame: dict[str, Any] | BaseModel) -> None:
        if isinstance(frame, BaseModel):
            frame = frame.model_dump()
        await self.ws.send({"type": "websocket.send", "text": orjson.dumps(frame).decode()})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)


async def _heartbeat(bridge: Bridge, worker: Worker) -> None:
    """Ping a protocol-2 worker; close it after three silent intervals."""
    while not worker.closed:
        interval = bridge.settings.heartbeat_interval_seconds
        await asyncio.sleep(interval)
        if time.monotonic() - worker.last_seen > 3 * interval:
            log.warning("worker %s missed three heartbeats; closing it", worker.id)
            await worker.conn.close(4000, "heartbeat timeout")
            return
        try:
            await worker.conn.send(Ping(ts=time.time()).model_dump())
        except Exception:
            return


def _on_hello(bridge: Bridge, worker: Worker, frame: dict[str, Any]) -> asyncio.Task[None] | None:
    try:
        hello = Hello.model_validate(frame)
    except ValidationError as exc:
        log.warning("worker %s sent a malformed hello: %s", worker.id, exc)
        return None
    bridge.pool.update_info(
        worker,
        protocol=max(2, hello.protocol),
        version=hello.version,
        page=hello.page,
        capabilities=frozenset(hello.capabilities),
        tab=hello.tab,
        account_key=hello.account,
    )
    interval = bridge.settings.heartbeat_interval_seconds
    ack = HelloAck(
        worker_id=worker.id,
        heartbeat_interval=interval,
        recaptcha_sitekey=bridge.settings.recaptcha_sitekey,
        recaptcha_v2_sitekey=bridge.settings.recaptcha_v2_sitekey,
        human_check_timeout_seconds=bridge.settings.human_check_timeout_seconds,
    )
    bridge.relay.send_later(worker, ack.model_dump())
    bridge.catalog.tab_connected(worker)
    return asyncio.get_running_loop().create_task(_heartbeat(bridge, worker))


def _log_connected(worker: Worker) -> None:
    """The one INFO line per tab, once it is known what the tab runs."""
    if worker.protocol >= 2:
        log.info("worker %s connected: userscript %s (protocol %s) on %s", worker.id,
                 worker.version or "?", worker.protocol, worker.page or "(page unknown)")
    else:
        log.info("worker %s connected: seed-era userscript (protocol 1, sent no hello)",
                 worker.id)


@routes.websocket("/ws")
async def worker_socket(ws: WebSocket) -> None:
    # Host, Origin and ?token= were checked by http.origins.AccessGuard.
    bridge = bridge_of(ws)
    await ws.accept()
    worker = bridge.pool.add(StarletteWorkerConnection(ws))
    relay = bridge.relay
    jobs = relay.jobs
    heartbeat: asyncio.Task[None] | None = None
    announce = asyncio.get_running_loop().call_later(HELLO_WAIT_SECONDS, _log_connected, worker)
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes")
            try:
                frame = orjson.loads(raw)  # type: ignore[arg-type]
            except (orjson.JSONDecodeError, TypeError):
                log.warning("worker %s sent a frame that is not JSON; ignored", worker.id)
                continue
            if frame.__class__ is dict:
                # Fast path for the bulk of the traffic: a body chunk of a running job.
                data = frame.get("data")
                rid = frame.get("request_id")
                if data.__class__ is str and data != DONE and rid.__class__ is str:
                    job = jobs.get(rid)
                    if job is not None and job.worker is worker and data:
                        worker.last_seen = time.monotonic()
                        job.push_data(data)
                        continue
            if frame.__class__ is dict and frame.get("type") == "hello":
                if heartbeat is None:
                    heartbeat = _on_hello(bridge, worker, frame)
                    if heartbeat is not None:
                        announce.cancel()
                        _log_connected(worker)
                worker.last_seen = time.monotonic()
                continue
            try:
                relay.on_frame(worker, frame)
            except Exception:  # one bad frame must never end the connection
                log.exception("error handling a frame from worker %s", worker.id)
    except WebSocketDisconnect:
        pass
    finally:
        announce.cancel()
        if heartbeat is not None:
            heartbeat.cancel()
        relay.on_worker_gone(worker)
