"""The load generator: C keep-alive connections sending chat completions and checking
every answer's text exactly.

It speaks HTTP/1.1 by hand in an asyncio Protocol instead of using httpx: on a 2-core
machine the client shares the CPU with the servers (and can even be the bottleneck on
the reference server's fast streams), and httpx, or even asyncio streams with an await
per HTTP chunk, costs several times more per chunk than parsing in ``data_received``.
It needs only what uvicorn sends: a status line, headers, then a Content-Length or a
chunked body.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import cast

import orjson

from bench.common import HOLD, MODEL, expected_text, prompt


class HTTPError(Exception):
    pass


@dataclass(slots=True)
class Result:
    ok: bool
    latency: float  # seconds from sending the request to the end of the answer
    ttfc: float | None  # to the first content delta (stream) or the first byte (non-stream)
    chunks: int  # SSE events carrying content (1 for a non-stream answer)
    error: str = ""
    mismatch: bool = False


@dataclass
class LoadReport:
    results: list[Result] = field(default_factory=list)
    elapsed: float = 0.0  # wall time of the whole batch
    client_cpu: float = 0.0  # the load generator's own CPU seconds


def request_bytes(port: int, k: int, stream: bool) -> bytes:
    body = orjson.dumps(
        {"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": prompt(k)}]}
    )
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: */*\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get_bytes(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


class Client(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection running one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._buf = bytearray()
        self._waiter: asyncio.Future[Result] | None = None
        self.first_content: asyncio.Future[None] | None = None  # set at the first content
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self._in_head = True
        self._chunked = False
        self._length = 0
        self._body: list[bytes] = []
        self._sse = b""
        self._parts: list[str] = []
        self._chunks = 0
        self._ttfc: float | None = None
        self._finish: str | None = None
        self._done = False
        self._error = ""
        self._close_after = False

    # -- public ----------------------------------------------------------------------------

    @classmethod
    async def connect(cls, port: int) -> Client:
        _, client = await asyncio.get_running_loop().create_connection(cls, "127.0.0.1", port)
        return client

    async def request(self, raw: bytes, *, stream: bool, expected: str | None) -> Result:
        if self.transport is None or self.lost:
            raise HTTPError("connection closed")
        self._reset()
        self._stream = stream
        self._expected = expected
        self._waiter = asyncio.get_running_loop().create_future()
        self._t0 = time.perf_counter()
        self.transport.write(raw)
        return await self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(HTTPError(f"connection lost: {exc!r}"))
        if self.first_content is not None and not self.first_content.done():
            self.first_content.set_exception(HTTPError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        n = len(buf)
        if self._in_head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self._head(bytes(buf[:end]))
            pos = end + 4
        if self._chunked:
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(buf[pos:eol].split(b";", 1)[0], 16)
                if size == 0:
                    if n < eol + 4:
                        break
                    pos = eol + 4  # the empty trailer line
                    del buf[:pos]
                    self._complete()
                    return
                if n < eol + 2 + size + 2:
                    break
                self._feed(bytes(buf[eol + 2 : eol + 2 + size]))
                pos = eol + 2 + size + 2
            del buf[:pos]
        else:
            if n - pos < self._length:
                del buf[:pos]
                return
            self._feed(bytes(buf[pos : pos + self._length]))
            del buf[: pos + self._length]
            self._complete()

    # -- parsing ---------------------------------------------------------------------------

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        self._in_head = False
        self._t_head = time.perf_counter()
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"transfer-encoding":
                self._chunked = value.strip().lower() == b"chunked"
            elif name == b"content-length":
                self._length = int(value)
            elif name == b"connection":
                self._close_after = value.strip().lower() == b"close"

    def _feed(self, data: bytes) -> None:
        if not self._stream or self.status != 200:
            self._body.append(data)
            return
        sse = self._sse + data if self._sse else data
        if b"\n\n" not in sse:
            self._sse = sse
            return
        events = sse.split(b"\n\n")
        self._sse = events.pop()
        for event in events:
            if event[:6] != b"data: ":
                continue  # keep-alive comments
            payload = event[6:]
            if payload == b"[DONE]":
                self._done = True
                continue
            obj = orjson.loads(payload)
            choices = obj.get("choices")
            if not choices:
                if "error" in obj:
                    self._error = str(obj["error"])[:200]
                continue
            choice = choices[0]
            content = choice["delta"].get("content")
            if content:
                if self._ttfc is None:
                    self._ttfc = time.perf_counter() - self._t0
                    if self.first_content is not None and not self.first_content.done():
                        self.first_content.set_result(None)
                self._parts.append(content)
                self._chunks += 1
            reason = choice.get("finish_reason")
            if reason:
                self._finish = reason

    def _complete(self) -> None:
        end = time.perf_counter()
        latency = end - self._t0
        self._in_head = True
        if self._close_after:
            self.close()
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if self.status != 200:
            body = b"".join(self._body)[:200]
            waiter.set_result(Result(False, latency, None, 0, f"HTTP {self.status}: {body!r}"))
            return
        expected = self._expected
        if not self._stream:
            body = b"".join(self._body)
            if expected is None:
                waiter.set_result(Result(True, latency, self._t_head - self._t0, 1))
                return
            text = orjson.loads(body)["choices"][0]["message"]["content"]
            ok = text == expected
            waiter.set_result(
                Result(
                    ok, latency, self._t_head - self._t0, 1, "" if ok else "text mismatch", not ok
                )
            )
            return
        if self._error or not self._done or self._finish != "stop":
            error = self._error or f"done={self._done} finish={self._finish}"
            waiter.set_result(Result(False, latency, self._ttfc, self._chunks, error))
            return
        ok = "".join(self._parts) == expected
        waiter.set_result(
            Result(ok, latency, self._ttfc, self._chunks, "" if ok else "text mismatch", not ok)
        )


async def get_ok(port: int, path: str) -> bool:
    """One GET; True on HTTP 200."""
    client = await Client.connect(port)
    try:
        result = await client.request(get_bytes(port, path), stream=False, expected=None)
        return result.ok
    finally:
        client.close()


async def run_load(
    port: int, *, requests: int, concurrency: int, k: int, stream: bool
) -> LoadReport:
    """``requests`` answers over ``concurrency`` connections, each checked exactly."""
    raw = request_bytes(port, k, stream)
    expected = expected_text(k)
    report = LoadReport()
    remaining = requests

    async def one_connection() -> None:
        nonlocal remaining
        client: Client | None = None
        try:
            while remaining > 0:
                remaining -= 1
                try:
                    if client is None or client.lost:
                        client = await Client.connect(port)
                    result = await client.request(raw, stream=stream, expected=expected)
                except (OSError, HTTPError, ValueError, KeyError) as exc:
                    if client is not None:
                        client.close()
                    client = None
                    result = Result(False, 0.0, None, 0, repr(exc)[:200])
                report.results.append(result)
        finally:
            if client is not None:
                client.close()

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(min(concurrency, requests))))
    report.elapsed = time.perf_counter() - t0
    report.client_cpu = time.process_time() - cpu0
    return report


class IdleStreams:
    """N streaming requests held open after their first content chunk (K=-1)."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.opened = 0
        self.errors: list[str] = []
        self._clients: list[Client] = []
        self._pending: list[asyncio.Future[Result]] = []
        # Pace the connects: a burst of 1000 SYNs would measure the listen backlog.
        self._connecting = asyncio.Semaphore(64)

    async def _one(self) -> None:
        try:
            async with self._connecting:
                client = await Client.connect(self.port)
                self._clients.append(client)
                client.first_content = asyncio.get_running_loop().create_future()
                raw = request_bytes(self.port, HOLD, True)
                answer = asyncio.ensure_future(client.request(raw, stream=True, expected=None))
                self._pending.append(answer)
                done, _ = await asyncio.wait(
                    (client.first_content, answer), return_when=asyncio.FIRST_COMPLETED
                )
                if client.first_content not in done:
                    raise HTTPError(f"stream ended before its first chunk: {answer.result()}")
                client.first_content.result()
            self.opened += 1
        except (OSError, HTTPError, ValueError) as exc:
            self.errors.append(repr(exc)[:200])

    async def open(self, timeout: float = 120) -> None:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(self._one() for _ in range(self.count)))

    async def close(self) -> None:
        for client in self._clients:
            client.close()
        await asyncio.gather(*self._pending, return_exceptions=True)
