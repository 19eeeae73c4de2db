"""What the emulator logs: requests, token checks and mints, and running answer streams."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

if TYPE_CHECKING:  # state.py imports this module
    from .state import EmulatorState


@dataclass
class RecaptchaCheck:
    """One server-side token check (``state.recaptcha_checks``)."""

    token: Any  # as sent: a string, None (null or missing), or anything else
    action: str  # the action the endpoint demands
    ok: bool
    reason: str  # "ok", "missing", "null", "empty", "malformed", "bad signature", "reused",
    #              "forced failure", "expired", "wrong sitekey", "wrong action", "minted elsewhere",
    #              "low score", "not a v2 token", "not a v3 token", "v3 and v2 together"
    path: str
    kind: str = "v3"  # which field was checked: "v3" (recaptchaV3Token) or "v2" (recaptchaV2Token)


@dataclass
class RecaptchaMint:
    """One token handed out by the fake ``grecaptcha.enterprise`` (``execute``, or a click
    on the visible v2 widget that ``render`` draws)."""

    action: str
    sitekey: str
    origin: str
    time: float
    kind: str = "v3"  # "v3" (execute) or "v2" (the visible widget, clicked)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    cookies: dict[str, str]
    body: Any  # parsed JSON, or None when the body is not JSON
    body_size: int
    time: float
    user_id: str | None = None
    status: int | None = None
    completed: bool = False  # the whole response body was written
    disconnected: bool = False  # the client went away before the body ended
    ended_at: float | None = None
    host: str = ""
    recaptcha: RecaptchaCheck | None = None  # the token check of this request, if any
    stopped: bool = False  # a stop request ended this stream

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def user_content(self) -> str | None:
        """``userMessage.content`` of a create/post body (None for other bodies)."""
        msg = self.body.get("userMessage") if isinstance(self.body, dict) else None
        content = msg.get("content") if isinstance(msg, dict) else None
        return content if isinstance(content, str) else None


@dataclass(eq=False)  # compared by identity: two streams may look alike
class StreamControl:
    """A running answer stream that ``POST …/stream/stop/{sid}/messages/{uid}`` can end."""

    session_id: str
    user_message_id: str
    rec: RecordedRequest
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def record(state: EmulatorState, request: Request, body: Any, size: int,
           log: list[RecordedRequest] | None = None) -> RecordedRequest:
    """Log ``request`` in ``log`` (default ``state.requests``) and return the entry."""
    rec = RecordedRequest(
        method=request.method, path=request.url.path, query=request.url.query,
        headers={k.lower(): v for k, v in request.headers.items()},
        cookies=dict(request.cookies), body=body, body_size=size, time=time.time(),
        host=request.headers.get("host", "").split(":")[0],
    )
    rec.user_id, _ = state.user_from_cookies(rec.cookies)
    (state.requests if log is None else log).append(rec)
    return rec
