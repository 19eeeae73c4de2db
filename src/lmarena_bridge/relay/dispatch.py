"""Jobs on tabs (``Dispatcher``): dispatch, the frames tabs send back, cancel, draining
tabs. The chunks of one job are a ``Job`` (relay/tab_job.py); a request's attempts are a
``JobRun`` (relay/job_run.py: timeouts, failover, human checks).

The per-chunk path (``Dispatcher.on_frame`` -> ``Job.push`` -> ``JobRun.batches``) is hot: no
logging, no per-chunk allocation beyond the chunk itself, and chunks that queue up while
the client is slower than the worker are handed over together.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import BaseModel, ValidationError

from lmarena_bridge.errors import SiteError
from lmarena_bridge.protocol.worker import (
    JOB_EVENTS,
    AbortFrame,
    Command,
    CommandFrame,
    ErrorFrame,
    NeedsHumanFrame,
    ResultFrame,
    SiteClockReport,
    SiteHeadersFrame,
    StatusReport,
    TabState,
    parse_control,
)
from lmarena_bridge.relay.human import HUMAN_SOLVED, HumanCheck
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.relay.tab import Worker
from lmarena_bridge.relay.tab_job import DONE, LOST, Job
from lmarena_bridge.site.evaluation import on_site_clock
from lmarena_bridge.site.failures import classify_failure, clock_skew_error
from lmarena_bridge.site.legacy.seed_errors import classify_seed_error
from lmarena_bridge.site.ratelimit import http_date

log = logging.getLogger(__name__)

ControlListener = Callable[[Worker, BaseModel], None]


class Dispatcher:
    """Routes frames between workers and jobs; owns the job table."""

    def __init__(self, pool: WorkerPool, observer: RelayObserver) -> None:
        self.pool = pool
        self.observer = observer
        self.jobs: dict[str, Job] = {}
        self.modalities: dict[str, str] = {}  # request id -> modality of a site request
        # Whether jobs use captured ids (the retry strategy): the bridge sets it, and site
        # errors about the session then advise capturing new ones.
        self.captured_ids: Callable[[], bool] = lambda: False
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
        modality: str | None = None,
    ) -> Job:
        """Acquire a worker with capability ``requires`` (may wait in the queue), send the job.

        ``modality`` (text, image, …) routes around accounts that cool down or are paced
        (relay/accounts.py); by default it is read from a site request payload, and None
        for jobs that are no site request (uploads, models)."""
        t0 = time.monotonic()
        modality = modality or job_modality(payload)
        # A request that already used a tab (its uploads) keeps to it while it has room.
        prefer = self.pool.workers.get(rec.prefer_worker) if rec.prefer_worker else None
        if prefer is None or not self.pool.take(prefer, requires, modality):
            worker = await self.pool.acquire(requires, modality)
        else:
            worker = prefer
        rec.queue_wait += time.monotonic() - t0
        offset = self.pool.clock.offset
        if modality is not None and offset is not None and abs(offset) >= 1:
            # Ids on the site's clock (it refuses ids far from it); in place, so the
            # caller's copy of the payload names the same ids.
            on_site_clock(payload, int((time.time() + offset) * 1000))
        request_id = uuid.uuid4().hex
        job = Job(request_id, worker, rec, eager)
        worker.jobs[request_id] = job
        self.jobs[request_id] = job
        if modality is not None:
            self.modalities[request_id] = modality
        rec.worker_id = worker.id
        try:
            await worker.conn.send({"request_id": request_id, "payload": payload})
        except Exception:
            self._forget(job)
            job.push(LOST)
        self.observer.request_dispatched(rec)
        return job

    def _forget(self, job: Job) -> bool:
        if self.jobs.pop(job.request_id, None) is None:
            return False
        self.modalities.pop(job.request_id, None)
        job.worker.jobs.pop(job.request_id, None)
        if job.request_id in job.worker.human_jobs:
            self.pool.human_wait(job.worker, job.request_id, None)
        self.pool.release(job.worker)
        return True

    def finish(self, job: Job, *, abort: bool) -> None:
        """Free the job's slot at once; tell a protocol-2 worker to stop fetching."""
        if self._forget(job) and abort and not job.worker.closed and job.worker.protocol >= 2:
            self.send_later(job.worker, AbortFrame(request_id=job.request_id).model_dump())

    def command(self, worker: Worker, name: Command) -> None:
        """Send a seed-era command (refresh, reconnect, activate_id_capture, send_page_source)."""
        self.send_later(worker, CommandFrame(command=name).model_dump())

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` without waiting for it; the task is kept until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
            kind = frame.get("type")
            if kind is not None:
                self._job_event(job, kind, frame)
            elif "data" in frame:
                data = frame["data"]
                if data.__class__ is str:
                    if data == DONE:
                        job.push(DONE)
                    elif data:
                        job.push_data(data)
                elif isinstance(data, dict) and "error" in data:
                    self._job_failed(job, classify_seed_error(str(data["error"])))
            elif isinstance(frame.get("result"), dict):
                job.push(ResultFrame.model_validate(frame))  # a non-stream job's answer
            elif isinstance(frame.get("error"), dict):
                try:
                    err = ErrorFrame.model_validate(frame).error
                except ValidationError:
                    log.warning("worker %s sent a malformed error frame; ignored", worker.id)
                    return
                headers = {k.lower(): v for k, v in err.headers.items()}
                error = classify_failure(status=err.status, content_type=err.content_type,
                                         body=err.body or "", headers=headers,
                                         message=err.message, code=err.code,
                                         captured_ids=self.captured_ids())
                self._site_refused(job, err.status, headers, error)
                self._job_failed(job, error)
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
        if isinstance(msg, SiteClockReport):
            site_time = http_date(msg.date)
            if site_time is not None:
                self.pool.clock.observe(site_time, time.time())
        if isinstance(msg, StatusReport):
            if msg.page:
                worker.page = msg.page
            self.pool.set_state(worker, msg.tab_state, msg.detail)
        for listener in self.control_listeners:
            listener(worker, msg)

    def _job_event(self, job: Job, kind: Any, frame: dict[str, Any]) -> None:
        """A typed job frame: the job waits for a person in its tab, or no longer."""
        model = JOB_EVENTS.get(kind) if isinstance(kind, str) else None
        if model is None:
            log.warning("worker %s sent an unknown job frame type %.50r; ignored",
                        job.worker.id, kind)
            self.observer.bad_worker_frame(job.worker)
            return
        try:
            msg = model.model_validate(frame)
        except ValidationError as exc:
            log.warning("worker %s sent a bad %r frame: %s", job.worker.id, kind, exc)
            return
        if isinstance(msg, SiteHeadersFrame):
            modality = self.modalities.get(job.request_id)
            if modality is not None:
                self.pool.site_answer(job.worker, modality, msg.status,
                                      {k.lower(): v for k, v in msg.headers.items()},
                                      refused=False)
        elif isinstance(msg, NeedsHumanFrame):
            # At once, so that no new job goes to this tab while the check is shown.
            self.pool.human_wait(job.worker, job.request_id, msg.reason)
            job.push(HumanCheck(msg.reason, msg.detail))
        else:
            self.pool.human_wait(job.worker, job.request_id, None)
            job.push(HUMAN_SOLVED)

    def _site_refused(self, job: Job, status: int | None, headers: dict[str, str],
                      error: SiteError) -> None:
        """What a refusal says about the account's limits and the site's clock."""
        modality = self.modalities.get(job.request_id)
        if status is not None and modality is not None:
            # A 429 "prompt failed" is about the prompt, not the account.
            self.pool.site_answer(job.worker, modality, status, headers,
                                  refused=error.kind != "too_large")
        if error.code == "clock_skew":
            skew = clock_skew_error(self.pool.clock.offset)
            error.message = skew.message
            error.args = (skew.message,)

    def _job_failed(self, job: Job, error: SiteError) -> None:
        if error.code == "cloudflare_challenge":
            self.challenge_seen(job.worker, error.message)
        elif error.kind == "logged_out" or error.kind == "wrong_origin":
            self.drain(job.worker, "logged_out" if error.kind == "logged_out" else "wrong_origin",
                       error.message)
        job.push(error)

    def drain(self, worker: Worker, state: TabState, detail: str) -> None:
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
        for request_id in list(worker.jobs):
            job = self.jobs.get(request_id)
            if job is not None:
                self._forget(job)
                job.push(LOST)


def job_modality(payload: dict[str, Any]) -> str | None:
    """The modality of a site request payload (text, image, …); None for other jobs."""
    kind = payload.get("type")
    if kind == "site_request":
        body = payload.get("body")
        modality = body.get("modality") if isinstance(body, dict) else None
        return "text" if modality in (None, "chat") else str(modality)
    if kind is None and "message_templates" in payload:  # the legacy retry payload
        return "image" if payload.get("is_image_request") else "text"
    return None
