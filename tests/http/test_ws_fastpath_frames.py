"""The fast receive path against uvicorn's own, on generated frame sequences.

Both protocols get the same bytes after the same handshake; the fast one in reads split
every which way, uvicorn's one frame per read (in one read, uvicorn drops the messages
that precede a bad frame in it). Whatever the sequence (fragments with control
frames between them, binary and text, large frames, unmasked or invalid frames that end
the connection), the app must see the same events and the peer the same bytes.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Close, Frame, Opcode

from lmarena_bridge.http import ws_fastpath
from lmarena_bridge.http.ws_fastpath import FastTextFramesProtocol

MAX_SIZE = 1024 * 1024
HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
    b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
)
ALPHABET = "aaaaaaaabc \"\\\n{}:0é你😀\u2028"


class FakeTransport:
    """Records what the protocol writes; reading can be paused, closing is remembered."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 5102)}.get(
            name, default
        )


class Connection:
    """One protocol instance after an accepted handshake; the app never reads, so every
    event stays in the protocol's queue."""

    def __init__(self, protocol_class: type[WebSocketsSansIOProtocol]) -> None:
        self.release = asyncio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            await self.release.wait()

        config = Config(app, ws_max_size=MAX_SIZE, ws_per_message_deflate=False,
                        ws_ping_interval=None, log_level="critical")
        config.load()
        self.transport = FakeTransport()
        self.protocol = protocol_class(config=config, server_state=ServerState(),
                                       app_state={})
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]

    async def open(self) -> Connection:
        self.protocol.data_received(HANDSHAKE)
        for _ in range(100):
            if self.protocol.handshake_complete:
                break
            await asyncio.sleep(0)
        assert self.protocol.handshake_complete
        assert self.transport.written[0].startswith(b"HTTP/1.1 101")
        self.transport.written.clear()
        return self

    def feed(self, pieces: list[bytes]) -> None:
        for piece in pieces:
            if self.transport.closing:
                break  # as asyncio: a closed transport reads nothing more
            self.protocol.data_received(piece)

    @property
    def events(self) -> list[Any]:
        return list(self.protocol.queue._queue)  # type: ignore[attr-defined]

    @property
    def sent(self) -> bytes:
        return b"".join(self.transport.written)

    async def close(self) -> None:
        self.release.set()
        await asyncio.sleep(0)


def frame(opcode: Opcode, payload: bytes, fin: bool = True, *, masked: bool = True) -> bytes:
    return Frame(opcode, payload, fin=fin).serialize(mask=masked)


def random_text(rng: random.Random, size: int) -> str:
    return "".join(rng.choices(ALPHABET, k=size))


def random_size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.7:
        return rng.randint(0, 125)
    if roll < 0.97:
        return rng.randint(126, 70_000)
    return rng.randint(256 * 1024 - 100, 300_000)  # around the streamed-frame threshold


def control_frame(rng: random.Random) -> bytes:
    return frame(rng.choice([Opcode.PING, Opcode.PONG]), os.urandom(rng.randint(0, 10)))


def message(rng: random.Random) -> bytes:
    """One message: text or binary, whole or in fragments with control frames between."""
    opcode = Opcode.TEXT if rng.random() < 0.85 else Opcode.BINARY
    payload = random_text(rng, random_size(rng) // 2).encode()
    if opcode is Opcode.BINARY:
        payload = os.urandom(len(payload))
    if rng.random() < 0.6:
        return frame(opcode, payload)
    cuts = sorted(rng.randint(0, len(payload)) for _ in range(rng.randint(1, 3)))
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    out = b""
    for i, part in enumerate(parts):
        out += frame(opcode if i == 0 else Opcode.CONT, part, fin=i == len(parts) - 1)
        while i < len(parts) - 1 and rng.random() < 0.4:
            out += control_frame(rng)
    return out


def ending(rng: random.Random) -> bytes:
    """What may end a sequence: nothing, a close, or a frame the library must refuse."""
    return rng.choice([
        b"",
        b"",
        frame(Opcode.CLOSE, Close(1000, "bye").serialize()),
        frame(Opcode.TEXT, b"unmasked", masked=False),
        frame(Opcode.TEXT, b"\xff\xfe bad utf-8"),
        frame(Opcode.CONT, b"continuation of nothing"),
        frame(Opcode.TEXT, b"half", fin=False) + frame(Opcode.TEXT, b"new message mid-way"),
        bytes([0xC1, 0x80 | 3]) + os.urandom(4) + b"rsv",  # compressed, none negotiated
    ])


def sequence(rng: random.Random) -> bytes:
    wire = b""
    for _ in range(rng.randint(1, 12)):
        wire += control_frame(rng) if rng.random() < 0.15 else message(rng)
    return wire + ending(rng) + (message(rng) if rng.random() < 0.3 else b"")


def splits(rng: random.Random, wire: bytes) -> list[bytes]:
    largest = rng.choice([1, 2, 3, 7, 64, 1500, 65_536, len(wire) or 1])
    if len(wire) > 20_000:
        largest = max(largest, 1500)  # byte-wise splits of large frames: see the test below
    pieces, pos = [], 0
    while pos < len(wire):
        step = rng.randint(1, largest)
        pieces.append(wire[pos : pos + step])
        pos += step
    return pieces


def frames_of(wire: bytes) -> list[bytes]:
    """``wire`` cut into its frames (a truncated last frame is kept as it is)."""
    out, pos = [], 0
    while pos < len(wire):
        length, start = wire[pos + 1] & 0x7F, pos + 2 if pos + 1 < len(wire) else len(wire)
        if length == 126:
            length, start = int.from_bytes(wire[start : start + 2], "big"), start + 2
        elif length == 127:
            length, start = int.from_bytes(wire[start : start + 8], "big"), start + 8
        stop = start + (4 if wire[pos + 1] & 0x80 else 0) + length
        out.append(wire[pos:stop])
        pos = stop
    return out


async def compare(wire: bytes, pieces: list[bytes]) -> list[Any]:
    assert b"".join(pieces) == wire
    stock = await Connection(WebSocketsSansIOProtocol).open()
    fast = await Connection(FastTextFramesProtocol).open()
    try:
        stock.feed(frames_of(wire))
        fast.feed(pieces)
        assert fast.events == stock.events
        assert fast.sent == stock.sent
        assert fast.transport.closing == stock.transport.closing
        return fast.events
    finally:
        await stock.close()
        await fast.close()


def seeds() -> Iterator[int]:
    return iter(range(int(os.environ.get("WS_FASTPATH_CASES", "300"))))


@pytest.mark.parametrize("seed", list(seeds()))
async def test_generated_sequences_match_uvicorn(seed: int) -> None:
    rng = random.Random(seed)
    wire = sequence(rng)
    await compare(wire, splits(rng, wire))


def texts(*messages: str) -> list[dict[str, str]]:
    return [{"type": "websocket.receive", "text": m} for m in messages]


async def test_fragment_ending_in_the_read_that_starts_the_next_frame() -> None:
    """The case that once lost messages: the library got the start of the next frame."""
    fragmented = frame(Opcode.TEXT, b"frag-", fin=False) + frame(Opcode.CONT, b"ment")
    after = frame(Opcode.TEXT, b"next") + frame(Opcode.TEXT, b"and more")
    wire = fragmented + after
    for cut in range(len(fragmented) + 1, len(wire)):
        events = await compare(wire, [wire[:cut], wire[cut:]])
        assert events == texts("frag-ment", "next", "and more")


async def test_control_frames_between_fragments_every_split() -> None:
    wire = (frame(Opcode.TEXT, b"a", fin=False) + frame(Opcode.PING, b"p1")
            + frame(Opcode.CONT, b"b", fin=False) + frame(Opcode.PONG, b"")
            + frame(Opcode.CONT, b"c") + frame(Opcode.TEXT, b"d"))
    for cut in range(1, len(wire)):
        for cut2 in (cut + 1, cut + 7):
            if cut2 < len(wire):
                events = await compare(wire, [wire[:cut], wire[cut:cut2], wire[cut2:]])
                assert events == texts("abc", "d")


async def test_byte_by_byte_and_large_frames() -> None:
    big = "x" * (300 * 1024)
    wire = frame(Opcode.TEXT, b"one") + frame(Opcode.TEXT, big.encode()) + frame(
        Opcode.TEXT, b"two")
    events = await compare(wire, [wire[i : i + 4096] for i in range(0, len(wire), 4096)])
    assert events == texts("one", big, "two")
    # A frame trickling in a byte at a time is appended, not copied on every read.
    trickle = frame(Opcode.TEXT, big[:100_000].encode()) + frame(Opcode.TEXT, b"three")
    events = await compare(trickle, [bytes([b]) for b in trickle])
    assert events == texts(big[:100_000], "three")
    small = frame(Opcode.TEXT, "😀 ok".encode()) + frame(Opcode.BINARY, b"\x00\x01")
    events = await compare(small, [bytes([b]) for b in small])
    assert events == [*texts("😀 ok"), {"type": "websocket.receive", "bytes": b"\x00\x01"}]


async def test_frame_over_the_size_limit_is_refused_as_uvicorn_does() -> None:
    wire = frame(Opcode.TEXT, b"ok") + frame(Opcode.TEXT, b"y" * (MAX_SIZE + 1))
    await compare(wire, [wire[i : i + 1000] for i in range(0, len(wire), 1000)])


async def test_the_current_uvicorn_gets_the_fast_path() -> None:
    conn = await Connection(FastTextFramesProtocol).open()
    assert conn.protocol._fast  # type: ignore[attr-defined]
    await conn.close()


async def test_missing_attribute_falls_back_to_uvicorns_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An uvicorn without an attribute the fast path reads: every byte goes to uvicorn's
    own receive path, and everything still arrives."""
    monkeypatch.setattr(ws_fastpath, "PROTOCOL_ATTRIBUTES",
                        (*ws_fastpath.PROTOCOL_ATTRIBUTES, "attribute_of_another_release"))
    seen: list[bytes] = []
    original = WebSocketsSansIOProtocol.data_received

    def spy(self: WebSocketsSansIOProtocol, data: bytes) -> None:
        seen.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(WebSocketsSansIOProtocol, "data_received", spy)
    rng = random.Random(1)
    wire = b"".join(message(rng) for _ in range(20))
    pieces = splits(rng, wire)
    fast = await Connection(FastTextFramesProtocol).open()
    assert not fast.protocol._fast  # type: ignore[attr-defined]
    seen.clear()
    fast.feed(pieces)
    assert seen == pieces  # untouched: uvicorn's path had every read as it came
    stock = await Connection(WebSocketsSansIOProtocol).open()
    stock.feed(frames_of(wire))
    assert fast.events == stock.events and len(fast.events) == 20
    await fast.close()
    await stock.close()
