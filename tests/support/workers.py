"""Scripted Python workers speaking the worker protocol (1: seed-era, 2: ours).

They stand in for the browser tab in integration tests; the real userscript is tested
in tests/e2e against real Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Handler = Callable[["ScriptedWorker", str, dict[str, Any]], Awaitable[None]]


def site_line(code: str, value: Any, side: str = "a") -> str:
    return f"{side}{code}:{json.dumps(value, ensure_ascii=False)}\n"


def text_lines(text: str, size: int = 5, side: str = "a") -> list[str]:
    return [site_line("0", text[i : i + size], side) for i in range(0, len(text), size)]


def finish_line(reason: str = "stop", usage: dict[str, int] | None = None, side: str = "a") -> str:
    body: dict[str, Any] = {"finishReason": reason}
    if usage:
        body["usage"] = usage
    return site_line("d", body, side)


def call_block(name: str, args: dict[str, Any]) -> str:
    """A tool call as the emulated-tools prompt asks the model to write it."""
    return "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"


def last_user_text(payload: dict[str, Any]) -> str:
    """The prompt of a job: the site message of a ``site_request``, else the seed templates'."""
    if payload.get("type") == "site_request":
        return str(payload["body"]["userMessage"]["content"])
    for tpl in reversed(payload["message_templates"]):
        if tpl["role"] == "user" and tpl["content"].strip():
            return tpl["content"]
    return ""


async def echo_handler(worker: ScriptedWorker, request_id: str, payload: dict[str, Any]) -> None:
    """Answers with the last user text, in 5-character text lines, one line per frame."""
    for line in text_lines(last_user_text(payload)):
        await worker.data(request_id, line)
    await worker.data(request_id, finish_line())
    await worker.done(request_id)


class ScriptedWorker:
    def __init__(
        self,
        url: str,
        *,
        protocol: int = 2,
        handler: Handler = echo_handler,
        origin: str | None = None,
        page: str = "https://arena.ai/c/test",
        capabilities: tuple[str, ...] = (
            "abort", "heartbeat", "status", "structured_errors", "site_request"
        ),
    ) -> None:
        self.capabilities = list(capabilities)
        self.url = url
        self.protocol = protocol
        self.handler = handler
        self.origin = origin
        self.page = page
        self.jobs: list[tuple[str, dict[str, Any]]] = []
        self.aborts: list[str] = []
        self.commands: list[str] = []
        self.frames: list[dict[str, Any]] = []
        self.worker_id: str | None = None
        self.ws: ClientConnection | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.acked = asyncio.Event()
        self.auto_pong = True

    async def start(self) -> ScriptedWorker:
        headers = {"Origin": self.origin} if self.origin else None
        self.ws = await connect(self.url, additional_headers=headers)
        if self.protocol >= 2:
            await self.send(
                {
                    "type": "hello",
                    "protocol": 2,
                    "version": "test",
                    "page": self.page,
                    "capabilities": self.capabilities,
                }
            )
        self._reader = asyncio.create_task(self._read())
        if self.protocol >= 2:
            await asyncio.wait_for(self.acked.wait(), 5)
        return self

    async def send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(frame, ensure_ascii=False))

    async def data(self, request_id: str, text: str) -> None:
        await self.send({"request_id": request_id, "data": text})

    async def done(self, request_id: str) -> None:
        await self.send({"request_id": request_id, "data": "[DONE]"})

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                if "payload" in frame:
                    rid = frame["request_id"]
                    self.jobs.append((rid, frame["payload"]))
                    self._tasks[rid] = asyncio.create_task(self._run(rid, frame["payload"]))
                elif frame.get("type") == "abort":
                    self.aborts.append(frame["request_id"])
                    task = self._tasks.get(frame["request_id"])
                    if task:
                        task.cancel()
                elif frame.get("type") == "hello_ack":
                    self.worker_id = frame["worker_id"]
                    self.acked.set()
                elif frame.get("type") == "ping" and self.auto_pong:
                    await self.send({"type": "pong", "ts": frame["ts"]})
                elif "command" in frame:
                    self.commands.append(frame["command"])

    async def _run(self, request_id: str, payload: dict[str, Any]) -> None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.handler(self, request_id, payload)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 2)
