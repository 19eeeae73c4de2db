"""One connected browser tab (a worker) and the transport to it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from lmarena_bridge.protocol.worker import Capability, HumanReason, TabHealth, TabState
from lmarena_bridge.relay.accounts import Account, Cooldown
from lmarena_bridge.relay.health import action_for, health_of


class TabJob(Protocol):
    """What a tab needs of the jobs it runs (relay/tab_job.py ``Job``): to end them when it
    goes away. A protocol, so that a job may name its tab without a knot in the imports."""

    request_id: str

    def push(self, item: Any) -> None: ...


class WorkerConnection(Protocol):
    """The transport to one tab. The WebSocket route is one adapter; tests may use another."""

    async def send(self, frame: dict[str, Any]) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@dataclass(eq=False)
class Worker:
    id: str
    conn: WorkerConnection
    protocol: int = 1
    version: str = ""
    page: str = ""
    tab: str = ""  # the browser tab's id across reloads (hello), "" when unknown
    capabilities: frozenset[str] = frozenset()
    # As the tab reported it (or the bridge found it): ready, or why a person is needed
    # (recaptcha | challenge | logged_out | wrong_origin); relay/health.py derives the rest.
    state: TabState = "ready"
    # The opaque key of the signed-in account (hello), "" when the tab names none; the pool
    # puts every tab of one key under one Account (relay/accounts.py).
    account_key: str = ""
    account: Account = field(default_factory=lambda: Account(""))
    state_detail: str = ""
    limit: int = 6
    connected_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.monotonic)
    # request id -> its relay/tab_job.py Job
    jobs: dict[str, TabJob] = field(default_factory=dict)
    reserved: int = 0  # slots handed out by acquire() but not yet released
    refresh_sent: bool = False
    closed: bool = False
    # Jobs of this tab that wait for a person (the reCAPTCHA v2 overlay is up for them).
    human_jobs: dict[str, HumanReason] = field(default_factory=dict)  # request id -> reason
    needs_human_since: float | None = None  # time.time() the tab started needing a person
    human_seen: str | None = None  # the reason observers were last told
    cooling_seen: Cooldown | None = None  # the cooldown observers were last told
    human_since_mono: float = 0.0

    @property
    def load(self) -> int:
        return self.reserved

    @property
    def human_reason(self) -> str | None:
        """Why a person must act in this tab first (None: the tab is usable)."""
        if self.state != "ready":
            return self.state
        return next(iter(self.human_jobs.values()), None)

    def cooldown(self, now: float | None = None) -> Cooldown | None:
        """The account's running cooldown, if any (relay/accounts.py)."""
        return self.account.cooldown(time.time() if now is None else now)

    @property
    def health(self) -> TabHealth:
        """ready | busy | cooling_down | needs_human | disconnected (relay/health.py)."""
        return health_of(self)

    @property
    def routable(self) -> bool:
        return not self.closed and self.human_reason is None

    def can(self, requires: str | None) -> bool:
        return requires is None or requires in self.capabilities

    def describe(self) -> dict[str, Any]:
        cooldown = self.cooldown()
        return {
            "id": self.id,
            "protocol": self.protocol,
            "version": self.version,
            "page": self.page,
            "state": self.state,
            "detail": self.state_detail,
            "health": self.health,
            "reason": self.human_reason,
            "action": action_for(self.human_reason) if self.human_reason else None,
            "needs_human_since": self.needs_human_since,
            "account": self.account.key,
            "cooling_until": cooldown.until if cooldown else None,
            "cooling_reason": cooldown.reason if cooldown else None,
            "load": self.load,
            "limit": self.limit,
            "connected_at": self.connected_at,
            # Without site_request the tab cannot send today's site requests (old script).
            "needs_update": Capability.SITE_REQUEST not in self.capabilities,
        }
