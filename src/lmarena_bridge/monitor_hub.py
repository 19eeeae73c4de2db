"""The live monitor's state and its event fan-out to connected monitor pages.

``MonitorHub`` observes the relay: it keeps the requests in flight, recent finished ones
and recent errors, and sends JSON events to every subscribed page. A page gets a snapshot
first, then events. Sending never blocks the relay: each subscriber has a bounded queue
drained by its own task, and a subscriber that falls behind is dropped (the page
reconnects and gets a fresh snapshot).

Progress of requests in flight (characters received) changes per chunk; it is sent as a
``tick`` once a second by ``run()``, never per chunk.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import orjson

from lmarena_bridge import __version__
from lmarena_bridge.config.model import ids_are_set
from lmarena_bridge.config.store import ConfigStore
from lmarena_bridge.relay.health import need_sentence
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.relay.tab import Worker

log = logging.getLogger(__name__)

USERSCRIPT_PATH = "/userscript.user.js"
RECENT_MAX = 200
ERRORS_MAX = 100
SUBSCRIBER_QUEUE = 256  # events a page may lag behind before it is dropped
MODEL_CHARS = 120  # model names come from clients; keep a silly one from bloating events
STALE_GRACE_SECONDS = 60.0
# Managed-browser states listed among the monitor's errors.
BROWSER_PROBLEMS = ("restarting", "not_found", "profile_locked", "no_display", "failed")

Send = Callable[[str], Awaitable[None]]
Close = Callable[[], Coroutine[Any, Any, None]]


class Subscriber:
    """One monitor page: events queue up here and a task sends them in order."""

    def __init__(self, send: Send, close: Close) -> None:
        self._send = send
        self._close = close
        self._queue: asyncio.Queue[str] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._task = asyncio.get_running_loop().create_task(self._pump())
        self.closed = False

    def push(self, text: str) -> bool:
        """Queue one serialized event; False when the page is too far behind."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def _pump(self) -> None:
        try:
            while True:
                text = await self._queue.get()
                await self._send(text)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket broke; the route notices and unsubscribes
            log.debug("monitor socket send failed: %s", exc)
            self.closed = True

    def stop(self, *, close_socket: bool) -> None:
        self.closed = True
        self._task.cancel()
        if close_socket:
            task = asyncio.get_running_loop().create_task(self._close())
            task.add_done_callback(_ignore_result)


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _model(rec: RequestRecord) -> str:
    return rec.model[:MODEL_CHARS]


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


class MonitorHub(RelayObserver):
    """Live view of the bridge for ``/monitor``; see the module docstring."""

    def __init__(
        self,
        pool: WorkerPool,
        config_store: ConfigStore,
        *,
        started_at: float | None = None,
        tick_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.config_store = config_store
        self.started_at = time.time() if started_at is None else started_at
        self.tick_interval = tick_interval
        self.in_flight: dict[int, tuple[int, RequestRecord]] = {}  # id(rec) -> (key, rec)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_MAX)
        self.errors: deque[dict[str, Any]] = deque(maxlen=ERRORS_MAX)
        self.subscribers: set[Subscriber] = set()
        self._keys = itertools.count(1)
        self._worker_states: dict[str, str] = {}
        self._config_sig: tuple[Any, ...] | None = None
        # The managed browser's status (serve --browser; set by http/app.py), else None.
        self.browser_status: Callable[[], dict[str, Any]] | None = None

    # -- subscribers -----------------------------------------------------------------------

    def subscribe(self, send: Send, close: Close) -> Subscriber:
        """Register a page; its first event is the snapshot. Call on the event loop."""
        self._check_config()  # pages already open must not miss what the snapshot shows
        sub = Subscriber(send, close)
        sub.push(self._dumps({"type": "snapshot", **self.snapshot()}))
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        sub.stop(close_socket=False)

    def reply(self, sub: Subscriber, event: dict[str, Any]) -> None:
        """Send one event to one page (e.g. the answer to an action)."""
        if not sub.push(self._dumps(event)):
            self._drop(sub)

    def broadcast(self, event: dict[str, Any]) -> None:
        if not self.subscribers:
            return
        text = self._dumps(event)
        for sub in list(self.subscribers):
            if not sub.push(text):
                self._drop(sub)

    def _drop(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            log.info("dropping a monitor page that fell behind or broke")
        self.subscribers.discard(sub)
        sub.stop(close_socket=True)

    @staticmethod
    def _dumps(event: dict[str, Any]) -> str:
        return orjson.dumps(event).decode()

    # -- views -----------------------------------------------------------------------------

    def config_status(self) -> dict[str, Any]:
        store = self.config_store
        cfg = store.current
        s = cfg.settings
        return {
            "site_strategy": s.site_strategy,
            "direct_mode": s.direct_mode,
            "endpoint_pool_strategy": s.endpoint_pool_strategy,
            "mode": s.id_updater_last_mode,
            "battle_target": s.id_updater_battle_target,
            "session_ids_set": ids_are_set(s.session_id, s.message_id),
            "models": len(cfg.models),
            "endpoint_map": len(cfg.endpoint_map),
            "problems": [str(p) for p in store.problems],
            "api_key_set": bool(s.api_key),
            "generation": store.generation,
            "config_dir": str(store.config_dir),
            "userscript_path": USERSCRIPT_PATH,
        }

    @staticmethod
    def _record_view(key: int | None, rec: RequestRecord) -> dict[str, Any]:
        return {
            "key": key,
            "id": rec.request_id,
            "endpoint": rec.endpoint,
            "model": _model(rec),
            "stream": rec.stream,
            "worker": rec.worker_id,
            "started_at": rec.started_at,
            "routed_model": rec.routed_model,
        }

    @staticmethod
    def flight_view(key: int, rec: RequestRecord) -> dict[str, Any]:
        return {
            **MonitorHub._record_view(key, rec),
            "elapsed": _round(rec.duration),
            "chars": rec.chars,
            "queue_wait": _round(rec.queue_wait),
            "ttft": _round(rec.ttft),
        }

    @staticmethod
    def finished_view(key: int | None, rec: RequestRecord) -> dict[str, Any]:
        cancelled = rec.outcome == "cancelled"
        return {
            **MonitorHub._record_view(key, rec),
            "finished_at": time.time(),
            "outcome": rec.outcome,
            "status": 499 if cancelled else rec.status,
            "duration": _round(rec.duration),
            "ttft": _round(rec.ttft),
            "queue_wait": _round(rec.queue_wait),
            "chars": rec.chars,
            "prompt_tokens": rec.prompt_tokens,
            "completion_tokens": rec.completion_tokens,
            "error": rec.error,
            "error_code": rec.error_code,
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "server_time": time.time(),
            "started_at": self.started_at,
            "version": __version__,
            "workers": [w.describe() for w in list(self.pool.workers.values())],
            "queue_depth": self.pool.queue_depth,
            "in_flight": [self.flight_view(k, r) for k, r in self.in_flight.values()],
            "recent": list(self.recent),
            "errors": list(self.errors),
            "config": self.config_status(),
            "browser": self.browser_status() if self.browser_status else None,
            "accounts": self.accounts_view(),
        }

    def accounts_view(self) -> list[dict[str, Any]]:
        """Each account: its tabs, budgets per modality, cooldowns, recent request counts."""
        now = time.time()
        tabs: dict[str, list[str]] = {}
        for w in list(self.pool.workers.values()):
            tabs.setdefault(w.account.key, []).append(w.id)
        return [acc.view(now, tabs.get(key, ()))
                for key, acc in sorted(self.pool.accounts.by_key.items())
                if key in tabs or acc.active(now)]

    def accounts_changed(self) -> None:
        self.broadcast({"type": "accounts", "accounts": self.accounts_view()})

    def browser_changed(self, status: dict[str, Any]) -> None:
        """The managed browser's status changed (src/lmarena_bridge/browser/supervisor.py)."""
        self.broadcast({"type": "browser", "browser": status})
        if status.get("state") in BROWSER_PROBLEMS and status.get("message"):
            self._error("browser", str(status["message"]), code=status["state"])

    def _error(self, source: str, message: str, **extra: Any) -> None:
        entry = {"time": time.time(), "source": source, "message": message, **extra}
        self.errors.append(entry)
        self.broadcast({"type": "error", "error": entry})

    # -- observer hooks (called on the event loop; constant work per call) -----------------

    def request_started(self, rec: RequestRecord) -> None:
        key = next(self._keys)
        self.in_flight[id(rec)] = (key, rec)
        self.broadcast({"type": "request_started", "request": self.flight_view(key, rec)})

    def request_dispatched(self, rec: RequestRecord) -> None:
        self._request_update(rec)
        self._worker_load(rec)

    def first_token(self, rec: RequestRecord) -> None:
        self._request_update(rec)

    def _request_update(self, rec: RequestRecord) -> None:
        entry = self.in_flight.get(id(rec))
        if entry is not None:
            self.broadcast({"type": "request_updated", "request": self.flight_view(*entry)})

    def _worker_load(self, rec: RequestRecord) -> None:
        # The pool reports no event when a slot is taken or freed; a job's start and end
        # are those moments, so the tab's load is sent along with them.
        worker = self.pool.workers.get(rec.worker_id) if rec.worker_id else None
        if worker is not None:
            self.broadcast({"type": "worker_changed", "worker": worker.describe()})

    def request_finished(self, rec: RequestRecord) -> None:
        entry = self.in_flight.pop(id(rec), None)
        view = self.finished_view(entry[0] if entry else None, rec)
        self.recent.append(view)
        self.broadcast({"type": "request_finished", "request": view})
        self._worker_load(rec)
        if rec.outcome == "error":
            self._error(
                "request",
                rec.error or "request failed",
                code=rec.error_code,
                status=rec.status,
                model=_model(rec),
                worker=rec.worker_id,
            )

    def queue_changed(self, depth: int) -> None:
        self.broadcast({"type": "queue", "depth": depth})

    def worker_connected(self, worker: Worker) -> None:
        self._worker_states[worker.id] = worker.state
        if len(self.pool.workers) == 1:
            log.info("A browser tab is connected (%s); the bridge can answer requests", worker.id)
        self.broadcast({"type": "worker_connected", "worker": worker.describe()})

    def worker_disconnected(self, worker: Worker) -> None:
        self._worker_states.pop(worker.id, None)
        if not self.pool.workers:
            log.warning("No browser tab is connected any more; requests will get 503")
        self.broadcast({"type": "worker_disconnected", "worker": worker.describe()})

    def worker_changed(self, worker: Worker) -> None:
        before = self._worker_states.get(worker.id)
        self._worker_states[worker.id] = worker.state
        self.broadcast({"type": "worker_changed", "worker": worker.describe()})
        if worker.state != before and worker.state in ("challenge", "logged_out"):
            what = "shows a security check" if worker.state == "challenge" else "is logged out"
            detail = f": {worker.state_detail}" if worker.state_detail else ""
            self._error("worker", f"Tab {worker.id} {what}{detail}", worker=worker.id)

    def tab_needs_human(self, worker: Worker, reason: str) -> None:
        # challenge and logged_out are listed by worker_changed (as they always were).
        if reason in ("recaptcha", "wrong_origin"):
            self._error("worker", need_sentence(worker), worker=worker.id, code=reason)

    def unknown_prefixes(self, counts: Counter[str]) -> None:
        seen = ", ".join(f"{p!r}×{n}" for p, n in counts.most_common(5))
        self._error(
            "stream",
            f"The site's answer had lines with unknown codes ({seen}); "
            "its format may have changed.",
        )

    def tool_calls(
        self, rec: RequestRecord, calls: int, rejected: Counter[str], names: list[str]
    ) -> None:
        if not rejected:
            return
        why = ", ".join(f"{reason}×{n}" for reason, n in rejected.most_common())
        tools = f"; tools named: {', '.join(repr(n) for n in names)}" if names else ""
        self._error(
            "tool_call",
            f"The model wrote <tool_call> blocks that were not valid calls ({why}{tools}); "
            "they were sent to the client as text.",
            code="tool_call_rejected",
            model=_model(rec),
        )

    # -- background ------------------------------------------------------------------------

    async def run(self) -> None:
        """Send progress ticks and config changes to pages until cancelled."""
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                self.tick()
            except Exception:  # a bug here must not stop the monitor for good
                log.exception("monitor tick failed")

    def tick(self) -> None:
        """One beat of ``run()``: config status if it changed, progress if anything runs."""
        self._prune()
        if not self.subscribers:
            return
        self._check_config()
        if self.in_flight:
            self.broadcast(
                {
                    "type": "tick",
                    "server_time": time.time(),
                    "queue_depth": self.pool.queue_depth,
                    "in_flight": [
                        {
                            "key": k,
                            "elapsed": _round(r.duration),
                            "chars": r.chars,
                            "worker": r.worker_id,
                            "ttft": _round(r.ttft),
                        }
                        for k, r in self.in_flight.values()
                    ],
                }
            )

    def _check_config(self) -> None:
        # Rejected edits notify no config listener, so the status is compared instead.
        store = self.config_store
        sig = (store.generation, tuple(str(p) for p in store.problems))
        if sig != self._config_sig:
            self._config_sig = sig
            self.broadcast({"type": "config", "config": self.config_status()})

    def _prune(self) -> None:
        """Forget requests far past every deadline: a finish hook that never came (a bug)."""
        if not self.in_flight:
            return
        limit = self.config_store.current.settings.total_timeout_seconds + STALE_GRACE_SECONDS
        for ident, (_, rec) in list(self.in_flight.items()):
            if rec.duration > limit:
                log.warning("request %s never reported its end; dropped from the monitor",
                            rec.request_id)
                del self.in_flight[ident]

    def close(self) -> None:
        """Stop every subscriber's sender (on app shutdown)."""
        for sub in list(self.subscribers):
            self.subscribers.discard(sub)
            sub.stop(close_socket=False)
