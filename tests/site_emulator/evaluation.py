"""The stream endpoints of arena.ai as the 2026 site enforces them.

- ``POST /nextjs-api/stream/create-evaluation``: new session (token action ``chat_submit``).
- ``POST /nextjs-api/stream/post-to-evaluation/{sid}``: next turn (``chat_submit``).
- ``PUT /nextjs-api/stream/retry-evaluation-session-message/{sid}/messages/{mid}``: the
  legacy retry (``chat_retry``); answers the *stored* user turn, never the sent history.
- ``POST /nextjs-api/stream/stop/{sid}/messages/{user_message_id}``: ends that turn's stream.

Order of checks on create/post/retry: Cloudflare challenge, injected failure
(``fail_next`` or ``[[emulate:kind]]`` in the prompt), body size (413), auth cookie (401),
session and message lookup (post/retry: 404/401), Zod body (400), reCAPTCHA token (403),
then the site's own rules (battle turn, prompt size 429, attachments a ``requiresUpload``
model cannot see 400, duplicate ids, feedback, chain).
Any other method on these paths answers 405 (logged, like every request here).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .answers import STREAM_FAILURES, answer_lines
from .limits import FLAGGED, SPOOFED
from .recaptcha import check_token
from .records import RecordedRequest, record
from .responses import (
    BATTLE_TURN_REQUIRED,
    PROMPT_FAILED,
    RECAPTCHA_FAILED,
    challenge_response,
    failure_response,
    ratelimit_headers,
)
from .state import EmulatorState, SiteMessage, SiteSession
from .stream import answer_stream
from .uploads import attachment_refusal
from .validation import TWO_SIDED, evaluation_issues, retry_issues, zod_error

STREAM = "/nextjs-api/stream"
CREATE_PATH = f"{STREAM}/create-evaluation"
POST_PATH = f"{STREAM}/post-to-evaluation/{{sid}}"
RETRY_PATH = f"{STREAM}/retry-evaluation-session-message/{{sid}}/messages/{{mid}}"
STOP_PATH = f"{STREAM}/stop/{{sid}}/messages/{{uid}}"
# A per-request failure chosen by the prompt itself: safe when several requests run at once.
MAGIC = re.compile(r"\[\[emulate:([a-z_]+)\]\]")
STALLS = ("stall", "silent_stall")
# Every method reaches the handler, so that a wrong one is logged before its 405.
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Failure = tuple[str, dict[str, Any]]
Handler = Callable[[RecordedRequest, Any, int, dict[str, str]], Response]


def stream_routes(state: EmulatorState) -> list[Route]:
    def endpoint(method: str, handler: Handler) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            raw = await request.body()
            try:
                # The browser sends text/plain;charset=UTF-8; the body is JSON all the same.
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = None
            rec = record(state, request, body=body, size=len(raw))
            modality = modality_of(body)
            if request.method != method:
                response: Response = PlainTextResponse("Method Not Allowed", status_code=405,
                                                       headers={"allow": method})
            elif handler is not stop and (refused := limit_refusal(state, rec, body, modality)):
                response = refused
            else:
                response = handler(rec, body, len(raw), dict(request.path_params))
                if handler is not stop and response.status_code < 400:
                    state.limits.spend(rec.user_id, modality)
            rec.status = response.status_code
            if "cf-mitigated" not in response.headers:
                quota = state.limits.quota_headers(rec.user_id, modality)
                retry_after = response.headers.get("retry-after")
                exhausted = int(retry_after) if response.status_code == 429 and retry_after \
                    else None
                for key, value in (quota or ratelimit_headers(state, exhausted)).items():
                    response.headers.setdefault(key, value)
            response.headers["date"] = state.limits.date_header()
            return response
        return run

    def create(rec: RecordedRequest, body: Any, size: int, params: dict[str, str]) -> Response:
        refused, failure = gate(state, rec, body, size, sid="")
        if refused:
            return refused
        if issues := evaluation_issues(body, now_ms=site_ms(state)):
            return JSONResponse(zod_error(issues), status_code=400)
        if refused := token_refused(state, rec, body, "chat_submit"):
            return refused
        if refused := site_rules(state, body):
            return refused
        session = SiteSession(id=body["id"], owner=str(rec.user_id), mode=body["mode"],
                              messages=[], modality=body["modality"],
                              model_a_id=body.get("modelAId"), model_b_id=body.get("modelBId"),
                              from_client=True)
        state.sessions[session.id] = session
        return answer_turn(state, rec, session, body, failure, "create-evaluation")

    def post(rec: RecordedRequest, body: Any, size: int, params: dict[str, str]) -> Response:
        sid = params["sid"]
        refused, failure = gate(state, rec, body, size, sid)
        if refused:
            return refused
        session = state.sessions.get(sid)
        if session is None:
            return JSONResponse({"error": "Evaluation session not found"}, status_code=404)
        if session.owner != rec.user_id:
            return failure_response("unauthorized", {}, sid, rec.user_id)
        if issues := evaluation_issues(body, session_id=sid, session_mode=session.mode,
                                        now_ms=site_ms(state)):
            return JSONResponse(zod_error(issues), status_code=400)
        if refused := token_refused(state, rec, body, "chat_submit"):
            return refused
        mode = body.get("mode") or session.mode
        limit = state.direct_battle_turns
        if session.mode == "direct-battle" and mode != "battle" and limit is not None \
                and session.posts >= limit:
            return JSONResponse({"error": BATTLE_TURN_REQUIRED}, status_code=400)
        if refused := site_rules(state, body, session):
            return refused
        session.posts += 1
        return answer_turn(state, rec, session, body, failure, "post-to-evaluation/[id]")

    def retry(rec: RecordedRequest, body: Any, size: int, params: dict[str, str]) -> Response:
        sid, mid = params["sid"], params["mid"]
        refused, failure = gate(state, rec, body, size, sid)
        if refused:
            return refused
        session = state.sessions.get(sid)
        if session is None or session.owner != rec.user_id:
            return failure_response("unauthorized", {}, sid, rec.user_id)
        message = session.message(mid)
        turn = session.user_turn_of(mid)
        if message is None or message.role != "assistant" or turn is None:
            return JSONResponse({"error": "Message not found"}, status_code=404)
        if issues := retry_issues(body):
            return JSONResponse(zod_error(issues), status_code=400)
        if refused := token_refused(state, rec, body, "chat_retry"):
            return refused
        if message.feedback:
            return failure_response("feedback", {}, sid, rec.user_id)
        if not valid_chain(body):
            return failure_response("invalid", {}, sid, rec.user_id)
        failure = failure or magic_in(turn.content)
        if failure is not None and failure[0] not in STREAM_FAILURES:
            return failure_response(failure[0], failure[1], sid, rec.user_id)
        return answer_retry(state, rec, session, message, turn, body, failure)

    def stop(rec: RecordedRequest, body: Any, size: int, params: dict[str, str]) -> Response:
        sid, uid = params["sid"], params["uid"]
        if state.challenge_active:
            return challenge_response(status=403)
        if rec.user_id is None:
            return unauthorized(state, rec)
        session = state.sessions.get(sid)
        if session is None:
            return JSONResponse({"error": "Evaluation session not found"}, status_code=404)
        if session.owner != rec.user_id:
            return failure_response("unauthorized", {}, sid, rec.user_id)
        for control in state.running_streams:
            if (control.session_id, control.user_message_id) == (sid, uid):
                control.rec.stopped = True
                control.stop.set()
        return JSONResponse({"success": True})

    return [
        Route(CREATE_PATH, endpoint("POST", create), methods=ANY_METHOD),
        Route(POST_PATH, endpoint("POST", post), methods=ANY_METHOD),
        Route(RETRY_PATH, endpoint("PUT", retry), methods=ANY_METHOD),
        Route(STOP_PATH, endpoint("POST", stop), methods=ANY_METHOD),
    ]


# ---- checks ------------------------------------------------------------------------------


def modality_of(body: Any) -> str:
    """The quota a request counts against: its ``modality`` (``chat`` is ``text``)."""
    modality = body.get("modality") if isinstance(body, dict) else None
    return "text" if modality in (None, "chat") or not isinstance(modality, str) else modality


def limit_refusal(state: EmulatorState, rec: RecordedRequest, body: Any,
                  modality: str) -> Response | None:
    """The account's flag (403), its spent quota (429), ids far from the site's clock (400)."""
    limits = state.limits
    flagged = limits.flagged(rec.user_id)
    if flagged is not None:
        return JSONResponse({"error": FLAGGED}, status_code=403,
                            headers={"retry-after": str(math.ceil(flagged))})
    if limits.remaining(rec.user_id, modality) == 0:
        span = limits.window(modality)
        wait = math.ceil(span[1] - limits.now()) if span else 30
        return JSONResponse({"error": "Too Many Requests"}, status_code=429,
                            headers={"retry-after": str(max(1, wait))})
    keys = ("id", "userMessageId") if rec.path.endswith("create-evaluation") else ("userMessageId",)
    for key in keys:
        value = body.get(key) if isinstance(body, dict) else None
        if isinstance(value, str) and limits.id_spoofed(uuid7_ms(value)):
            return JSONResponse({"error": SPOOFED}, status_code=400)
    return None


def site_ms(state: EmulatorState) -> int:
    return int(state.limits.now() * 1000)


def uuid7_ms(value: str) -> int | None:
    hexes = value.replace("-", "").lower()
    if len(hexes) != 32 or hexes[12] != "7":
        return None
    try:
        return int(hexes[:12], 16)
    except ValueError:
        return None


def gate(state: EmulatorState, rec: RecordedRequest, body: Any, size: int,
         sid: str) -> tuple[Response | None, Failure | None]:
    """The checks before the app looks at the body: (refusal, failure to act out later)."""
    if state.challenge_active:
        return challenge_response(status=403), None
    failure = state.take_failure() or magic_failure(body)
    if failure is not None and failure[0] not in STREAM_FAILURES:
        return failure_response(failure[0], failure[1], sid, rec.user_id), None
    # The edge rejects big bodies before the app sees them.
    if size > state.max_body_bytes:
        return failure_response("too_large", {}, sid, rec.user_id), None
    if rec.user_id is None:
        return unauthorized(state, rec), None
    return None, failure


def unauthorized(state: EmulatorState, rec: RecordedRequest) -> Response:
    _, problem = state.user_from_cookies(rec.cookies)
    return JSONResponse({"error": f"Unauthorized: {problem}"}, status_code=401)


def token_refused(state: EmulatorState, rec: RecordedRequest, body: dict[str, Any],
                  action: str) -> Response | None:
    rec.recaptcha = check_token(state, body, action, rec.path)
    return None if rec.recaptcha.ok else JSONResponse(RECAPTCHA_FAILED, status_code=403)


def site_rules(state: EmulatorState, body: dict[str, Any],
               session: SiteSession | None = None) -> Response | None:
    """Prompt size (429 prompt failed), id reuse (400) and attachments a model that
    requires uploads cannot see (400) of a valid create/post body."""
    if len(body["userMessage"]["content"]) > state.max_prompt_chars:
        return JSONResponse(PROMPT_FAILED, status_code=429)
    if refused := attachment_refusal(state, body):
        return refused
    keys = ("userMessageId", "modelAMessageId", "modelBMessageId")
    ids = [body[k] for k in keys if isinstance(body.get(k), str)]
    if session is None:
        ids.append(body["id"])
    used = state.used_ids()
    for i, value in enumerate(ids):
        if value in used or value in ids[:i]:
            return JSONResponse({"error": f"duplicate id: {value}"}, status_code=400)
    return None


def valid_chain(body: Any) -> bool:
    """The seed-era rules (docs/site-protocol.md §4): a linear parent chain, the last message
    pending or every message a success, and a ``modelId`` key."""
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


def magic_in(text: Any) -> Failure | None:
    found = MAGIC.search(text) if isinstance(text, str) else None
    return (found.group(1), {}) if found else None


def magic_failure(body: Any) -> Failure | None:
    """``[[emulate:kind]]`` in ``userMessage.content`` or in any sent message."""
    if not isinstance(body, dict):
        return None
    user_message = body.get("userMessage")
    texts = [user_message.get("content") if isinstance(user_message, dict) else None]
    texts += [m.get("content") for m in body.get("messages") or [] if isinstance(m, dict)]
    return next((f for f in map(magic_in, texts) if f), None)


# ---- answers -----------------------------------------------------------------------------


def answer_turn(state: EmulatorState, rec: RecordedRequest, session: SiteSession,
                body: dict[str, Any], failure: Failure | None, matched: str) -> Response:
    """Store the turn of a valid create/post body in ``session`` and stream its answer."""
    mode = body.get("mode") or session.mode
    two_sided = mode in TWO_SIDED
    model_a = body.get("modelAId") or session.model_a_id
    content: str = body["userMessage"]["content"]
    answer = "" if state.limits.take_empty() else state.answer_for(body)
    session.messages.append(SiteMessage(id=body["userMessageId"], role="user", content=content))
    sides = [("a", body["modelAMessageId"], model_a)]
    if two_sided:
        sides.append(("b", body["modelBMessageId"], body.get("modelBId") or session.model_b_id))
    for pos, message_id, model_id in sides:
        text = f"{pos.upper()}: {answer}" if two_sided else answer
        session.messages.append(SiteMessage(id=message_id, role="assistant", content=text,
                                            position=pos, model_id=model_id))
    lines = answer_lines(
        state, answer, two_sided=two_sided, failure=failure, prompt_tokens=len(content) // 4,
        image=body.get("modality") == "image" or state.is_image_model(model_a),
    )
    kind = failure[0] if failure else None
    return answer_stream(state, rec, lines, session_id=session.id,
                         user_message_id=body["userMessageId"], stall=kind in STALLS,
                         silent=kind == "silent_stall",
                         headers={"x-matched-path": f"{STREAM}/{matched}"})


def answer_retry(state: EmulatorState, rec: RecordedRequest, session: SiteSession,
                 message: SiteMessage, turn: SiteMessage, body: dict[str, Any],
                 failure: Failure | None) -> Response:
    """Answer the stored ``turn`` again; the sent ``messages`` only decide image vs text."""
    history = session.history_until(turn)
    stored = {**body,
              "messages": [{"id": m.id, "role": m.role, "content": m.content} for m in history],
              "userMessage": {"content": turn.content, "experimental_attachments": [],
                              "metadata": {}}}
    model_id = body.get("modelId") or message.model_id
    all_success = all(m.get("status") == "success" for m in body["messages"])
    lines = answer_lines(
        state, state.answer_for(stored), pos=message.position,
        two_sided=session.mode in TWO_SIDED, failure=failure,
        image=state.is_image_model(model_id) or all_success,
        prompt_tokens=sum(len(m.content) for m in history) // 4,
    )
    kind = failure[0] if failure else None
    return answer_stream(state, rec, lines, session_id=session.id, user_message_id=turn.id,
                         stall=kind in STALLS, silent=kind == "silent_stall", headers={
                             "x-matched-path": f"{STREAM}/retry-evaluation-session-message/"
                                               "[id]/messages/[mid]"})
