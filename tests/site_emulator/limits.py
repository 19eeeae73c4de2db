"""The site's limits per account, its clock, and its empty answers (state.limits).

- **Quotas** per account and modality (``text``, ``image``…): ``set_quota(modality, limit,
  window)``; fixed windows on the site's clock. Every evaluation answer carries both header
  families and ``date``; a spent quota answers 429 with ``retry-after`` (the seconds to the
  window's end) and ``ratelimit-modality``.
- **Flag mode** ``flag_after(n, within, seconds)``: after ``n`` requests of one account within
  ``within`` seconds, every later request of that account gets 403 with ``retry-after`` for
  ``seconds`` (the site's "Security Verification" flag).
- **Clock offset** ``clock_offset`` (seconds): the site's clock runs this far from the
  machine's; it shifts ``date`` and the ids' time check (more than one hour off: the site's
  400 "Evaluation session ID seems spoofed, offset too big").
- **Empty answers** ``empty_answers(n)``: the next ``n`` evaluation answers are HTTP 200
  streams with no text at all.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from email.utils import formatdate

SPOOF_LIMIT_SECONDS = 3600.0
SPOOFED = "Evaluation session ID seems spoofed, offset too big"
FLAGGED = "Security Verification required"


@dataclass
class Quota:
    limit: int
    window: float


@dataclass
class FlagRule:
    after: int
    within: float
    seconds: float


@dataclass
class SiteLimits:
    quotas: dict[str, Quota] = field(default_factory=dict)
    flag: FlagRule | None = None
    clock_offset: float = 0.0
    empty: int = 0
    used: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # site times
    seen: dict[str, list[float]] = field(default_factory=dict)  # per user, for the flag
    flagged_until: dict[str, float] = field(default_factory=dict)

    # ---- knobs -----------------------------------------------------------------------------

    def set_quota(self, modality: str, limit: int, window: float) -> None:
        self.quotas[modality] = Quota(limit, window)

    def flag_after(self, n: int, within: float, seconds: float) -> None:
        self.flag = FlagRule(n, within, seconds)

    # ---- the site's view -------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def date_header(self) -> str:
        return formatdate(self.now(), usegmt=True)

    def flagged(self, user: str | None) -> float | None:
        """Seconds the account stays flagged (None: not flagged); counts this request."""
        if user is None:
            return None
        now = self.now()
        until = self.flagged_until.get(user, 0.0)
        if until > now:
            return until - now
        rule = self.flag
        if rule is None:
            return None
        seen = [t for t in self.seen.get(user, []) if t > now - rule.within]
        if len(seen) >= rule.after:
            self.flagged_until[user] = now + rule.seconds
            self.seen[user] = []
            return rule.seconds
        seen.append(now)
        self.seen[user] = seen
        return None

    def window(self, modality: str) -> tuple[float, float] | None:
        """(start, end) of the quota window now running for ``modality``."""
        quota = self.quotas.get(modality)
        if quota is None:
            return None
        now = self.now()
        start = now - now % quota.window
        return start, start + quota.window

    def remaining(self, user: str | None, modality: str) -> int | None:
        quota, span = self.quotas.get(modality), self.window(modality)
        if quota is None or span is None:
            return None
        spent = sum(1 for t in self.used.get((user or "", modality), []) if t >= span[0])
        return max(0, quota.limit - spent)

    def spend(self, user: str | None, modality: str) -> None:
        if modality in self.quotas:
            self.used.setdefault((user or "", modality), []).append(self.now())

    def quota_headers(self, user: str | None, modality: str) -> dict[str, str]:
        """Both families for this account's ``modality`` quota ({} when none is set)."""
        quota, span = self.quotas.get(modality), self.window(modality)
        left = self.remaining(user, modality)
        if quota is None or span is None or left is None:
            return {}
        reset = max(0, math.ceil(span[1] - self.now()))
        return {
            "ratelimit": f"limit={quota.limit}, remaining={left}, reset={reset}",
            "ratelimit-policy": f"{quota.limit};w={quota.window:g}",
            "ratelimit-limit": str(quota.limit),
            "ratelimit-remaining": str(left),
            "ratelimit-reset": str(math.ceil(span[1])),  # a Unix time on the site's clock
            "ratelimit-modality": modality,
        }

    def id_spoofed(self, ms: int | None) -> bool:
        return ms is not None and abs(ms / 1000 - self.now()) > SPOOF_LIMIT_SECONDS

    def take_empty(self) -> bool:
        if self.empty > 0:
            self.empty -= 1
            return True
        return False
