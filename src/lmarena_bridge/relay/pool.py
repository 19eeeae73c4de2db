"""Connected workers (browser tabs), their states, least-busy routing and the wait queue.

Routing also respects the tabs' accounts (relay/accounts.py): no job goes to an account that
cools down (for a ``quota``, only jobs of that modality are held), nor sooner than its
pacing allows. A request that only such accounts could serve waits when the earliest of them
comes back within the queue timeout, and otherwise gets a 429 ``rate_limit_exceeded`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from lmarena_bridge.errors import BridgeError, NoWorkerAvailable
from lmarena_bridge.protocol.worker import HumanReason, TabState
from lmarena_bridge.relay.accounts import (
    Accounts,
    Cooldown,
    Pacing,
    SiteClock,
    next_event,
    rate_limit_error,
)
from lmarena_bridge.relay.health import need_sentence, open_site_hint
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.tab import Worker, WorkerConnection
from lmarena_bridge.site.ratelimit import parse_rate_headers

log = logging.getLogger(__name__)

# A tab says hello right after connecting; until then (or for ever, protocol 1) its
# capabilities are unknown.
_HELLO_GRACE = 2.0
# A tab that needed a person and reconnects (the bridge's refresh, a Cloudflare page that
# reloads itself) within this long is the same need, not a new one.
_NEED_MEMORY_SECONDS = 600.0
_NEED_MEMORY_MAX = 64

# A waiter: its future, the capability and the modality (None: no site request) it needs.
_Waiter = tuple[asyncio.Future[Worker], str | None, str | None]


class WorkerPool:
    """Workers keyed by id; ``acquire`` hands out the least-busy ready worker with a free slot.

    When none is free, callers wait FIFO in a bounded queue: ``queue_timeout`` while some
    worker is connected, ``no_worker_timeout`` while none is (a tab reloading comes back in
    a few seconds). Both end in ``NoWorkerAvailable`` (503 with Retry-After).
    """

    def __init__(
        self,
        *,
        observer: RelayObserver,
        limit: Callable[[], int],
        queue_max: Callable[[], int],
        queue_timeout: Callable[[], float],
        no_worker_timeout: Callable[[], float],
        pacing: Callable[[], Pacing] = Pacing,
        hint: Callable[[], str] = open_site_hint,
    ) -> None:
        self.workers: dict[str, Worker] = {}
        self._observer = observer
        self._limit = limit
        self._queue_max = queue_max
        self._queue_timeout = queue_timeout
        self._no_worker_timeout = no_worker_timeout
        self._pacing = pacing
        self.hint = hint  # what to do when no tab is connected
        # What to add when a tab needs a person nobody can reach (a headless browser).
        self.person_hint: Callable[[], str] = str
        self.accounts = Accounts()
        self.clock = SiteClock()
        self._waiters: deque[_Waiter] = deque()  # FIFO
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._ids = itertools.count(1)
        # tab id -> (reason, since, since_mono, left_mono) of tabs that left needing a person
        self._gone_needs: dict[str, tuple[str, float, float, float]] = {}

    # -- membership ------------------------------------------------------------------------

    def add(self, conn: WorkerConnection, **info: Any) -> Worker:
        worker = Worker(id=f"w{next(self._ids)}", conn=conn, limit=self._limit(), **info)
        self._assign_account(worker)
        self.workers[worker.id] = worker
        # Logged at INFO by the WebSocket route once its hello says what it runs.
        log.debug("worker %s connected", worker.id)
        self._observer.worker_connected(worker)
        self._wake()
        return worker

    def remove(self, worker: Worker) -> None:
        if self.workers.pop(worker.id, None) is None:
            return
        worker.closed = True
        if worker.tab and worker.human_seen is not None and worker.needs_human_since:
            if len(self._gone_needs) >= _NEED_MEMORY_MAX:
                self._gone_needs.pop(next(iter(self._gone_needs)))
            self._gone_needs[worker.tab] = (worker.human_seen, worker.needs_human_since,
                                            worker.human_since_mono, time.monotonic())
        log.info("worker %s disconnected", worker.id)
        self._observer.worker_disconnected(worker)

    def set_state(self, worker: Worker, state: TabState, detail: str = "") -> None:
        if worker.state == state and worker.state_detail == detail:
            if self._health_changed(worker):  # a need carried over a reload has ended
                self._observer.worker_changed(worker)
                self._wake()
            return
        worker.state, worker.state_detail = state, detail
        if state == "ready":
            worker.refresh_sent = False
        log.info("worker %s is %s %s", worker.id, state, detail)
        self._health_changed(worker)
        self._observer.worker_changed(worker)
        self._wake()

    def human_wait(self, worker: Worker, request_id: str, reason: HumanReason | None) -> None:
        """Job ``request_id`` of ``worker`` waits for a person (``reason``), or no longer
        (None). While any job of a tab waits, the tab gets no new jobs."""
        if worker.human_jobs.get(request_id) == reason:
            return
        if reason is None:
            del worker.human_jobs[request_id]
        else:
            worker.human_jobs[request_id] = reason
        if worker.closed:
            return  # a tab that left: observers were told already
        self._health_changed(worker)
        self._observer.worker_changed(worker)
        self._wake()

    def _resume_need(self, worker: Worker) -> None:
        """A reloaded tab that left needing a person: the same need (its first status report
        says whether it still stands), so it is counted and timed once."""
        now = time.monotonic()
        for tab, gone in list(self._gone_needs.items()):
            if now - gone[3] > _NEED_MEMORY_SECONDS:
                del self._gone_needs[tab]
        left = self._gone_needs.pop(worker.tab, None)
        if left is not None and worker.human_seen is None:
            worker.human_seen, worker.needs_human_since, worker.human_since_mono = left[:3]

    def _health_changed(self, worker: Worker) -> bool:
        """Tell observers when a tab starts needing a person, or is usable again; True if so."""
        reason = worker.human_reason
        if reason == worker.human_seen or worker.closed:
            return False
        before, worker.human_seen = worker.human_seen, reason
        now = time.monotonic()
        if reason is None:
            assert before is not None
            self._observer.tab_usable_again(worker, before, now - worker.human_since_mono)
            worker.needs_human_since = None
            log.info("worker %s is usable again", worker.id)
            return True
        if before is None:  # a reason that changes is still the same wait for the person
            worker.needs_human_since, worker.human_since_mono = time.time(), now
        log.warning("%s", need_sentence(worker))
        self._observer.tab_needs_human(worker, reason)
        return True

    def update_info(self, worker: Worker, **info: Any) -> None:
        for key, value in info.items():
            setattr(worker, key, value)
        self._assign_account(worker)
        if worker.tab:
            self._resume_need(worker)
        self._observer.worker_changed(worker)
        self._wake()  # new capabilities may serve a waiting job

    def set_limit(self, limit: int) -> None:
        """A new per-tab concurrency limit, for connected tabs too (waiters may now fit)."""
        for worker in self.workers.values():
            worker.limit = limit
        self._wake()

    @property
    def ready_count(self) -> int:
        """Usable tabs whose account is not cooling down."""
        now = time.time()
        return sum(1 for w in self.workers.values() if w.routable and w.cooldown(now) is None)

    @property
    def cooling(self) -> list[Worker]:
        """Usable tabs whose account cools down (relay/accounts.py)."""
        now = time.time()
        return [w for w in self.workers.values()
                if not w.closed and w.human_reason is None and w.cooldown(now) is not None]

    @property
    def needing_human(self) -> list[Worker]:
        return [w for w in self.workers.values() if w.human_reason is not None]

    def can_take_now(self, requires: str | None = None, modality: str | None = None) -> bool:
        """A usable tab (with capability ``requires``) has a free slot right now, and no
        request waits in the queue before a new one."""
        return not self._waiters and self._pick(requires, modality) is not None

    @property
    def queue_depth(self) -> int:
        return len(self._waiters)

    # -- routing ---------------------------------------------------------------------------

    def _pick(self, requires: str | None = None, modality: str | None = None) -> Worker | None:
        best: Worker | None = None
        now = time.time()
        pacing = self._pacing()
        for w in self.workers.values():
            if (
                w.routable
                and w.reserved < w.limit
                and (best is None or w.reserved < best.reserved)
                and w.can(requires)
                and w.account.ready_at(modality, pacing, now) <= now
            ):
                best = w
        return best

    def _reserve(self, worker: Worker, modality: str | None) -> Worker:
        worker.reserved += 1
        if modality is not None:  # a site request: it counts for the account's pacing
            worker.account.record_send(time.time())
        return worker

    def take(self, worker: Worker, requires: str | None = None,
             modality: str | None = None) -> bool:
        """Reserve a slot on ``worker`` if it is ready, can do ``requires``, has room, its
        account may send now and nobody is queued (they come first); False otherwise."""
        if self._waiters or self.workers.get(worker.id) is not worker:
            return False
        if not (worker.routable and worker.reserved < worker.limit and worker.can(requires)):
            return False
        now = time.time()
        if worker.account.ready_at(modality, self._pacing(), now) > now:
            return False
        self._reserve(worker, modality)
        return True

    async def acquire(self, requires: str | None = None, modality: str | None = None) -> Worker:
        """A worker with a free slot (and capability ``requires``) whose account may send a
        request of ``modality`` now (None: no site request); may wait in the queue.

        Raises NoWorkerAvailable when the queue is full or the wait times out, and a 429
        ``rate_limit_exceeded`` when only cooling (or paced) accounts could serve it later
        than the queue timeout.
        """
        worker = self._pick(requires, modality) if not self._waiters else None
        if worker is not None:
            return self._reserve(worker, modality)
        if self._none_can(requires):
            raise self._unavailable(requires)  # waiting would not help: no tab can do it
        connected = bool(self.workers)
        timeout = self._queue_timeout() if connected else self._no_worker_timeout()
        held = self._held_until(requires, modality)
        if held is not None and held - time.time() > timeout:
            raise self._rate_limited(requires, modality, held)
        if len(self._waiters) >= self._queue_max():
            raise NoWorkerAvailable(
                "All browser tabs are busy and the wait queue is full; try again shortly, or "
                "open another arena.ai tab.", code="queue_full", retry_after=5)
        fut: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        entry = (fut, requires, modality)
        self._waiters.append(entry)
        self._observer.queue_changed(len(self._waiters))
        self._arm()
        paced = modality is not None and self._paced(requires)
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                got = await fut
            if paced:
                self._observer.pacing_waited(time.monotonic() - t0)
            return got
        except BaseException as exc:
            # A worker may have been handed over just as we timed out or were cancelled.
            handed = fut.result() if fut.done() and not fut.cancelled() else None
            fut.cancel()
            if isinstance(exc, TimeoutError):
                if handed is not None:
                    return handed
                held = self._held_until(requires, modality)
                if held is not None:
                    raise self._rate_limited(requires, modality, held) from None
                raise self._unavailable(requires) from None
            if handed is not None:
                self.release(handed)
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)
            self._observer.queue_changed(len(self._waiters))

    def _candidates(self, requires: str | None) -> list[Worker]:
        return [w for w in self.workers.values() if w.routable and w.can(requires)]

    def _held_until(self, requires: str | None, modality: str | None) -> float | None:
        """When the first usable tab's account may take the job, if every usable tab that
        could is held by its account (cooldown or pacing); None otherwise."""
        now = time.time()
        pacing = self._pacing()
        candidates = self._candidates(requires)
        if not candidates:
            return None
        times = [w.account.ready_at(modality, pacing, now) for w in candidates]
        return min(times) if all(t > now for t in times) else None

    def may_serve_soon(self, requires: str | None, modality: str | None) -> bool:
        """No account rest keeps such a job from a tab beyond the queue timeout (so sending
        it again is worth it; otherwise the site's own refusal says more)."""
        held = self._held_until(requires, modality)
        return held is None or held - time.time() <= self._queue_timeout()

    def _paced(self, requires: str | None) -> bool:
        """Some tab that could take the job is held by its account's pacing."""
        now, pacing = time.time(), self._pacing()
        return any(w.account.next_send_at(pacing, now) > now for w in self._candidates(requires))

    def _rate_limited(self, requires: str | None, modality: str | None,
                      held: float) -> BridgeError:
        accounts = {w.account.key: w.account for w in self._candidates(requires)}
        return rate_limit_error(accounts.values(), modality, self._pacing(), time.time(), held)

    def _none_can(self, requires: str | None) -> bool:
        """Tabs are connected, all have said what they can (or never will), none can this."""
        now = time.time()
        return bool(self.workers) and all(
            not w.can(requires) and (w.protocol >= 2 or now - w.connected_at > _HELLO_GRACE)
            for w in self.workers.values()
        )

    def _unavailable(self, requires: str | None = None) -> NoWorkerAvailable:
        if self.workers and not any(w.can(requires) for w in self.workers.values()):
            return NoWorkerAvailable(
                "The connected browser tabs run an old userscript that cannot send today's "
                "site requests. Install the current one from /userscript.user.js on the "
                "bridge, then reload the arena.ai tab.", code="userscript_outdated", retry_after=10)
        if not self.workers:
            # Short: with the SDKs' two retries a client without a tab hears in ~10 s.
            return NoWorkerAvailable(
                f"No browser tab is connected to the bridge. {self.hint()}", retry_after=2
            )
        if not any(w.routable for w in self.workers.values()):
            states = ", ".join(sorted({w.human_reason or w.state for w in self.workers.values()}))
            needs = " ".join(need_sentence(w) for w in self.needing_human)
            return NoWorkerAvailable(
                f"No browser tab is ready (tabs are: {states}). "
                + (needs or "Check the site tab: complete the Cloudflare check or log in.")
                + " Then try again."
                + (f" {hint}" if (hint := self.person_hint()) else ""),
                code="no_tab_ready",
                retry_after=10,
            )
        return NoWorkerAvailable(
            "All browser tabs are busy; the request waited too long for a free one. Open "
            "another site tab or try again shortly.", code="queue_timeout", retry_after=5)

    def release(self, worker: Worker) -> None:
        worker.reserved = max(0, worker.reserved - 1)
        self._wake()

    def _wake(self) -> None:
        # In order; a waiter no free tab can serve (capability) does not block the ones after.
        for entry in list(self._waiters):
            fut, requires, modality = entry
            if fut.done():
                continue
            worker = self._pick(requires, modality)
            if worker is None:
                continue
            self._waiters.remove(entry)
            fut.set_result(self._reserve(worker, modality))
        self._arm()

    # -- accounts ----------------------------------------------------------------------------

    def _assign_account(self, worker: Worker) -> None:
        key = Accounts.key_for(worker.account_key, worker.tab, worker.id)
        if worker.account.key != key:
            worker.account = self.accounts.get(key, time.time())

    def site_answer(self, worker: Worker, modality: str, status: int | None,
                    headers: Mapping[str, str], *, refused: bool) -> Cooldown | None:
        """The site answered a request of ``worker`` (``refused``: with an error that is about
        the account's limits): keep its clock, the account's budget and any cooldown."""
        now = time.time()
        info = parse_rate_headers(headers, now)
        if info.site_time is not None:
            self.clock.observe(info.site_time, now)
        acc = worker.account
        cooldown = (acc.refused(modality, status, info, now) if refused
                    else acc.observe(modality, info, now))
        if cooldown is not None:
            log.warning("account %s of worker %s cools down until %s (%s%s)", acc.key[:12],
                        worker.id, time.strftime("%H:%M:%S", time.localtime(cooldown.until)),
                        cooldown.reason, f", {cooldown.modality}" if cooldown.modality else "")
            self._observer.account_cooldown(acc.key, cooldown)
        self._cooling_changed()
        self._observer.accounts_changed()
        return cooldown

    def clear_accounts(self) -> None:
        """Forget every cooldown, budget and pacing record (tests; the monitor's reset)."""
        self.accounts.clear()
        self._cooling_changed()
        self._observer.accounts_changed()
        self._wake()

    def _cooling_changed(self) -> None:
        """Tell observers about tabs whose cooldown began, changed or ended."""
        now = time.time()
        for w in list(self.workers.values()):
            current = w.cooldown(now)
            if current != w.cooling_seen:
                w.cooling_seen = current
                if current is None:
                    log.info("worker %s: its account is usable again", w.id)
                self._observer.worker_changed(w)

    def _arm(self) -> None:
        """Wake up when the next cooldown ends (and, with waiters, when pacing allows)."""
        now = time.time()
        accounts = {w.account.key: w.account for w in self.workers.values()}
        at = next_event(accounts.values(), bool(self._waiters), self._pacing(), now)
        if at is None or (self._timer is not None and self._timer_at <= at):
            return
        if self._timer is not None:
            self._timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer_at = at
        self._timer = loop.call_later(max(0.0, at - now) + 0.01, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._cooling_changed()
        self._observer.accounts_changed()
        self._wake()
