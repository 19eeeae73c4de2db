"""The worker socket's fast receive path against hand-written frames on a raw TCP socket.

Every message must arrive intact and in order however the bytes are split, with control
frames, fragments and bad frames still handled by the WebSocket library.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.frames import Close, Frame, Opcode

from lmarena_bridge.http.app import uvicorn_options
from lmarena_bridge.http.ws_fastpath import FastTextFramesProtocol
from tests.support.servers import RunningServer, start_server


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            await ws.send_text("echo:" + await ws.receive_text())
    except WebSocketDisconnect:
        pass


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    assert FastTextFramesProtocol is not None
    srv = await start_server(Starlette(routes=[WebSocketRoute("/ws", echo)]), **uvicorn_options())
    yield srv
    await srv.stop()


async def open_raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    length = b1 & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return b0 & 0x0F, await reader.readexactly(length)


def text(data: str, fin: bool = True, opcode: Opcode = Opcode.TEXT) -> bytes:
    return Frame(opcode, data.encode(), fin=fin).serialize(mask=True)


MESSAGES = ["a", 'a0:"x\\"y"\n', "😀 你好 \u2028", "m" * 200, "L" * 70_000]


@pytest.fixture
def library_input(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What reaches the WebSocket library's own parser."""
    seen: list[bytes] = []
    parent = FastTextFramesProtocol.__mro__[1]
    original = parent.data_received

    def spy(self: object, data: bytes) -> None:
        seen.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(parent, "data_received", spy)
    return seen


@pytest.mark.parametrize("split", ["whole", "bytewise", "random"])
async def test_messages_arrive_intact_however_split(
    server: RunningServer, split: str, library_input: list[bytes]
) -> None:
    reader, writer = await open_raw(server.port)
    wire = b"".join(text(m) for m in MESSAGES)
    if split == "whole":
        pieces = [wire]
    elif split == "bytewise":
        head = wire[:-70_010]  # every small frame byte by byte, the big one in one go
        pieces = [bytes([b]) for b in head] + [wire[-70_010:]]
    else:
        rng = random.Random(7)
        pieces, pos = [], 0
        while pos < len(wire):
            step = rng.randint(1, 300)
            pieces.append(wire[pos : pos + step])
            pos += step
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
    for m in MESSAGES:
        opcode, payload = await read_frame(reader)
        assert (opcode, payload.decode()) == (1, "echo:" + m)
    # Only the handshake went through the library: every text frame took the fast path.
    assert all(chunk.startswith(b"GET ") for chunk in library_input)
    writer.close()


async def test_a_large_frame_streams_through_the_library(server: RunningServer) -> None:
    reader, writer = await open_raw(server.port)
    big = "B" * 1_000_000
    wire = text("before") + text(big) + text("after")
    for i in range(0, len(wire), 4096):
        writer.write(wire[i : i + 4096])
        await writer.drain()
    assert [(await read_frame(reader))[1] for _ in range(3)] == [
        b"echo:before",
        b"echo:" + big.encode(),
        b"echo:after",
    ]
    writer.close()


async def test_control_frames_and_fragments_still_work(server: RunningServer) -> None:
    reader, writer = await open_raw(server.port)
    writer.write(
        text("one")
        + Frame(Opcode.PING, b"hb").serialize(mask=True)
        + text("frag-", fin=False)
        + Frame(Opcode.PING, b"mid").serialize(mask=True)  # control frames may interleave
        + text("ment", fin=True, opcode=Opcode.CONT)
        + text("two")
    )
    got = [await read_frame(reader) for _ in range(5)]
    # Pongs are written at once by the protocol, echoes by the app: compare each in order.
    assert [p for op, p in got if op == 1] == [b"echo:one", b"echo:frag-ment", b"echo:two"]
    assert [p for op, p in got if op == 0xA] == [b"hb", b"mid"]
    writer.write(Frame(Opcode.CLOSE, Close(1000, "bye").serialize()).serialize(mask=True))
    opcode, _ = await read_frame(reader)
    assert opcode == 8
    writer.close()


async def test_invalid_utf8_closes_with_1007(server: RunningServer) -> None:
    reader, writer = await open_raw(server.port)
    writer.write(Frame(Opcode.TEXT, b"\xff\xfe", fin=True).serialize(mask=True))
    opcode, payload = await read_frame(reader)
    assert opcode == 8 and int.from_bytes(payload[:2], "big") == 1007
    writer.close()


async def test_unmasked_frame_is_refused(server: RunningServer) -> None:
    reader, writer = await open_raw(server.port)
    writer.write(Frame(Opcode.TEXT, b"plain").serialize(mask=False))
    opcode, payload = await read_frame(reader)
    assert opcode == 8 and int.from_bytes(payload[:2], "big") == 1002
    writer.close()


async def test_fragment_end_and_next_frame_start_in_one_read(server: RunningServer) -> None:
    reader, writer = await open_raw(server.port)
    after = text("after the fragments")
    writer.write(text("frag-", fin=False) + text("ment", opcode=Opcode.CONT) + after[:3])
    await writer.drain()
    await asyncio.sleep(0.05)  # the rest of the next frame comes in a later read
    writer.write(after[3:] + text("last"))
    got = [(await read_frame(reader))[1] for _ in range(3)]
    assert got == [b"echo:frag-ment", b"echo:after the fragments", b"echo:last"]
    writer.close()
