"""The site accounts behind the tabs: their budgets, cooldowns and pacing.

Tabs of one browser profile share one account (the userscript's opaque ``account`` key in
hello); a tab that names none is an account of its own. Everything here is per account:

- **budgets**, per modality: the latest limit, remaining and reset the site announced
  (site/ratelimit.py);
- **cooldowns**: no new job until ``until`` (Unix seconds) — after a 429 (``rate_limit``),
  a refusal with ``retry-after`` (a 403 one is the site's ``flagged`` account), or a budget
  at 0 (``quota``, that modality only);
- **pacing** (config ``pace_*``): the least time between two site requests, and caps per
  minute and per day.

Pure arithmetic on a ``now`` the caller passes (Unix seconds); relay/pool.py routes on it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lmarena_bridge.errors import BridgeError
from lmarena_bridge.protocol.worker import CooldownReason
from lmarena_bridge.site.ratelimit import RateInfo

MINUTE = 60.0
DAY = 86400.0
# Without a time from the site, a 429 keeps the account cool this long.
DEFAULT_COOLDOWN_SECONDS = 30.0
# Never longer than this from one answer (a garbage reset must not park an account for ever).
MAX_COOLDOWN_SECONDS = 6 * 3600.0
# Accounts with no tab, no cooldown and no request for this long are forgotten.
FORGET_AFTER_SECONDS = DAY


@dataclass(frozen=True, slots=True)
class Pacing:
    """``pace_min_interval_seconds``, ``pace_max_per_minute``, ``pace_max_per_day`` (0: none)."""

    min_interval: float = 0.0
    per_minute: int = 0
    per_day: int = 0


@dataclass(slots=True)
class Budget:
    """One modality's budget as the site last announced it."""

    limit: int | None
    remaining: int | None
    reset_at: float | None
    seen_at: float


@dataclass(frozen=True, slots=True)
class Cooldown:
    until: float
    reason: CooldownReason
    modality: str | None = None  # None: the whole account

    def view(self, now: float) -> dict[str, Any]:
        return {"until": round(self.until, 3), "reason": self.reason,
                "modality": self.modality, "seconds_left": max(0.0, round(self.until - now, 1))}


@dataclass(eq=False)
class Account:
    key: str
    budgets: dict[str, Budget] = field(default_factory=dict)
    # by modality; the key None holds the account-wide cooldown
    cooldowns: dict[str | None, Cooldown] = field(default_factory=dict)
    sent: deque[float] = field(default_factory=deque)  # site requests of the last day
    last_used: float = 0.0

    # -- what the site said ------------------------------------------------------------------

    def observe(self, modality: str, info: RateInfo, now: float) -> Cooldown | None:
        """An answer's headers: keep the budget; a budget at 0 cools that modality down."""
        modality = info.modality or modality
        window = info.binding
        if window is not None:
            self.budgets[modality] = Budget(window.limit, window.remaining, window.reset_at, now)
        until = info.spent_until
        if until is not None and until > now:
            return self._cool(until, "quota", modality, now)
        return None

    def refused(self, modality: str, status: int | None, info: RateInfo,
                now: float) -> Cooldown | None:
        """A refusal: 429, or any refusal with ``retry-after`` or a spent budget's reset."""
        quota = self.observe(modality, info, now)
        if info.retry_after is not None:
            reason: CooldownReason = "flagged" if status == 403 else "rate_limit"
            if status == 429 and info.modality:
                return self._cool(now + info.retry_after, "quota", info.modality, now)
            return self._cool(now + info.retry_after, reason, None, now)
        if status == 429 and quota is None:
            return self._cool(now + DEFAULT_COOLDOWN_SECONDS, "rate_limit", None, now)
        return quota

    def _cool(self, until: float, reason: CooldownReason, modality: str | None,
              now: float) -> Cooldown | None:
        until = min(until, now + MAX_COOLDOWN_SECONDS)
        current = self.cooldowns.get(modality)
        if current is not None and current.until >= until and current.until > now:
            return None  # already cooling at least this long
        cooldown = Cooldown(until, reason, modality)
        self.cooldowns[modality] = cooldown
        return cooldown

    def clear(self) -> None:
        """Forget cooldowns and budgets (the user says the account is fine again)."""
        self.cooldowns.clear()
        self.budgets.clear()

    # -- routing -------------------------------------------------------------------------

    def active(self, now: float) -> list[Cooldown]:
        """Cooldowns still running (expired ones are dropped)."""
        for key in [k for k, c in self.cooldowns.items() if c.until <= now]:
            del self.cooldowns[key]
        return sorted(self.cooldowns.values(), key=lambda c: c.until)

    def cooldown(self, now: float) -> Cooldown | None:
        """The cooldown to show for the account: the whole account's, else the longest."""
        running = self.active(now)
        whole = [c for c in running if c.modality is None]
        shown = whole or running
        return shown[-1] if shown else None

    def blocked_until(self, modality: str | None, now: float) -> float:
        """When a job of ``modality`` may go (``now`` or earlier: at once). ``None`` is a job
        that is no site request (uploads, models): only account-wide cooldowns hold it."""
        untils = [c.until for c in self.active(now)
                  if c.modality is None or (modality is not None and c.modality == modality)]
        return max(untils, default=now)

    def next_send_at(self, pacing: Pacing, now: float) -> float:
        """When pacing lets the next site request of this account go."""
        self._prune(now)
        at = now
        sent = self.sent
        if pacing.min_interval > 0 and sent:
            at = max(at, sent[-1] + pacing.min_interval)
        if pacing.per_minute > 0:
            recent = [t for t in sent if t > now - MINUTE]
            if len(recent) >= pacing.per_minute:
                at = max(at, recent[-pacing.per_minute] + MINUTE)
        if pacing.per_day > 0 and len(sent) >= pacing.per_day:
            at = max(at, sent[-pacing.per_day] + DAY)
        return at

    def ready_at(self, modality: str | None, pacing: Pacing, now: float) -> float:
        """When this account may take a job of ``modality`` (cooldowns and pacing)."""
        at = self.blocked_until(modality, now)
        if modality is not None:
            at = max(at, self.next_send_at(pacing, now))
        return at

    def record_send(self, now: float) -> None:
        self.sent.append(now)
        self.last_used = now
        self._prune(now)

    def requests_within(self, seconds: float, now: float) -> int:
        return sum(1 for t in self.sent if t > now - seconds)

    def _prune(self, now: float) -> None:
        while self.sent and self.sent[0] <= now - DAY:
            self.sent.popleft()

    # -- display -------------------------------------------------------------------------

    def view(self, now: float, tabs: Iterable[str] = ()) -> dict[str, Any]:
        return {
            "account": self.key,
            "tabs": sorted(tabs),
            "budgets": {
                modality: {
                    "limit": b.limit,
                    "remaining": b.remaining,
                    "reset_at": b.reset_at,
                    "reset_in": None if b.reset_at is None
                    else max(0.0, round(b.reset_at - now, 1)),
                }
                for modality, b in sorted(self.budgets.items())
            },
            "cooldowns": [c.view(now) for c in self.active(now)],
            "requests_last_minute": self.requests_within(MINUTE, now),
            "requests_last_day": self.requests_within(DAY, now),
        }


class Accounts:
    """Accounts by key; a tab's key is its account's, or its own when it names none."""

    def __init__(self) -> None:
        self.by_key: dict[str, Account] = {}

    @staticmethod
    def key_for(account: str, tab: str, worker_id: str) -> str:
        if account:
            return account
        return f"tab:{tab}" if tab else f"worker:{worker_id}"

    def get(self, key: str, now: float) -> Account:
        found = self.by_key.get(key)
        if found is None:
            self._forget_idle(now)
            found = self.by_key[key] = Account(key, last_used=now)
        return found

    def _forget_idle(self, now: float) -> None:
        for key, acc in list(self.by_key.items()):
            if not acc.active(now) and now - acc.last_used > FORGET_AFTER_SECONDS:
                del self.by_key[key]

    def earliest(self, accounts: Iterable[Account], modality: str | None, pacing: Pacing,
                 now: float) -> float | None:
        """The soonest time one of ``accounts`` may take a job of ``modality``."""
        return min((a.ready_at(modality, pacing, now) for a in accounts), default=None)

    def clear(self) -> None:
        for acc in self.by_key.values():
            acc.clear()
            acc.sent.clear()


def next_event(accounts: Iterable[Account], waiting: bool, pacing: Pacing,
               now: float) -> float | None:
    """The next time routing may change: a cooldown ends, or (``waiting``) pacing allows."""
    times: list[float] = []
    for acc in accounts:
        times.extend(c.until for c in acc.active(now))
        if waiting:
            send_at = acc.next_send_at(pacing, now)
            if send_at > now:
                times.append(send_at)
    return min(times, default=None)


def rate_limit_error(accounts: Iterable[Account], modality: str | None, pacing: Pacing,
                     now: float, held: float) -> BridgeError:
    """429 ``rate_limit_exceeded``: every account that could serve is resting; when each
    is usable again, and Retry-After to the first (whole seconds, rounded up)."""
    parts = []
    for acc in sorted(accounts, key=lambda a: a.key):
        at = acc.ready_at(modality, pacing, now)
        cooldown = acc.cooldown(now)
        why = cooldown.reason if cooldown and cooldown.until >= at - 0.5 else "pacing"
        stamp = time.strftime("%H:%M:%S", time.localtime(at))
        parts.append(f"account {acc.key[:12]} at {stamp} ({why}, in {math.ceil(at - now)} s)")
    wait = max(1, math.ceil(held - now))
    what = f"{modality} requests" if modality else "requests"
    return BridgeError(
        f"Every arena.ai account the bridge has is resting from {what} to protect it from the "
        f"site's limits; the first is usable again in {wait} s. Reset times: "
        + "; ".join(parts) + ". Retry after that, or open arena.ai with another account.",
        status=429, type="rate_limit_error", code="rate_limit_exceeded", retry_after=wait,
    )


class SiteClock:
    """The site's clock as its ``date`` headers show it: ``offset`` = site − bridge, seconds.

    A ``date`` has whole seconds, so a new reading moves the offset only when it differs by
    more than that (no jitter in the ids minted on site time).
    """

    def __init__(self) -> None:
        self.offset: float | None = None

    def observe(self, site_time: float, now: float) -> None:
        measured = site_time - now
        if self.offset is None or abs(measured - self.offset) > 1.5:
            self.offset = measured

    def now(self, bridge_now: float) -> float:
        return bridge_now + (self.offset or 0.0)
