"""The site's non-stream answers: errors, the Cloudflare page, rate-limit headers."""

from __future__ import annotations

import math
import time
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

from .page import challenge_page
from .state import EmulatorState

# Both header families the 2026 site sends: the IETF draft pair for a 1800-per-5-minutes
# budget, and the ratelimit-* trio for a per-minute one whose reset is a Unix time.
WINDOW_LIMIT, WINDOW_SECONDS = 1800, 300
MINUTE_LIMIT, MINUTE_SECONDS = 30, 60
RATELIMIT_POLICY = f"{WINDOW_LIMIT};w={WINDOW_SECONDS}"
RECAPTCHA_FAILED = {"error": "recaptcha validation failed"}
PROMPT_FAILED = {"error": "prompt failed"}
BATTLE_TURN_REQUIRED = ("Bad next turn request in Battles in Direct mode. DIRECT was requested, "
                        "but expected a BATTLE turn")


def ratelimit_headers(state: EmulatorState, exhausted_for: int | None = None) -> dict[str, str]:
    """Headers counting the logged evaluation requests in the current fixed windows.

    ``exhausted_for``: the budget is spent for that many seconds (a 429 rate_limit).
    """
    now = time.time()
    window_start = now - now % WINDOW_SECONDS
    minute_start = now - now % MINUTE_SECONDS
    times = [r.time for r in state.evaluation_requests]
    remaining = max(0, WINDOW_LIMIT - sum(t >= window_start for t in times))
    reset = math.ceil(window_start + WINDOW_SECONDS - now)
    minute_remaining = max(0, MINUTE_LIMIT - sum(t >= minute_start for t in times))
    minute_reset = int(minute_start + MINUTE_SECONDS)
    if exhausted_for is not None:
        remaining = minute_remaining = 0
        reset, minute_reset = exhausted_for, int(now + exhausted_for)
    return {
        "ratelimit": f"limit={WINDOW_LIMIT}, remaining={remaining}, reset={reset}",
        "ratelimit-policy": RATELIMIT_POLICY,
        "ratelimit-limit": str(MINUTE_LIMIT),
        "ratelimit-remaining": str(minute_remaining),
        "ratelimit-reset": str(minute_reset),
    }


def failure_response(kind: str, opts: dict[str, Any], sid: str, user_id: str | None) -> Response:
    """The response of an injected (or real) non-stream failure of ``kind``."""
    if kind == "challenge":
        return challenge_response(status=403)
    if kind == "unauthorized":
        uid = user_id or "00000000-0000-0000-0000-000000000000"
        message = opts.get("message") or (
            f"User {uid} does not have access to evaluation session {sid}"
        )
        return JSONResponse({"error": message}, status_code=401)
    if kind == "feedback":
        return JSONResponse({"error": "Message already has feedback, cannot retry"},
                            status_code=400)
    if kind == "invalid":
        return JSONResponse({"error": "Invalid content"}, status_code=400)
    if kind == "recaptcha":
        return JSONResponse(RECAPTCHA_FAILED, status_code=403)
    if kind == "too_large":
        return Response("Request Entity Too Large", status_code=413, media_type="text/plain")
    if kind == "content_policy":
        return JSONResponse({"error": "Request rejected: Content violates our terms of use for "
                                      f"evaluation session id: {sid}"}, status_code=422)
    if kind == "rate_limit":
        wait = int(opts.get("retry_after", 30))
        headers = {"retry-after": str(wait)}
        if opts.get("modality"):
            headers["ratelimit-modality"] = str(opts["modality"])
        return JSONResponse({"error": "Too Many Requests", "message": "Too Many Requests"},
                            status_code=429, headers=headers)
    if kind == "prompt_failed":
        return JSONResponse(PROMPT_FAILED, status_code=429)
    if kind == "server_error":
        return JSONResponse({"error": "Internal Server Error"},
                            status_code=int(opts.get("status", 500)))
    raise ValueError(f"unknown failure kind {kind!r}")


def challenge_response(status: int) -> Response:
    return HTMLResponse(challenge_page(), status_code=status, headers={
        "cf-mitigated": "challenge", "cache-control": "private, no-store", "server": "cloudflare",
    })
