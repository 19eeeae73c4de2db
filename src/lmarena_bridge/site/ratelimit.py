"""What the site's answer headers say about its limits and its clock (docs/site-protocol.md).

Pure. Both header families of the 2026 site are read:

- the IETF draft pair: ``ratelimit: limit=1800, remaining=1795, reset=275`` (reset in
  seconds; also seen as ``limit=1800;w=300``) with ``ratelimit-policy: 1800;w=300``;
- the trio ``ratelimit-limit``, ``ratelimit-remaining``, ``ratelimit-reset`` (a Unix time on
  the site's clock, or seconds), with ``ratelimit-modality`` naming the budget's modality.

``retry-after`` (seconds or an HTTP date) and ``date`` (the site's clock) complete it.
Garbage values are ignored, never raised: a header the site changes must not fail a request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# A reset above this is a Unix time, below it a number of seconds (2001-09-09 in Unix time).
_UNIX_TIME_MIN = 1_000_000_000
_FIELDS = re.compile(r"[,;]")


@dataclass(frozen=True, slots=True)
class Window:
    """One budget the site announced: ``remaining`` of ``limit`` until ``reset_at``."""

    limit: int | None
    remaining: int | None
    reset_at: float | None  # Unix time on the bridge's clock
    seconds: float | None = None  # the window's length, when the policy says

    @property
    def spent(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True, slots=True)
class RateInfo:
    """Everything one answer's headers say; every field may be missing."""

    windows: tuple[Window, ...] = ()
    modality: str | None = None
    retry_after: float | None = None  # seconds from now
    site_time: float | None = None  # the site's clock (its ``date``) as a Unix time

    @property
    def binding(self) -> Window | None:
        """The window that runs out first: the lowest ``remaining`` (then the latest reset)."""
        known = [w for w in self.windows if w.remaining is not None]
        if not known:
            return self.windows[0] if self.windows else None
        return min(known, key=lambda w: (w.remaining, -(w.reset_at or 0.0)))

    @property
    def spent_until(self) -> float | None:
        """When the last spent window resets (None: nothing is spent, or no reset given)."""
        resets = [w.reset_at for w in self.windows if w.spent and w.reset_at is not None]
        return max(resets) if resets else None


def parse_rate_headers(headers: Mapping[str, str], now: float) -> RateInfo:
    """Read the rate-limit headers of one answer received at ``now`` (bridge Unix time)."""
    hdrs = {k.lower(): v for k, v in headers.items() if isinstance(v, str)}
    site_time = http_date(hdrs.get("date"))
    # A Unix time from the site is on its clock: shift it onto ours.
    offset = site_time - now if site_time is not None else 0.0
    windows: list[Window] = []

    draft = fields_of(hdrs.get("ratelimit", ""))
    policy = fields_of(hdrs.get("ratelimit-policy", ""))
    policy_limit, policy_window = _policy(hdrs.get("ratelimit-policy", ""))
    if draft:
        limit = _int(draft.get("limit")) or policy_limit
        window = _number(draft.get("w")) or _number(policy.get("w")) or policy_window
        windows.append(Window(limit, _int(draft.get("remaining")),
                              _reset_at(draft.get("reset"), now, offset), window))
    trio_limit = _int(hdrs.get("ratelimit-limit"))
    trio_remaining = _int(hdrs.get("ratelimit-remaining"))
    trio_reset = _reset_at(hdrs.get("ratelimit-reset"), now, offset)
    if trio_limit is not None or trio_remaining is not None or trio_reset is not None:
        windows.append(Window(trio_limit, trio_remaining, trio_reset))
    elif not draft and policy_limit is not None:
        windows.append(Window(policy_limit, None, None, policy_window))

    modality = (hdrs.get("ratelimit-modality") or "").strip().lower() or None
    return RateInfo(tuple(windows), modality, retry_seconds(hdrs.get("retry-after"), now, offset),
                    site_time)


def fields_of(value: str) -> dict[str, str]:
    """``limit=3000, remaining=0, reset=30`` (also ``;``-separated) → a dict."""
    out: dict[str, str] = {}
    for part in _FIELDS.split(value or ""):
        key, sep, val = part.partition("=")
        if sep and key.strip():
            out[key.strip().lower()] = val.strip().strip('"')
    return out


def _policy(value: str) -> tuple[int | None, float | None]:
    """``1800;w=300`` → (1800, 300.0)."""
    head = _FIELDS.split(value or "")[0].strip()
    window = _number(fields_of(value).get("w"))
    return (_int(head) if "=" not in head else None), window


def retry_seconds(value: str | None, now: float, offset: float = 0.0) -> float | None:
    """``Retry-After``: seconds, or an HTTP date on the site's clock; None if unreadable."""
    seconds = _number(value)
    if seconds is not None:
        return seconds
    when = http_date(value)
    return max(0.0, when - offset - now) if when is not None else None


def http_date(value: str | None) -> float | None:
    """An HTTP date (``Wed, 21 Oct 2026 07:28:00 GMT``) as a Unix time; None if unreadable."""
    if not value or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _reset_at(value: str | None, now: float, offset: float) -> float | None:
    number = _number(value, allow_zero=True)
    if number is None:
        return None
    if number >= _UNIX_TIME_MIN:
        return number - offset
    return now + number


def _number(value: str | None, *, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except (ValueError, AttributeError):
        return None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        return None
    return number


def _int(value: str | None) -> int | None:
    number = _number(value, allow_zero=True)
    return int(number) if number is not None else None
