"""The chunks of one request as they arrive from its worker (``Job``), and the items that
end them. The per-chunk path (``Job.push_data``) is hot: see relay/dispatch.py."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from lmarena_bridge.relay.request_record import RequestRecord

if TYPE_CHECKING:
    from lmarena_bridge.relay.tab import Worker

DONE = "[DONE]"
KEEPALIVE = object()  # yielded by JobRun.batches after a silence of keepalive seconds


class Lost:
    """Terminal item: the worker went away."""


LOST = Lost()


class Job:
    """Chunks of one request as they arrive from its worker.

    An ``eager`` job wakes its consumer for every chunk (streaming, stop sequences). A lazy
    one (a plain non-streaming answer) only for the end, an error or a lost worker: the
    chunks pile up and are parsed once, which saves a task switch per chunk. So that a
    silence after some data still times out on the idle limit (``idle``), as in a stream,
    the first chunk moves the sleeping consumer's timer to ``idle`` seconds from then
    (relay/job_run.py then re-arms it from the last chunk).
    """

    __slots__ = (
        "_items",
        "_timer",
        "_waiter",
        "eager",
        "first_data",
        "idle",
        "last_data",
        "rec",
        "received",
        "request_id",
        "worker",
    )

    def __init__(self, request_id: str, worker: Worker, rec: RequestRecord, eager: bool) -> None:
        self.request_id = request_id
        self.worker = worker
        self.rec = rec
        self.eager = eager
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.Timeout | None = None  # the consumer's wait in take()
        self.idle: float | None = None  # a lazy job's idle limit (seconds)
        self.received = False  # any body data seen (then failover is no longer safe)
        self.first_data = 0.0  # monotonic time of the first body data
        self.last_data = 0.0  # monotonic time of the last body data

    def push_data(self, data: str) -> None:
        now = time.monotonic()
        if not self.received:
            self.received = True
            self.first_data = now
            timer, idle = self._timer, self.idle
            if timer is not None and idle is not None and not self.eager:
                when = asyncio.get_running_loop().time() + idle
                if (timer.when() or when + 1) > when:
                    timer.reschedule(when)
        self.last_data = now
        self.rec.chars += len(data)
        self._items.append(data)
        if self.eager:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def push(self, item: Any) -> None:
        """A terminal item (DONE, an error, a lost worker): always wakes the consumer."""
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self, timeout: float) -> list[Any]:
        """What is queued, waiting up to ``timeout`` for a wake-up; [] if nothing came."""
        if not self._items or not self.eager:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                async with asyncio.timeout(timeout) as self._timer:
                    await waiter
            except TimeoutError:
                pass
            finally:
                self._waiter = None
                self._timer = None
        items, self._items = self._items, []
        return items
