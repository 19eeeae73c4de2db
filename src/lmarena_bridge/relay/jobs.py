"""One job's life on a worker: dispatch, raw chunks in, timeouts, cancel, failover.

The per-chunk path (``Relay.on_frame`` -> ``Job.push`` -> ``JobRun.batches``) is hot: no
logging, no per-chunk allocation beyond the chunk itself, and chunks that queue up while
the client is slower than the worker are handed over together.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from lmarena_bridge.config.model import Settings
from lmarena_bridge.errors import BridgeError, SiteError, Timeout, WorkerDisconnected
from lmarena_bridge.protocol.worker import (
    AbortFrame,
    Command,
    CommandFrame,
    ErrorFrame,
    StatusReport,
    parse_control,
)
from lmarena_bridge.relay.observer import RelayObserver, RequestRecord
from lmarena_bridge.relay.pool import Worker, WorkerPool
from lmarena_bridge.site.errors import classify_failure, classify_seed_error

log = logging.getLogger(__name__)

DONE = "[DONE]"
KEEPALIVE = object()  # yielded by JobRun.batches after a silence of keepalive seconds


class _Lost:
    """Terminal item: the worker went away."""


_LOST = _Lost()


class Job:
    """Chunks of one request as they arrive from its worker.

    An ``eager`` job wakes its consumer for every chunk (streaming, stop sequences). A lazy
    one (a plain non-streaming answer) only for the end, an error or a lost worker: the
    chunks pile up and are parsed once, which saves a task switch per chunk.
    """

    __slots__ = (
        "_items",
        "_waiter",
        "eager",
        "first_data",
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
        self.received = False  # any body data seen (then failover is no longer safe)
        self.first_data = 0.0  # monotonic time of the first body data
        self.last_data = 0.0  # monotonic time of the last body data

    def push_data(self, data: str) -> None:
        now = time.monotonic()
        if not self.received:
            self.received = True
            self.first_data = now
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
                async with asyncio.timeout(timeout):
                    await waiter
            except TimeoutError:
                pass
            finally:
                self._waiter = None
        items, self._items = self._items, []
        return items


ControlListener = Callable[[Worker, BaseModel], None]


class Relay:
    """Routes frames between workers and jobs; owns the job table."""

    def __init__(self, pool: WorkerPool, observer: RelayObserver) -> None:
        self.pool = pool
        self.observer = observer
        self.jobs: dict[str, Job] = {}
        self.control_listeners: list[ControlListener] = []
        self._background: set[asyncio.Task[Any]] = set()

    # -- dispatch --------------------------------------------------------------------------

    async def dispatch(
        self,
        payload: dict[str, Any],
        rec: RequestRecord,
        *,
        eager: bool = True,
        requires: str | None = None,
    ) -> Job:
        """Acquire a worker with capability ``requires`` (may wait in the queue), send the job."""
        t0 = time.monotonic()
        worker = await self.pool.acquire(requires)
        rec.queue_wait += time.monotonic() - t0
        request_id = uuid.uuid4().hex
        job = Job(request_id, worker, rec, eager)
        worker.jobs[request_id] = job
        self.jobs[request_id] = job
        rec.worker_id = worker.id
        try:
            await worker.conn.send({"request_id": request_id, "payload": payload})
        except Exception:
            self._forget(job)
            job.push(_LOST)
        self.observer.request_dispatched(rec)
        return job

    def _forget(self, job: Job) -> bool:
        if self.jobs.pop(job.request_id, None) is None:
            return False
        job.worker.jobs.pop(job.request_id, None)
        self.pool.release(job.worker)
        return True

    def finish(self, job: Job, *, abort: bool) -> None:
        """Free the job's slot at once; tell a protocol-2 worker to stop fetching."""
        if self._forget(job) and abort and not job.worker.closed and job.worker.protocol >= 2:
            self.send_later(job.worker, AbortFrame(request_id=job.request_id).model_dump())

    def command(self, worker: Worker, name: Command) -> None:
        """Send a seed-era command (refresh, reconnect, activate_id_capture, send_page_source)."""
        self.send_later(worker, CommandFrame(command=name).model_dump())

    def send_later(self, worker: Worker, frame: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._send_quietly(worker, frame))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_quietly(self, worker: Worker, frame: dict[str, Any]) -> None:
        try:
            await worker.conn.send(frame)
        except Exception as exc:
            log.debug("could not send %s to worker %s: %s", frame, worker.id, exc)

    # -- frames from workers ---------------------------------------------------------------

    def on_frame(self, worker: Worker, frame: Any) -> None:
        """Handle one decoded frame. Malformed frames are logged and ignored."""
        if not isinstance(frame, dict):
            log.warning("worker %s sent a non-object frame; ignored", worker.id)
            return
        worker.last_seen = time.monotonic()
        request_id = frame.get("request_id")
        if request_id is not None:
            if request_id.__class__ is not str:
                # A broken tab must not take its other jobs down with it.
                log.warning("worker %s sent a frame whose request_id is not a string", worker.id)
                self.observer.bad_worker_frame(worker)
                return
            job = self.jobs.get(request_id)
            if job is None:
                return  # finished or unknown request: late frames are expected after abort
            if job.worker is not worker:
                log.warning("worker %s sent data for another worker's job; ignored", worker.id)
                return
            if "data" in frame:
                data = frame["data"]
                if data.__class__ is str:
                    if data == DONE:
                        job.push(DONE)
                    elif data:
                        job.push_data(data)
                elif isinstance(data, dict) and "error" in data:
                    self._job_failed(job, classify_seed_error(str(data["error"])))
            elif isinstance(frame.get("error"), dict):
                try:
                    err = ErrorFrame.model_validate(frame).error
                except ValidationError:
                    log.warning("worker %s sent a malformed error frame; ignored", worker.id)
                    return
                self._job_failed(
                    job,
                    classify_failure(
                        status=err.status,
                        content_type=err.content_type,
                        body=err.body or "",
                        headers={k.lower(): v for k, v in err.headers.items()},
                        message=err.message,
                        code=err.code,
                    ),
                )
            return
        try:
            msg = parse_control(frame)
        except ValidationError as exc:
            log.warning("worker %s sent a bad %r frame: %s", worker.id, frame.get("type"), exc)
            return
        if msg is None:
            log.warning("worker %s sent an unknown frame %.200r; ignored", worker.id, frame)
            self.observer.bad_worker_frame(worker)
            return
        if isinstance(msg, StatusReport):
            self.pool.set_state(worker, msg.state, msg.detail)
            if msg.page:
                worker.page = msg.page
        for listener in self.control_listeners:
            listener(worker, msg)

    def _job_failed(self, job: Job, error: SiteError) -> None:
        if error.code == "cloudflare_challenge":
            self.challenge_seen(job.worker, error.message)
        elif error.kind in ("logged_out", "wrong_origin"):
            self.drain(job.worker, error.kind, error.message)
        job.push(error)

    def drain(self, worker: Worker, state: str, detail: str) -> None:
        """Take a tab out of routing until it reports ``ready`` again, reloading it once."""
        self.pool.set_state(worker, state, detail[:200])
        if not worker.refresh_sent and not worker.closed:
            worker.refresh_sent = True
            self.command(worker, "refresh")

    def challenge_seen(self, worker: Worker, detail: str) -> None:
        """Drain a challenged tab from routing and reload it once so the user can solve it."""
        self.drain(worker, "challenge", detail)

    def on_worker_gone(self, worker: Worker) -> None:
        self.pool.remove(worker)
        for job in list(worker.jobs.values()):
            self._forget(job)
            job.push(_LOST)


class JobRun:
    """A request's job from dispatch to the end, with failover and deadlines.

    ``batches()`` yields lists of raw body chunks (``str``) or ``KEEPALIVE`` (after
    ``keepalive`` seconds with nothing to yield); it raises a ``BridgeError`` on a site
    error, a timeout, or a worker lost after data was streamed. A worker lost before any
    data arrived is replaced (up to ``max_attempts``).
    """

    def __init__(
        self,
        relay: Relay,
        payload: Callable[[], dict[str, Any]],
        rec: RequestRecord,
        *,
        requires: str | None = None,
        fallback: Callable[[], dict[str, Any]] | None = None,
        first_byte_timeout: float,
        idle_timeout: float,
        total_timeout: float,
        keepalive: float,
        eager: bool = True,
        max_attempts: int = 2,
    ) -> None:
        self.relay = relay
        self.payload = payload  # called once per attempt: create jobs need fresh site ids
        self.requires = requires
        self.fallback = fallback  # payload to use once if the site refuses the first one
        self.sent: dict[str, Any] = {}  # the payload of the current attempt
        self.rec = rec
        self.first_byte_timeout = first_byte_timeout
        self.idle_timeout = idle_timeout
        self.deadline = rec.started_mono + total_timeout
        self.keepalive = keepalive
        self.eager = eager
        self.max_attempts = max_attempts
        self.job: Job | None = None
        self.dispatched = 0.0
        self.done = False

    @classmethod
    def for_settings(
        cls,
        relay: Relay,
        payload: Callable[[], dict[str, Any]],
        rec: RequestRecord,
        s: Settings,
        eager: bool,
        requires: str | None = None,
        fallback: Callable[[], dict[str, Any]] | None = None,
    ) -> JobRun:
        return cls(
            relay,
            payload,
            rec,
            requires=requires,
            fallback=fallback,
            first_byte_timeout=s.first_byte_timeout_seconds,
            idle_timeout=s.stream_response_timeout_seconds,
            total_timeout=s.total_timeout_seconds,
            keepalive=s.keepalive_interval_seconds,
            eager=eager,
        )

    async def start(self) -> None:
        self.sent = self.payload()
        self.job = await self.relay.dispatch(
            self.sent, self.rec, eager=self.eager, requires=self.requires
        )
        self.dispatched = time.monotonic()

    def _silence_deadline(self, job: Job) -> tuple[float, str]:
        if job.received:
            return job.last_data + self.idle_timeout, "between two chunks"
        return self.dispatched + self.first_byte_timeout, "for the first chunk"

    async def batches(self) -> AsyncGenerator[Any, None]:
        attempts = 1
        job = self.job
        assert job is not None, "start() first"
        last_out = time.monotonic()
        while True:
            now = time.monotonic()
            silence_deadline, _ = self._silence_deadline(job)
            wake = min(last_out + self.keepalive, silence_deadline, self.deadline)
            items = await job.take(max(wake - now, 0.0))
            if not items:
                now = time.monotonic()
                if now >= self.deadline - 1e-3:
                    raise Timeout(
                        "The answer took longer than the total limit (total_timeout_seconds)."
                    )
                silence_deadline, what = self._silence_deadline(job)
                if now >= silence_deadline - 1e-3:
                    limit = self.idle_timeout if job.received else self.first_byte_timeout
                    raise Timeout(f"No data from the browser tab {what} for {limit:g} seconds.")
                if now >= last_out + self.keepalive - 1e-3:
                    last_out = now
                    yield KEEPALIVE
                continue
            chunks: list[str] = []
            for item in items:
                if item.__class__ is str:
                    if item is DONE:
                        self.done = True
                        break
                    chunks.append(item)
                elif isinstance(item, BridgeError):
                    if chunks:
                        yield chunks
                    if not job.received and self._falls_back(item):
                        log.info("the site refused a follow-up (%s); sending it whole", item.code)
                        assert self.fallback is not None
                        self.payload, self.fallback = self.fallback, None
                        self.relay.finish(job, abort=False)
                        await self.start()
                        job = self.job
                        assert job is not None
                        chunks = []
                        break
                    self.done = True
                    raise item
                elif item is _LOST:
                    if chunks:
                        yield chunks
                    if not job.received and attempts < self.max_attempts:
                        attempts += 1
                        log.info("worker lost before any data; retrying on another tab")
                        await self.start()
                        job = self.job
                        assert job is not None
                        chunks = []
                        break
                    self.done = True
                    raise WorkerDisconnected(
                        "The browser tab disconnected (reloaded or closed) while answering."
                    )
            if chunks:
                yield chunks
                last_out = time.monotonic()
            if self.done:
                return

    def _falls_back(self, error: BridgeError) -> bool:
        """A 4xx refusal of the request itself (not of the tab, its login or its quota)."""
        status = getattr(error, "site_status", None)
        return (
            self.fallback is not None
            and status is not None
            and 400 <= status < 500
            and status not in (401, 403, 429)
        )

    def close(self) -> None:
        """Release the slot; abort the worker's fetch unless the body already ended."""
        if self.job is not None:
            self.relay.finish(self.job, abort=not self.done)
