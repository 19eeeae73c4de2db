"""Writing an answer: lines → network writes, delays with heartbeats, stall, stop.

Line grammar (docs/site-protocol.md §2): ``<a|b><code>:<JSON>\\n``. ``answers.py`` decides
the lines; this module decides how and when they reach the socket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .records import RecordedRequest, StreamControl
from .state import EmulatorState


def line(pos: str, code: str, value: Any) -> str:
    # ensure_ascii=False: non-ASCII travels as raw UTF-8, like the site.
    return f"{pos}{code}:{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}"


HEARTBEAT = line("a", "2", [{"type": "heartbeat"}])
_HEARTBEAT_WRITE = (HEARTBEAT + "\n").encode()


def deltas(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def split_writes(
    lines: list[str], per_write: int, split_lines: bool, split_utf8: bool
) -> list[bytes]:
    """Group lines into writes, then cut writes mid-line and/or inside UTF-8 characters."""
    per_write = max(1, per_write)
    writes = ["".join(f"{ln}\n" for ln in lines[i : i + per_write]).encode()
              for i in range(0, len(lines), per_write)]
    out: list[bytes] = []
    for data in writes:
        cuts: set[int] = set()
        if split_lines and len(data) > 1:
            cuts.add(len(data) // 2)
        if split_utf8:
            # Right after each lead byte of a multi-byte character: the decoder must carry
            # the rest of the character over to the next read.
            cuts.update(i + 1 for i, b in enumerate(data) if b >= 0xC0)
        start = 0
        for cut in sorted(c for c in cuts if 0 < c < len(data)):
            out.append(data[start:cut])
            start = cut
        out.append(data[start:])
    return out


async def pause(seconds: float, stop: asyncio.Event,
                heartbeat: float | None) -> AsyncIterator[bytes]:
    """Wait ``seconds`` (less if ``stop`` is set), yielding a heartbeat write every
    ``heartbeat`` seconds of the wait (none when None), as the site does while a model is
    queued or thinking."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        step = left if heartbeat is None else min(left, heartbeat)
        try:
            await asyncio.wait_for(stop.wait(), step)
            return
        except TimeoutError:
            pass
        if heartbeat is not None and end - loop.time() > 0:
            yield _HEARTBEAT_WRITE


async def stream_writes(
    state: EmulatorState, lines: list[str], stall: bool = False, silent: bool = False,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[bytes]:
    """Yield the writes with the configured delays; a stall holds the connection (with
    heartbeats unless ``silent``) until the client leaves or ``stop`` is set."""
    chunking = state.chunking
    stop = stop or asyncio.Event()
    beat = None if silent else state.heartbeat_interval
    writes = split_writes(lines, chunking.lines_per_write, chunking.split_lines,
                          chunking.split_utf8)
    stall_after = len(writes) if stall else chunking.stall_after
    for i, data in enumerate(writes):
        if stall_after is not None and i == stall_after:
            async for write in pause(chunking.stall_seconds, stop, beat):
                yield write
        if i and chunking.delay:
            async for write in pause(chunking.delay, stop, beat):
                yield write
        if stop.is_set():
            return
        yield data
    if stall_after is not None and stall_after >= len(writes):
        async for write in pause(chunking.stall_seconds, stop, beat):
            yield write


class RecordingStream(StreamingResponse):
    """Marks the recorded request ``completed`` or ``disconnected`` once the response ends.

    Starlette cancels the stream when the client goes away (ASGI < 2.4 disconnect
    listener), so "the body iterator ran out" is exactly "the client got everything" (or a
    stop request ended it: then ``rec.stopped`` is set too). ``on_end`` runs last, always.
    """

    def __init__(self, rec: RecordedRequest, content: AsyncIterator[bytes],
                 on_end: Callable[[], None] | None = None, **kw: Any) -> None:
        self.rec = rec
        self.on_end = on_end
        super().__init__(self._track(content), **kw)

    async def _track(self, content: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in content:
            yield chunk
        self.rec.completed = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.rec.ended_at = time.time()
            self.rec.disconnected = not self.rec.completed
            if self.on_end is not None:
                self.on_end()


def answer_stream(
    state: EmulatorState, rec: RecordedRequest, lines: list[str], *, session_id: str,
    user_message_id: str, stall: bool = False, silent: bool = False,
    headers: dict[str, str] | None = None,
) -> RecordingStream:
    """The 200 answer, registered in ``state.running_streams`` until it ends so that
    ``POST …/stream/stop/{session_id}/messages/{user_message_id}`` can end it early."""
    control = StreamControl(session_id=session_id, user_message_id=user_message_id, rec=rec)
    state.running_streams.append(control)

    def unregister() -> None:
        if control in state.running_streams:
            state.running_streams.remove(control)

    return RecordingStream(
        rec, stream_writes(state, lines, stall, silent, control.stop), on_end=unregister,
        status_code=200,
        headers={"content-type": "text/event-stream", "cache-control": "no-cache",
                 **(headers or {})},
    )
