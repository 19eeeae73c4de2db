"""Scripted protocol-1 worker for the benchmark: a stand-in for the seed-era userscript.

It connects to the bridge's /ws (never says hello, so the bridge treats it as protocol 1)
and answers each job with K site lines, one line per WebSocket message, then the finish
line and ``[DONE]``. K comes from the prompt (``K=<n>``); ``K=-1`` sends one line and holds
the job open (idle streams).

It has to be cheap, or the benchmark would measure it instead of the bridge (it shares
two cores with the bridge and the load generator). So it drives the `websockets`
library's sans-I/O protocol from a bare asyncio Protocol rather than the asyncio
``connect()`` API: a message there costs ~5 µs of CPU instead of ~15-25 µs. Every
frame's text is precomputed; a job's frames are built by one bytes concatenation each,
and a burst of frames goes out in one socket write (the bridge still gets one WebSocket
message per site line).

permessage-deflate is negotiated by default because a browser offers it and uvicorn
accepts it, so the bridge pays the inflate it pays in real use; ``--no-compression``
turns it off.

Run: ``python -m bench.worker --url ws://127.0.0.1:PORT/ws``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, cast

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidState
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from bench.common import (
    FINISH_LINE,
    HOLD,
    PIECES,
    last_user_text,
    parse_k,
    run_async,
    site_line,
)


def _suffix(data: str) -> bytes:
    # Everything of a frame after the request id. ensure_ascii=False: the browser's
    # JSON.stringify sends raw UTF-8, so the bridge sees what a real tab would send.
    return ('","data":' + json.dumps(data, ensure_ascii=False) + "}").encode()


LINE_SUFFIXES: tuple[bytes, ...] = tuple(_suffix(site_line(p)) for p in PIECES)
FINISH_SUFFIX = _suffix(FINISH_LINE)
DONE_SUFFIX = _suffix("[DONE]")
PREFIX = b'{"request_id":"'
BURST = 16  # frames per socket write before yielding to other jobs and incoming frames


class Worker(asyncio.Protocol):
    def __init__(self, url: str, compression: bool) -> None:
        loop = asyncio.get_running_loop()
        self.ws = ClientProtocol(
            parse_uri(url),
            extensions=enable_client_permessage_deflate(None) if compression else None,
            max_size=None,
        )
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.writable = asyncio.Event()
        self.writable.set()
        self.jobs: set[asyncio.Task[None]] = set()
        self._parts: list[bytes] = []  # a fragmented incoming message (the bridge never does)

    # -- transport callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.ws.send_request(self.ws.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    self.opened.set_exception(self.ws.handshake_exc)
                else:
                    self.opened.set_result(None)
            elif isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.CONT):
                self._parts.append(event.data)
                if event.fin:
                    message = b"".join(self._parts)
                    self._parts.clear()
                    self.on_message(message)
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)
        self.writable.set()

    # Flow control: the bridge reads slower than we write; wait instead of buffering.
    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        data = self.ws.data_to_send()
        if data:
            transport.write(b"".join(data))
        if self.ws.state is State.CLOSED:
            transport.close()

    # -- jobs ------------------------------------------------------------------------------

    def on_message(self, message: bytes) -> None:
        frame: Any = orjson.loads(message)
        if not isinstance(frame, dict):
            return
        request_id = frame.get("request_id")
        payload = frame.get("payload")
        if not isinstance(request_id, str) or not isinstance(payload, dict):
            return  # commands (refresh, reconnect...) mean nothing here
        k = parse_k(last_user_text(payload.get("message_templates") or []))
        task = asyncio.get_running_loop().create_task(self.answer(request_id, k))
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    async def answer(self, request_id: str, k: int) -> None:
        head = PREFIX + request_id.encode()
        suffixes = LINE_SUFFIXES
        n = len(suffixes)
        send = self.ws.send_text
        try:
            if k == HOLD:
                send(head + suffixes[0])
                self.flush()
                await asyncio.shield(self.closed)  # until the worker is stopped
                return
            i = 0
            while i < k:
                end = min(i + BURST, k)
                for j in range(i, end):
                    send(head + suffixes[j % n])
                self.flush()
                i = end
                if self.writable.is_set():
                    await asyncio.sleep(0)
                else:
                    await self.writable.wait()
            send(head + FINISH_SUFFIX)
            send(head + DONE_SUFFIX)
            self.flush()
        except InvalidState:
            pass  # the connection closed under us: the bridge is going away


async def run(url: str, compression: bool) -> None:
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    _, worker = await loop.create_connection(lambda: Worker(url, compression), uri.host, uri.port)
    await asyncio.wait_for(worker.opened, 20)
    print("ready", flush=True)  # the orchestrator waits for this line
    await worker.closed
    for task in list(worker.jobs):
        task.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted protocol-1 worker (benchmark)")
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/ws")
    parser.add_argument(
        "--no-compression", action="store_true", help="do not offer permessage-deflate"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        run_async(run(args.url, not args.no_compression))
    return 0


if __name__ == "__main__":
    sys.exit(main())
