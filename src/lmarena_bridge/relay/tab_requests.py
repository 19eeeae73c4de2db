"""Commands to a tab whose answer comes back later as its own frame: id capture and the
page source (docs/worker-protocol.md, "Replies to commands").

``TabRequests`` listens to the relay's control frames (``ids_captured``, ``page_source``)
and matches them to what a caller is waiting for. Seed-era tabs answer these commands on
HTTP side channels instead; the HTTP layer feeds those in here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lmarena_bridge.config.defaults import AVAILABLE_MODELS_JSON
from lmarena_bridge.config.files import read_text, write_atomic
from lmarena_bridge.config.jsonc import parse_jsonc
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.errors import BridgeError, NoWorkerAvailable, Timeout
from lmarena_bridge.protocol.worker import IdsCaptured, PageSource
from lmarena_bridge.relay.dispatch import Dispatcher
from lmarena_bridge.relay.tab import Worker

log = logging.getLogger(__name__)

MAX_CAPTURES = 64  # captures kept for polling; the oldest are forgotten first


@dataclass
class Capture:
    """One armed id capture; ``done`` is set when the tab reported the ids."""

    id: str
    worker_id: str
    created: float = field(default_factory=time.time)
    session_id: str | None = None
    message_id: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    saved: bool = False  # written to config.jsonc by the bridge (``save`` captures)
    save_error: str | None = None

    def describe(self) -> dict[str, Any]:
        if not self.done.is_set():
            return {"status": "pending", "capture_id": self.id, "worker_id": self.worker_id}
        return {
            "status": "captured",
            "capture_id": self.id,
            "worker_id": self.worker_id,
            "session_id": self.session_id,
            "message_id": self.message_id,
            "saved": self.saved,
            **({"save_error": self.save_error} if self.save_error else {}),
        }


class TabRequests:
    """Arms id captures and asks tabs for their page HTML; matches the replies."""

    def __init__(self, relay: Dispatcher) -> None:
        self.relay = relay
        self._captures: OrderedDict[str, Capture] = OrderedDict()
        self._page_waiters: list[tuple[Worker, asyncio.Future[str]]] = []
        self._background: set[asyncio.Task[Any]] = set()
        relay.control_listeners.append(self._on_control)

    # -- choosing a tab --------------------------------------------------------------------

    def pick_worker(self, worker_id: str | None = None) -> Worker:
        """The named tab, else the first ready one, else the first connected one.

        Raises NoWorkerAvailable (503) when no tab is connected, and a 404 BridgeError
        for an unknown ``worker_id``.
        """
        workers = self.relay.pool.workers
        if worker_id:
            worker = workers.get(worker_id)
            if worker is None:
                known = ", ".join(workers) or "none"
                raise BridgeError(
                    f"No browser tab '{worker_id}' is connected (connected tabs: {known}).",
                    status=404,
                    type="invalid_request_error",
                    code="worker_not_found",
                    param="worker_id",
                )
            return worker
        if not workers:
            raise NoWorkerAvailable(
                f"No browser tab is connected to the bridge. {self.relay.pool.hint()}"
            )
        ready = [w for w in workers.values() if w.routable]
        return (ready or list(workers.values()))[0]

    # -- id capture ------------------------------------------------------------------------

    def start_capture(self, worker: Worker) -> Capture:
        """Send ``activate_id_capture`` to ``worker`` and remember the capture."""
        capture = Capture(id=uuid.uuid4().hex, worker_id=worker.id)
        self._captures[capture.id] = capture
        while len(self._captures) > MAX_CAPTURES:
            self._captures.popitem(last=False)
        self.relay.command(worker, "activate_id_capture")
        log.info("id capture %s armed on worker %s", capture.id, worker.id)
        return capture

    def capture(self, capture_id: str) -> Capture | None:
        return self._captures.get(capture_id)

    async def wait_capture(self, capture: Capture, timeout: float) -> Capture:
        """Wait up to ``timeout`` seconds for the ids; returns the capture either way."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout)):
                await capture.done.wait()
        return capture

    def _on_ids(self, worker: Worker, msg: IdsCaptured) -> None:
        pending = [c for c in reversed(self._captures.values()) if not c.done.is_set()]
        # A tab that reconnected (new worker id) sends ids captured while it was away;
        # they belong to a capture armed on a tab that is gone.
        match = next((c for c in pending if c.worker_id == worker.id), None) or next(
            (c for c in pending if c.worker_id not in self.relay.pool.workers), None
        )
        if match is None:
            log.info("worker %s captured ids but no capture is waiting; ignored", worker.id)
            return
        match.session_id, match.message_id = msg.session_id, msg.message_id
        match.worker_id = worker.id
        match.done.set()
        log.info("id capture %s: ids received from worker %s", match.id, worker.id)

    # -- page source -----------------------------------------------------------------------

    async def page_source(self, worker: Worker, timeout: float) -> str:
        """Send ``send_page_source`` and wait for the HTML (raises Timeout after ``timeout``)."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        entry = (worker, fut)
        self._page_waiters.append(entry)
        try:
            self.relay.command(worker, "send_page_source")
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise Timeout(
                f"The browser tab {worker.id} did not send its page within {timeout:g} seconds."
            ) from None
        finally:
            with contextlib.suppress(ValueError):
                self._page_waiters.remove(entry)

    def page_posted(self, html: str) -> int:
        """A seed-era tab POSTed its page (it cannot say which tab it is): hand it to the
        waiters on protocol-1 tabs, or to every waiter when none is. Returns how many."""
        waiters = [(w, f) for w, f in self._page_waiters if w.protocol < 2 and not f.done()]
        if not waiters:
            waiters = [(w, f) for w, f in self._page_waiters if not f.done()]
        for _, fut in waiters:
            fut.set_result(html)
        return len(waiters)

    def _on_page(self, worker: Worker, msg: PageSource) -> None:
        for waiter, fut in self._page_waiters:
            if waiter is worker and not fut.done():
                fut.set_result(msg.html)

    # -- plumbing --------------------------------------------------------------------------

    def _on_control(self, worker: Worker, msg: BaseModel) -> None:
        if isinstance(msg, IdsCaptured):
            self._on_ids(worker, msg)
        elif isinstance(msg, PageSource):
            self._on_page(worker, msg)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def read_available_models(config_dir: Path) -> list[dict[str, Any]]:
    """The model objects of available_models.json as the file holds them now (also its
    older ``{name: model}`` shape); empty when the file is missing or unreadable."""
    path = Path(config_dir) / AVAILABLE_MODELS_JSON
    try:
        data = parse_jsonc(read_text(path), file=path.name)
    except (OSError, ConfigFileError):
        return []
    if isinstance(data, dict):
        data = list(data.values())
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def write_available_models(config_dir: Path, models: list[dict[str, Any]]) -> Path:
    """Replace available_models.json atomically with ``models`` (full objects, pretty)."""
    path = Path(config_dir) / AVAILABLE_MODELS_JSON
    write_atomic(path, json.dumps(models, indent=4, ensure_ascii=False) + "\n")
    return path
