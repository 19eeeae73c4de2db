"""The emulator's ASGI app (SITE_PROTOCOL §8, as far as the retry strategy needs).

``create_emulator(state)`` returns a Starlette app whose only state is ``state``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .page import challenge_page, chat_page
from .state import AUTH_COOKIE, EmulatorState, RecordedRequest, SiteMessage, SiteSession

RETRY_PATH = "/nextjs-api/stream/retry-evaluation-session-message/{sid}/messages/{mid}"
# A per-request failure chosen by the prompt itself: safe when several requests run at once.
MAGIC = re.compile(r"\[\[emulate:([a-z_]+)\]\]")
RATELIMIT_POLICY = "3000;w=300"


def create_emulator(state: EmulatorState) -> Starlette:
    async def page(request: Request) -> Response:
        rec = record(state, request, body=None, size=0)
        if state.challenge_active:
            rec.status = 403
            return challenge_response(status=403)
        user_id, _ = state.user_from_cookies(dict(request.cookies))
        set_cookie = None
        if user_id is None and state.auto_login:
            # Like the site: a visit without a session gets a (anonymous) one.
            user_id = state.default_user.id
            set_cookie = state.auth_cookie_for(user_id)
        sid = request.path_params.get("sid")
        session = state.sessions.get(sid) if sid else state.direct_session
        if session is not None and session.owner != user_id:
            session = None
        response = HTMLResponse(chat_page(state, session, logged_in=user_id is not None))
        if set_cookie:
            # Not HttpOnly: the real cookie is read by the site's Supabase client.
            response.set_cookie(AUTH_COOKIE, set_cookie, max_age=365 * 86400, path="/",
                                secure=True, samesite="lax", httponly=False)
        rec.status = response.status_code
        return response

    async def retry(request: Request) -> Response:
        raw = await request.body()
        try:
            # The browser sends text/plain;charset=UTF-8; the body is JSON all the same.
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        rec = record(state, request, body=body, size=len(raw))
        response = answer_retry(state, request, rec, body, len(raw))
        rec.status = response.status_code
        return response

    async def solve(request: Request) -> Response:
        state.solve_challenge()
        return JSONResponse({"solved": True})

    async def challenge_status(request: Request) -> Response:
        return JSONResponse({"active": state.challenge_active})

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # keeps "no console errors" checks quiet

    return Starlette(routes=[
        Route("/", page),
        Route("/c/{sid}", page),
        Route(RETRY_PATH, retry, methods=["PUT"]),
        Route("/__emulator/solve", solve, methods=["POST"]),
        Route("/__emulator/challenge", challenge_status),
        Route("/favicon.ico", favicon),
    ])


def record(state: EmulatorState, request: Request, body: Any, size: int) -> RecordedRequest:
    rec = RecordedRequest(
        method=request.method, path=request.url.path, query=request.url.query,
        headers={k.lower(): v for k, v in request.headers.items()},
        cookies=dict(request.cookies), body=body, body_size=size, time=time.time(),
    )
    rec.user_id, _ = state.user_from_cookies(rec.cookies)
    state.requests.append(rec)
    return rec


# ---- the retry endpoint ------------------------------------------------------------------


def answer_retry(
    state: EmulatorState, request: Request, rec: RecordedRequest, body: Any, size: int
) -> Response:
    sid: str = request.path_params["sid"]
    mid: str = request.path_params["mid"]
    if state.challenge_active:
        return challenge_response(status=403)
    failure = state.take_failure() or magic_failure(body)
    if failure is not None and failure[0] not in STREAM_FAILURES:
        return failure_response(failure[0], failure[1], sid, rec.user_id)
    # The edge rejects big bodies before the app sees them.
    if size > state.max_body_bytes:
        return Response("Request Entity Too Large", status_code=413, media_type="text/plain")
    user_id, problem = state.user_from_cookies(rec.cookies)
    if user_id is None:
        return JSONResponse({"error": f"Unauthorized: {problem}"}, status_code=401)
    session = state.sessions.get(sid)
    if session is None or session.owner != user_id:
        return failure_response("unauthorized", {}, sid, user_id)
    message = session.message(mid)
    if message is None or message.role != "assistant":
        return JSONResponse({"error": "Message not found"}, status_code=404)
    if message.feedback:
        return failure_response("feedback", {}, sid, user_id)
    if not valid_chain(body):
        return failure_response("invalid", {}, sid, user_id)
    lines = answer_lines(state, session, message, body, failure)
    stall = failure is not None and failure[0] == "stall"
    return RecordingStream(rec, stream_writes(state, lines, stall), status_code=200, headers={
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "ratelimit": "limit=3000, remaining=2987, reset=39",
        "ratelimit-policy": RATELIMIT_POLICY,
        "x-matched-path": "/nextjs-api/stream/retry-evaluation-session-message/[id]/messages/[mid]",
    })


def valid_chain(body: Any) -> bool:
    """The fields the site needs (§1.3): a linear parent chain and the pending/success rule."""
    if not isinstance(body, dict) or "modelId" not in body:
        return False
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    previous: str | None = None
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            return False
        if m.get("role") not in ("system", "user", "assistant") or not isinstance(
            m.get("content"), str
        ):
            return False
        if m.get("parentMessageIds") != ([previous] if previous else []):
            return False
        if m.get("participantPosition") not in ("a", "b"):
            return False
        previous = m["id"]
    statuses = [m.get("status") for m in messages]
    all_success = all(s == "success" for s in statuses)
    pending_last = statuses[-1] == "pending" and all(s == "success" for s in statuses[:-1])
    return all_success or pending_last


def magic_failure(body: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(body, dict):
        return None
    for m in body.get("messages") or []:
        found = MAGIC.search(m.get("content") or "") if isinstance(m, dict) else None
        if found:
            return found.group(1), {}
    return None


STREAM_FAILURES = ("stream_error", "content_filter", "stall")


def failure_response(kind: str, opts: dict[str, Any], sid: str, user_id: str | None) -> Response:
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
        return JSONResponse({"error": "recaptcha validation failed"}, status_code=403)
    if kind == "too_large":
        return Response("Request Entity Too Large", status_code=413, media_type="text/plain")
    if kind == "content_policy":
        return JSONResponse({"error": "Request rejected: Content violates our terms of use for "
                                      f"evaluation session id: {sid}"}, status_code=422)
    if kind == "rate_limit":
        wait = int(opts.get("retry_after", 30))
        headers = {"retry-after": str(wait), "ratelimit-policy": RATELIMIT_POLICY,
                   "ratelimit": f"limit=3000, remaining=0, reset={wait}"}
        if opts.get("modality"):
            headers["ratelimit-modality"] = str(opts["modality"])
        return JSONResponse({"error": "Too Many Requests", "message": "Too Many Requests"},
                            status_code=429, headers=headers)
    if kind == "server_error":
        return JSONResponse({"error": "Internal Server Error"},
                            status_code=int(opts.get("status", 500)))
    raise ValueError(f"unknown failure kind {kind!r}")


def challenge_response(status: int) -> Response:
    return HTMLResponse(challenge_page(), status_code=status, headers={
        "cf-mitigated": "challenge", "cache-control": "private, no-store", "server": "cloudflare",
    })


# ---- the stream --------------------------------------------------------------------------


def line(pos: str, code: str, value: Any) -> str:
    # ensure_ascii=False: non-ASCII travels as raw UTF-8, like the site (§2.1).
    return f"{pos}{code}:{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}"


def deltas(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def answer_lines(
    state: EmulatorState,
    session: SiteSession,
    message: SiteMessage,
    body: dict[str, Any],
    failure: tuple[str, dict[str, Any]] | None,
) -> list[str]:
    """The body's lines (without newlines) for one retry: deterministic for a given body."""
    pos = message.position
    model_id = body.get("modelId") or message.model_id
    statuses = [m.get("status") for m in body["messages"]]
    prompt_tokens = sum(len(m.get("content", "")) for m in body["messages"]) // 4
    kind = failure[0] if failure else None
    if kind == "stream_error":
        text = (failure[1] if failure else {}).get("message", "Error during generation: failed")
        return [line(pos, "3", text), line(pos, "d", {"finishReason": "error"})]

    reasoning = [line(pos, "g", d) for d in deltas(state.reasoning, state.chars_per_delta)] \
        if state.reasoning else []
    if state.is_image_model(model_id) or all(s == "success" for s in statuses):
        out = list(reasoning)
        for _ in range(state.images_per_answer):
            state.image_counter += 1
            out.append(line(pos, "2", [{"type": "image", "mimeType": "image/png",
                                        "image": f"https://images.emulator.test/{state.image_counter}.png"}]))
        out.append(line(pos, "d", {"finishReason": "stop"}))
        return out

    answer = state.answer_for(body)
    if session.mode == "battle":
        side_a = [line("a", "0", d) for d in deltas("A: " + answer, state.chars_per_delta)]
        side_b = [line("b", "0", d) for d in deltas("B: " + answer, state.chars_per_delta)]
        out = list(reasoning)
        for i in range(max(len(side_a), len(side_b))):  # the sides interleave (§2.2)
            out += side_a[i : i + 1] + side_b[i : i + 1]
        return [*out, line("a", "d", {"finishReason": "unknown"}),
                line("b", "d", {"finishReason": "stop"})]

    pieces = deltas(answer, state.chars_per_delta)
    if kind == "content_filter":
        pieces = pieces[: max(1, len(pieces) // 2)]
    out = reasoning + [line(pos, "0", d) for d in pieces]
    if kind == "stall":
        return out  # stream_writes stalls after these
    reason = "content-filter" if kind == "content_filter" else "stop"
    usage = {"promptTokens": prompt_tokens, "completionTokens": len(pieces)}
    return [*out, line(pos, "d", {"finishReason": reason, "usage": usage})]


def split_writes(
    lines: list[str], per_write: int, split_lines: bool, split_utf8: bool
) -> list[bytes]:
    """Group lines into writes, then cut writes mid-line and/or inside UTF-8 characters."""
    per_write = max(1, per_write)
    writes = ["".join(f"{ln}\n" for ln in lines[i : i + per_write]).encode()
              for i in range(0, len(lines), per_write)]
    out: list[bytes] = []
    for data in writes:
        cuts: set[int] = set()
        if split_lines and len(data) > 1:
            cuts.add(len(data) // 2)
        if split_utf8:
            # Right after each lead byte of a multi-byte character: the decoder must carry
            # the rest of the character over to the next read.
            cuts.update(i + 1 for i, b in enumerate(data) if b >= 0xC0)
        start = 0
        for cut in sorted(c for c in cuts if 0 < c < len(data)):
            out.append(data[start:cut])
            start = cut
        out.append(data[start:])
    return out


async def stream_writes(
    state: EmulatorState, lines: list[str], stall: bool = False
) -> AsyncIterator[bytes]:
    """Yield the writes with the configured delays; a stall holds the connection silent."""
    chunking = state.chunking
    writes = split_writes(lines, chunking.lines_per_write, chunking.split_lines,
                          chunking.split_utf8)
    stall_after = len(writes) if stall else chunking.stall_after
    for i, data in enumerate(writes):
        if stall_after is not None and i == stall_after:
            await asyncio.sleep(chunking.stall_seconds)
        if i and chunking.delay:
            await asyncio.sleep(chunking.delay)
        yield data
    if stall_after is not None and stall_after >= len(writes):
        await asyncio.sleep(chunking.stall_seconds)


class RecordingStream(StreamingResponse):
    """Marks the recorded request ``completed`` or ``disconnected`` once the response ends.

    Starlette cancels the stream when the client goes away (ASGI < 2.4 disconnect
    listener), so "the body iterator ran out" is exactly "the client got everything".
    """

    def __init__(self, rec: RecordedRequest, content: AsyncIterator[bytes], **kw: Any) -> None:
        self.rec = rec
        super().__init__(self._track(content), **kw)

    async def _track(self, content: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in content:
            yield chunk
        self.rec.completed = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.rec.ended_at = time.time()
            self.rec.disconnected = not self.rec.completed
