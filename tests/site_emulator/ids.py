"""UUIDv7 ids: made by the emulator for its seed data, checked on every id a client sends.

The site's client makes every new id (session, user message, model messages) as a UUIDv7 and
the server accepts them as given, so the emulator refuses anything else (validation.py).
"""

from __future__ import annotations

import re
import secrets
import time

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
MAX_SKEW_MS = 10 * 60 * 1000  # an id's embedded time may be this far from now


def uuid7(ms: int | None = None) -> str:
    """A UUIDv7 string for Unix time ``ms`` (milliseconds; default now)."""
    stamp = int(time.time() * 1000) if ms is None else ms
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (stamp & (2**48 - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_problem(value: str, now_ms: int | None = None, check_time: bool = True) -> str | None:
    """Why ``value`` is not an acceptable new UUIDv7 (None when it is).

    Returns ``"uuid"`` for a string that is not a UUID at all, else a message for a wrong
    version, a wrong variant or an embedded time more than ten minutes from ``now_ms``.
    """
    if not UUID_RE.match(value):
        return "uuid"
    hexes = value.replace("-", "").lower()
    if hexes[12] != "7":
        return f"Invalid UUIDv7: version {hexes[12]}"
    if hexes[16] not in "89ab":
        return "Invalid UUIDv7: variant is not RFC 4122"
    if check_time:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        if abs(int(hexes[:12], 16) - now) > MAX_SKEW_MS:
            return "Invalid UUIDv7: timestamp too far from now"
    return None
