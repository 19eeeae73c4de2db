"""A request's job from dispatch to the end: failover, deadlines, human checks.

``JobRun`` drives one request's ``Job`` (relay/tab_job.py) through the ``Dispatcher``
(relay/dispatch.py): it starts attempts, reads the chunks, and decides what a failure
means for the request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

from lmarena_bridge.config.model import Settings
from lmarena_bridge.errors import BridgeError, SiteError, Timeout, WorkerDisconnected
from lmarena_bridge.relay.dispatch import job_modality
from lmarena_bridge.relay.human import (
    HUMAN_SOLVED,
    PAGE_CHECK_REASONS,
    PERSON_CODES,
    HumanCheck,
    HumanChecks,
    name_tab,
)
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.relay.tab_job import DONE, KEEPALIVE, LOST, Job

if TYPE_CHECKING:
    from lmarena_bridge.relay.dispatch import Dispatcher

log = logging.getLogger(__name__)

MAX_COOLED_MOVES = 3  # a request meets at most this many accounts' refusals before it ends


class JobRun:
    """A request's job from dispatch to the end, with failover and deadlines.

    ``batches()`` yields lists of raw body chunks (``str``) or ``KEEPALIVE`` (after
    ``keepalive`` seconds with nothing to yield); it raises a ``BridgeError`` on a site
    error, a timeout, or a worker lost after data was streamed. A worker lost before any
    data arrived is replaced (up to ``max_attempts``).

    Human checks (relay/human.py): before any data a job whose tab needs a person moves to
    a tab with a free slot; otherwise a reCAPTCHA job waits for the person up to
    ``human_timeout`` seconds, during which the first-byte, idle and total timers stand
    still (503 ``human_check_timeout`` naming the tab when nobody comes).
    """

    def __init__(
        self,
        relay: Dispatcher,
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
        human_timeout: float = 90.0,
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
        self.human = HumanChecks(relay.observer, rec, human_timeout)

    @classmethod
    def for_settings(
        cls,
        relay: Dispatcher,
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
            human_timeout=s.human_check_timeout_seconds,
        )

    async def start(self) -> None:
        self.sent = self.payload()
        self.job = await self.relay.dispatch(
            self.sent, self.rec, eager=self.eager, requires=self.requires
        )
        self.job.idle = self.idle_timeout
        self.dispatched = time.monotonic()

    def _silence_deadline(self, job: Job) -> tuple[float, str]:
        if self.human.wait is not None:
            return self.human.wait.deadline, "for a person"
        if job.received:
            return job.last_data + self.idle_timeout, "between two chunks"
        return self.dispatched + self.first_byte_timeout, "for the first chunk"

    async def batches(self) -> AsyncGenerator[Any, None]:
        attempts = 1
        cooled = 0
        job = self.job
        assert job is not None, "start() first"
        last_out = time.monotonic()
        while True:
            now = time.monotonic()
            silence_deadline, _ = self._silence_deadline(job)
            # The total limit stands still while a person is awaited (and moves on by the
            # wait once it ends).
            waiting = self.human.waiting
            wake = min(last_out + self.keepalive, silence_deadline,
                       silence_deadline if waiting else self.deadline)
            items = await job.take(max(wake - now, 0.0))
            if not items:
                now = time.monotonic()
                if not waiting and now >= self.deadline - 1e-3:
                    raise Timeout(
                        "The answer took longer than the total limit (total_timeout_seconds)."
                    )
                silence_deadline, what = self._silence_deadline(job)
                if now >= silence_deadline - 1e-3:
                    if self.human.waiting:
                        raise self._for_person(self.human.timed_out(job.worker))
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
                elif isinstance(item, HumanCheck):
                    if await self._move(job, item.reason, abort=True):
                        job = self.job
                        assert job is not None
                        chunks = []
                        break
                    if not self.human.waiting:
                        log.info("request %s waits for a person in tab %s (%s)",
                                 self.rec.request_id, job.worker.id, item.reason)
                        self.human.begin(item.reason)
                elif item is HUMAN_SOLVED:
                    if self.human.waiting:
                        # The resend is a new fetch: its first byte is awaited afresh.
                        self.deadline += self.human.end("solved")
                        self.dispatched = time.monotonic()
                elif isinstance(item, BridgeError):
                    if chunks:
                        yield chunks
                    if self.human.waiting:
                        self.human.end(self.human.outcome_of(item))
                    reason = PAGE_CHECK_REASONS.get(item.code or "")
                    if reason is not None and await self._move(job, reason, abort=False):
                        job = self.job
                        assert job is not None
                        chunks = []
                        break
                    if not job.received and cooled < MAX_COOLED_MOVES and self._cooling(job):
                        # The site refused this account's limits before any answer: the pool
                        # now routes around it (another account, or a wait within the queue
                        # timeout).
                        cooled += 1
                        if isinstance(item, SiteError):  # the site refused all the same
                            self.relay.observer.site_error(item.kind, self.rec.model)
                        log.info("tab %s's account cools down (%s); sending request %s again",
                                 job.worker.id, item.code, self.rec.request_id)
                        self.relay.finish(job, abort=False)
                        job = await self._again()
                        chunks = []
                        break
                    if not job.received and self._falls_back(item):
                        log.info("the site refused a follow-up (%s); sending it whole", item.code)
                        assert self.fallback is not None
                        self.payload, self.fallback = self.fallback, None
                        self.relay.finish(job, abort=False)
                        job = await self._again()
                        chunks = []
                        break
                    self.done = True
                    raise self._for_person(name_tab(item, job.worker, self.human.timeout))
                elif item is LOST:
                    if chunks:
                        yield chunks
                    self.human.end("abandoned")
                    if not job.received and attempts < self.max_attempts:
                        attempts += 1
                        log.info("worker lost before any data; retrying on another tab")
                        job = await self._again()
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

    async def _again(self) -> Job:
        """Dispatch the request once more (the current payload factory: fresh site ids)."""
        await self.start()
        assert self.job is not None
        return self.job

    async def _move(self, job: Job, reason: str, *, abort: bool) -> bool:
        """Send the request to another tab when its tab needs a person, if that is safe now:
        nothing of the answer arrived, and a usable tab has a free slot (no queueing)."""
        if job.received or not self.human.may_move():
            return False
        if not self.relay.pool.can_take_now(self.requires):
            return False
        log.info("tab %s needs a person (%s); moving request %s to another tab",
                 job.worker.id, reason, self.rec.request_id)
        self.human.moved(reason)
        # Dispatch first: the tab left behind is not usable yet, so it is not picked again.
        await self.start()
        self.relay.finish(job, abort=abort)  # the tab drops the job (and its overlay)
        return True

    def _for_person(self, error: BridgeError) -> BridgeError:
        """``error``, and when it asks a person to act in a browser nobody can see, how."""
        hint = self.relay.pool.person_hint()
        if hint and error.code in PERSON_CODES:
            error.message = f"{error.message} {hint}"
        return error

    def _cooling(self, job: Job) -> bool:
        """The job's account now rests for what the job asked (the site refused it for its
        limits), and another account can take it now or within the queue timeout."""
        now = time.time()
        modality = job_modality(self.sent)
        return job.worker.account.blocked_until(modality, now) > now and (
            self.relay.pool.may_serve_soon(self.requires, modality)
        )

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
        # A wait still open here ends unsolved: the client left, or a timer ran out.
        self.human.end("abandoned")
        if self.job is not None:
            self.relay.finish(self.job, abort=not self.done)
