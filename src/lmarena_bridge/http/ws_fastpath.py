"""A faster receive path for the worker WebSocket.

Nearly all traffic from a tab is small, complete, masked text frames (one per body chunk).
uvicorn's WebSocket protocol parses each through the ``websockets`` library's
generator-based reader, which the benchmark's profile showed as the largest single cost of
relaying a stream. ``FastTextFramesProtocol`` parses exactly those frames itself and hands
every other frame — control frames, fragments, compressed or binary frames, anything
invalid — whole and in order to the library, so the library's parser is always at a frame
boundary and keeps doing the protocol's work (pings, close handshake, errors).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

try:  # uvicorn's sans-I/O WebSocket protocol and the C mask routine of ``websockets``
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.frames import apply_mask
    from websockets.protocol import State
except ImportError:  # pragma: no cover - other versions: uvicorn's default protocol is used
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

_TEXT_FIN = 0x81  # FIN, no RSV bits (no compression), opcode 1 (text)
# A frame this large is streamed into the library as it arrives instead of being
# buffered here until complete (which would copy it again on every read).
_LARGE_FRAME = 256 * 1024


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
    return header, length


if WebSocketsSansIOProtocol is not None:

    class FastTextFramesProtocol(WebSocketsSansIOProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pending = b""
            self._library_owes = 0  # bytes of a large frame the library is still reading

        def _fast_ready(self) -> bool:
            return (
                self.handshake_complete
                and not self.close_sent
                and not self.frames
                and self.conn.state is State.OPEN
                and not self.conn.expect_continuation_frame
            )

        def data_received(self, data: bytes) -> None:
            if self._library_owes:
                take = min(self._library_owes, len(data))
                self._library_owes -= take
                super().data_received(data[:take])
                data = data[take:]
                if not data:
                    return
            ready = self._fast_ready()
            if not self._pending and not ready:
                super().data_received(data)
                return
            buf = self._pending + data if self._pending else data
            self._pending = b""
            pos, end = 0, len(buf)
            queue = self.queue
            queued = to_library = False
            # Only the library changes the connection's state, so readiness is checked
            # again after handing it a frame, not for every frame.
            while ready and end - pos >= 2:
                b0, b1 = buf[pos], buf[pos + 1]
                if 0x80 <= b1 <= 0xFD:  # masked, length under 126: most frames
                    length, header = b1 & 0x7F, 6
                else:
                    sizes = _frame_length(buf, pos)
                    if sizes is None:
                        break
                    header, length = sizes
                    if length > self.config.ws_max_size:
                        to_library = True  # it refuses the frame properly
                        break
                stop = pos + header + length
                if stop > end:
                    break
                if b0 == _TEXT_FIN and b1 & 0x80:  # a final, masked, uncompressed text frame
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
                # Any other frame: through the library, whole and on its own.
                super().data_received(bytes(buf[pos:stop]))
                pos = stop
                ready = self._fast_ready()
            if queued and not self.read_paused:
                # As uvicorn does per message: stop reading until the app has caught up.
                self.read_paused = True
                self.transport.pause_reading()
            if pos < end:
                rest = bytes(buf[pos:])
                sizes = _frame_length(rest, 0) if ready and not to_library else None
                if ready and not to_library and (sizes is None or sum(sizes) <= _LARGE_FRAME):
                    self._pending = rest  # the start of a frame; wait for the rest
                    return
                if sizes is not None:
                    self._library_owes = sum(sizes) - len(rest)
                super().data_received(rest)

else:  # pragma: no cover
    FastTextFramesProtocol = None  # type: ignore[assignment,misc]


def websocket_protocol() -> Any:
    """The ``ws`` setting for uvicorn: our fast path, or uvicorn's default."""
    return FastTextFramesProtocol if FastTextFramesProtocol is not None else "auto"
