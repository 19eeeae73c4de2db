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

        def _fast_ready(self) -> bool:
            return (
                self.handshake_complete
                and not self.close_sent
                and not self.frames
                and self.conn.state is State.OPEN
                and not self.conn.expect_continuation_frame
            )

        def data_received(self, data: bytes) -> None:
            if not self._pending and not self._fast_ready():
                super().data_received(data)
                return
            buf = self._pending + data if self._pending else data
            pos, end = 0, len(buf)
            max_size = self.config.ws_max_size
            while pos < end:
                if not self._fast_ready():
                    break
                sizes = _frame_length(buf, pos)
                if sizes is None:
                    break
                header, length = sizes
                stop = pos + header + length
                if length > max_size:
                    break  # the library refuses it properly
                if stop > end:
                    self._pending = buf[pos:]
                    return
                if buf[pos] == _TEXT_FIN and header - 4 >= 2 and buf[pos + 1] & 0x80:
                    mask = buf[pos + header - 4 : pos + header]
                    try:
                        text = apply_mask(buf[pos + header : stop], mask).decode()
                    except UnicodeDecodeError:
                        pass  # the library closes with 1007
                    else:
                        self.queue.put_nowait({"type": "websocket.receive", "text": text})
                        if not self.read_paused:
                            self.read_paused = True
                            self.transport.pause_reading()
                        pos = stop
                        continue
                # Any other complete frame: through the library, on its own.
                super().data_received(bytes(buf[pos:stop]))
                pos = stop
            self._pending = b""
            if pos < end:
                super().data_received(bytes(buf[pos:]))

else:  # pragma: no cover
    FastTextFramesProtocol = None  # type: ignore[assignment,misc]


def websocket_protocol() -> Any:
    """The ``ws`` setting for uvicorn: our fast path, or uvicorn's default."""
    return FastTextFramesProtocol if FastTextFramesProtocol is not None else "auto"
