"""A faster receive path for the worker WebSocket.

Nearly all traffic from a tab is small, complete, masked text frames (one per body chunk).
uvicorn's sans-I/O WebSocket protocol parses each through the ``websockets`` library's
generator-based reader, which the benchmark's profile showed as the largest single cost of
relaying a stream. ``FastTextFramesProtocol`` splits the byte stream into frames itself,
queues exactly those frames for the app, and hands every other frame (control frames,
fragments and what comes between them, compressed or binary frames, anything invalid)
to the library whole and in order.

The contract that keeps this correct on any frame sequence, however the reads split it:
the library's parser only ever receives whole frames, so it is at a frame boundary
whenever the fast path looks at the stream. The one exception is a frame too large to
buffer here (``_LARGE_FRAME``): it is streamed into the library as it arrives and its
remaining length is counted, so the boundary is known again once it has passed. The
fast path only takes a frame when the library would do nothing but queue its text: the
handshake is complete, nothing was sent to close, the connection is open and no
fragmented message is in progress (tracked here from the frames' headers, since the
library keeps that state in private attributes that changed names between releases).

It relies on attributes of uvicorn's ``WebSocketsSansIOProtocol`` (uvicorn 0.35 and
later; pyproject.toml pins the tested range). When one of them is missing, a connection
uses uvicorn's own receive path unchanged, and where the class does not exist at all
uvicorn's default protocol is used.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

try:  # uvicorn's sans-I/O WebSocket protocol and the C mask routine of ``websockets``
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.frames import apply_mask
    from websockets.protocol import State
except ImportError:  # pragma: no cover - uvicorn before 0.35: its default protocol is used
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

_TEXT_FIN = 0x81  # FIN, no RSV bits (no compression), opcode 1 (text)
# A frame this large is streamed into the library as it arrives instead of being
# buffered here until complete (which would copy it again on every read).
_LARGE_FRAME = 256 * 1024

# What the fast path reads or sets on uvicorn's protocol and on its ``websockets``
# connection. Private to uvicorn: checked on every connection, never assumed.
PROTOCOL_ATTRIBUTES = (
    "config", "conn", "queue", "transport", "read_paused", "handshake_initiated",
    "handshake_complete", "close_sent",
)
CONNECTION_ATTRIBUTES = ("state",)


def _frame_length(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(header length incl. mask, payload length) of the frame at ``pos``; None if the
    header is not complete yet."""
    avail = len(buf) - pos
    if avail < 2:
        return None
    b1 = buf[pos + 1]
    length = b1 & 0x7F
    header = 2
    if length == 126:
        if avail < 4:
            return None
        length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
        header = 4
    elif length == 127:
        if avail < 10:
            return None
        length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
        header = 10
    if b1 & 0x80:
        header += 4
    if avail < header:
        return None
    return header, length


def fast_path_supported(protocol: object) -> bool:
    """Whether ``protocol`` (a constructed uvicorn WebSocket protocol) has everything the
    fast path touches."""
    conn = getattr(protocol, "conn", None)
    return all(hasattr(protocol, name) for name in PROTOCOL_ATTRIBUTES) and all(
        hasattr(conn, name) for name in CONNECTION_ATTRIBUTES
    )


if WebSocketsSansIOProtocol is not None:

    class FastTextFramesProtocol(WebSocketsSansIOProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._fast = fast_path_supported(self)
            if not self._fast:
                log.warning(
                    "this uvicorn's WebSocket protocol lacks what the fast receive path "
                    "needs; using uvicorn's own (slower) receive path"
                )
            self._framing = False  # True once the upgrade request has been handed over
            # The start of a frame (the library is at a boundary), and its whole length
            # once the header is complete (0 before): a frame trickling in byte by byte
            # is appended, not re-parsed and copied on every read.
            self._pending = bytearray()
            self._pending_needs = 0
            self._library_owes = 0  # bytes of a large frame the library is still reading
            # Inside a fragmented message, as far as the frames the library was given go
            # (the library would refuse a new message there, so the fast path must not
            # take one).
            self._fragmented = False

        async def send(self, message: Any) -> None:
            await super().send(message)
            if self.close_sent and self.initial_response is not None:
                # A refusal answered with an HTTP response ends the handshake too; uvicorn's
                # protocol forgets that and logs "returned without completing handshake"
                # for every refused connection.
                self.handshake_complete = True

        def _fast_ready(self) -> bool:
            return (
                self.handshake_complete
                and not self.close_sent
                and self.conn.state is State.OPEN
                and not self._fragmented
            )

        def _to_library(self, data: bytes, first_byte: int) -> None:
            """Hand the library a frame (or the start of one) whose first byte is
            ``first_byte``, keeping track of fragmented messages."""
            opcode = first_byte & 0x0F
            if opcode in (1, 2):  # text or binary: starts a message, ends it when FIN
                self._fragmented = not first_byte & 0x80
            elif opcode == 0 and first_byte & 0x80:  # the final continuation frame
                self._fragmented = False
            super().data_received(data)

        def data_received(self, data: bytes) -> None:
            if not self._framing:
                # uvicorn hands the upgrade request over in one call, rebuilt from the
                # parsed HTTP request, with no frame bytes after it.
                super().data_received(data)
                self._framing = self._fast and self.handshake_initiated
                return
            if self._library_owes:
                take = min(self._library_owes, len(data))
                self._library_owes -= take
                super().data_received(data[:take])
                data = data[take:]
                if not data or self.transport.is_closing():
                    return
            if self._pending:
                self._pending += data
                if len(self._pending) < self._pending_needs:
                    return
                buf = bytes(self._pending)
                self._pending.clear()
            else:
                buf = data
            pos, end = 0, len(buf)
            queue = self.queue
            max_size = self.config.ws_max_size
            queued = False
            ready = self._fast_ready()
            while end - pos >= 2:
                b0, b1 = buf[pos], buf[pos + 1]
                if 0x80 <= b1 <= 0xFD:  # masked, length under 126: most frames
                    header, length = 6, b1 & 0x7F
                else:
                    sizes = _frame_length(buf, pos)
                    if sizes is None:
                        break
                    header, length = sizes
                    if length > max_size:
                        break  # the library refuses it on its header (see below)
                stop = pos + header + length
                if stop > end:
                    break
                if ready and b0 == _TEXT_FIN and b1 & 0x80:
                    # A final, masked, uncompressed text frame outside a fragmented message.
                    mask = buf[pos + header - 4 : pos + header]
                    try:
                        text = apply_mask(buf[pos + header : stop], mask).decode()
                    except UnicodeDecodeError:
                        pass  # the library closes with 1007
                    else:
                        queue.put_nowait({"type": "websocket.receive", "text": text})
                        queued = True
                        pos = stop
                        continue
                # Any other frame: through the library, whole and on its own. Only the
                # library changes the connection's state, so readiness is checked again
                # after it has had a frame, not for every frame.
                self._to_library(buf[pos:stop], b0)
                pos = stop
                if self.transport.is_closing():
                    return  # the library ended the connection: nothing more is read
                ready = self._fast_ready()
            if queued and not self.read_paused:
                # As uvicorn does per message: stop reading until the app has caught up.
                self.read_paused = True
                self.transport.pause_reading()
            if pos == end:
                return
            rest = buf[pos:]
            sizes = _frame_length(rest, 0)
            if sizes is None or (sum(sizes) <= _LARGE_FRAME and sizes[1] <= max_size):
                self._pending += rest  # the start of a frame; wait for the rest
                self._pending_needs = sum(sizes) if sizes is not None else 0
                return
            # A large frame (or one over the size limit, which the library refuses on its
            # header): streamed into the library, its remaining bytes counted.
            self._library_owes = sum(sizes) - len(rest)
            self._to_library(rest, rest[0])

else:  # pragma: no cover
    FastTextFramesProtocol = None  # type: ignore[assignment,misc]


def websocket_protocol() -> Any:
    """The ``ws`` setting for uvicorn: our fast path, or uvicorn's default."""
    return FastTextFramesProtocol if FastTextFramesProtocol is not None else "auto"
