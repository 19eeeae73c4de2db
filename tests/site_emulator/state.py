"""Everything the site emulator knows, as one plain object tests read and change directly.

The emulator runs in the test's own event loop, so tests mutate an ``EmulatorState`` between
(or during) requests without locks. Nothing here is module-level mutable state: two
emulators in one process never share anything. The knobs are listed in ``__init__.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, get_args

from . import tokens
from .catalog import (
    IMAGE_MODEL_ID,
    SEARCH_MODEL_ID,
    STEALTH_MODEL_ID,
    TEXT_MODEL_ID,
    VISION_MODEL_ID,
    catalog_only_models,
    default_models,
)
from .hosts import ARENA_ORIGIN
from .ids import uuid7
from .limits import SiteLimits
from .records import RecaptchaCheck, RecaptchaMint, RecordedRequest, StreamControl
from .store import UploadStore

__all__ = [  # names that used to live here stay importable from here
    "IMAGE_MODEL_ID", "SEARCH_MODEL_ID", "STEALTH_MODEL_ID", "TEXT_MODEL_ID", "VISION_MODEL_ID",
    "RecaptchaCheck", "RecaptchaMint", "RecordedRequest", "StreamControl", "default_models",
]

AUTH_COOKIE = "arena-auth-prod-v1"
DEFAULT_RECAPTCHA_SITEKEY = "6LeTGMcsAAAAALuIlkVwIxaAuZA8VledA6d3Nnb0"
DEFAULT_RECAPTCHA_V2_SITEKEY = "6Ld7ePYrAAAAAB34ovoFoDau1fqCJ6IyOjFEQaMn"

FailureKind = Literal[
    "challenge",  # 403 Cloudflare page + cf-mitigated: challenge
    "unauthorized",  # 401 session not yours
    "feedback",  # 400 message already has feedback
    "invalid",  # 400 Invalid content
    "recaptcha",  # 403 recaptcha validation failed
    "too_large",  # 413
    "content_policy",  # 422
    "rate_limit",  # 429 + Retry-After + ratelimit headers
    "server_error",  # 500 (or opts status=5xx)
    "stream_error",  # 200: a3:"..." then ad:{"finishReason":"error"}
    "content_filter",  # 200: some text then finish content-filter
    "stall",  # 200: some text, then only heartbeats until the client leaves (or a stop)
    "silent_stall",  # 200: some text, then no bytes at all until the client leaves
    "arena_error",  # 200: some text, then the whole line a0:"hasArenaError"
    "prompt_failed",  # 429 {"error":"prompt failed"}
]
FAILURE_KINDS: tuple[str, ...] = get_args(FailureKind)
SessionMode = Literal["direct", "direct-battle", "battle", "side-by-side"]
# ok: good tokens pass; unavailable: enterprise.js defines no grecaptcha; low_score: every
# v3 token fails, only a v2 token from a clicked widget passes; v2_fails: both fail.
RecaptchaMode = Literal["ok", "unavailable", "low_score", "v2_fails"]


@dataclass
class SiteUser:
    id: str
    email: str


@dataclass
class SiteMessage:
    id: str
    role: str
    content: str
    position: str = "a"  # participantPosition
    model_id: str | None = None
    feedback: bool = False  # voted on: the site refuses to retry it


@dataclass
class SiteSession:
    id: str
    owner: str
    mode: SessionMode
    messages: list[SiteMessage]
    modality: str = "chat"
    model_a_id: str | None = None
    model_b_id: str | None = None
    posts: int = 0  # accepted post-to-evaluation turns
    from_client: bool = False  # made by create-evaluation (reset() drops these)

    def message(self, message_id: str) -> SiteMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def assistant(self, position: str = "a") -> SiteMessage:
        return next(m for m in self.messages if m.role == "assistant" and m.position == position)

    def user_turn_of(self, message_id: str) -> SiteMessage | None:
        """The stored user message an answer belongs to (the last user turn before it)."""
        turn = None
        for m in self.messages:
            if m.id == message_id:
                return turn
            if m.role == "user":
                turn = m
        return None

    def history_until(self, message: SiteMessage) -> list[SiteMessage]:
        """The stored messages up to and including ``message``."""
        return self.messages[: self.messages.index(message) + 1]


@dataclass
class Chunking:
    """How the answer's lines become network writes (each write is one ASGI body chunk)."""

    lines_per_write: int = 1
    split_lines: bool = False  # cut every write in two in the middle of a line
    split_utf8: bool = False  # cut writes inside multi-byte characters (after the lead byte)
    delay: float = 0.0  # seconds between writes
    stall_after: int | None = None  # after this many writes, send nothing until the client leaves
    stall_seconds: float = 3600.0


# Knobs that reset() puts back to their declared defaults (lists are emptied in place).
_RESET_FIELDS = (
    "requests", "failures", "chunking", "chars_per_delta", "reasoning", "images_per_answer",
    "max_body_bytes", "challenge_active", "auto_login", "page_variant", "redirects",
    "recaptcha_sitekey", "recaptcha_v2_sitekey", "recaptcha_mode", "recaptcha_token_max_age",
    "recaptcha_checks",
    "recaptcha_mints", "recaptcha_forced_failures", "page_has_recaptcha_script",
    "direct_battle_turns", "heartbeat_interval", "max_prompt_chars", "routed_model",
    "image_as_base64",
    "catalog_extra", "catalog_available", "upload_actions_advertised", "upload_url_lifetime",
    "signed_url_lifetime", "image_urls", "store", "asset_requests", "limits",
)


@dataclass
class EmulatorState:
    """Users, sessions, models, the request log and the failure switches of one emulator."""

    models: list[dict[str, Any]] = field(default_factory=default_models)
    requests: list[RecordedRequest] = field(default_factory=list)
    chunking: Chunking = field(default_factory=Chunking)
    chars_per_delta: int = 8
    reasoning: str | None = None  # when set, streamed as ag: lines before the answer
    images_per_answer: int = 1
    max_body_bytes: int = 5 * 1024 * 1024
    challenge_active: bool = False  # API calls and page loads get the challenge page
    auto_login: bool = True  # GET / sets an auth cookie for the default user when missing
    page_variant: Literal["initialModels", "initialState"] = "initialModels"
    token_lifetime: float = 3600.0
    failures: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)
    users: dict[str, SiteUser] = field(default_factory=dict)
    sessions: dict[str, SiteSession] = field(default_factory=dict)
    image_counter: int = 0
    redirects: list[RecordedRequest] = field(default_factory=list)  # lmarena.ai hits (301)
    # reCAPTCHA Enterprise v3 (recaptcha.py)
    recaptcha_sitekey: str = DEFAULT_RECAPTCHA_SITEKEY
    recaptcha_v2_sitekey: str = DEFAULT_RECAPTCHA_V2_SITEKEY  # the visible widget's key
    recaptcha_mode: RecaptchaMode = "ok"  # see RecaptchaMode
    recaptcha_token_max_age: float = 120.0
    recaptcha_checks: list[RecaptchaCheck] = field(default_factory=list)
    recaptcha_mints: list[RecaptchaMint] = field(default_factory=list)
    recaptcha_forced_failures: int = 0  # see fail_recaptcha()
    page_has_recaptcha_script: bool = True
    # The 2026 site's rules (evaluation.py, stream.py)
    direct_battle_turns: int | None = None  # posts a direct-battle session takes; None: any
    heartbeat_interval: float | None = 0.5  # heartbeat lines during longer waits; None: none
    max_prompt_chars: int = 200_000  # longer userMessage.content: 429 prompt failed
    routed_model: str | None = None  # when set: a2 routed_model line after the heartbeat
    image_as_base64: bool = False  # image answers carry base64 "data" instead of a URL
    # Models and files (catalog.py, uploads.py, store.py)
    catalog_extra: tuple[tuple[str, dict[str, Any]], ...] = field(
        default_factory=lambda: tuple(catalog_only_models()))  # (arena, model) beyond the page's
    catalog_available: bool = True  # False: /nextjs-api/model-catalog answers 404
    upload_actions_advertised: bool = True  # False: no script chunk names the upload actions
    upload_url_lifetime: float = 600.0  # presigned PUT URLs (generateUploadUrl)
    signed_url_lifetime: float = 3600.0  # signed GET URLs (getSignedUrl, stored image answers)
    # Where image answers given as URLs point: "external" (a host nobody serves), "store"
    # (a signed GET URL of the file store) or "site" (arena.ai, only with the auth cookie).
    image_urls: Literal["external", "store", "site"] = "external"
    store: UploadStore = field(default_factory=UploadStore)
    asset_requests: list[RecordedRequest] = field(default_factory=list)  # chunks, file store
    # Quotas per account and modality, flag mode, clock offset, empty answers (limits.py)
    limits: SiteLimits = field(default_factory=SiteLimits)
    # Internal: the token secret and spent nonces outlive reset(), so no token is ever reused.
    recaptcha_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    recaptcha_used: set[str] = field(default_factory=set, repr=False)
    running_streams: list[StreamControl] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.default_user = self.add_user("tester@emulator.test")
        self.other_user = self.add_user("someone-else@emulator.test")
        self.direct_session = self.add_session(mode="direct")
        self.battle_session = self.add_session(mode="battle")
        self.foreign_session = self.add_session(mode="direct", owner=self.other_user.id)
        # Answer text for a request body; replace to script answers (default: an echo).
        self.answer_for: Callable[[dict[str, Any]], str] = echo_answer

    # ---- users and sessions ------------------------------------------------------------

    def add_user(self, email: str) -> SiteUser:
        user = SiteUser(id=str(uuid.uuid4()), email=email)
        self.users[user.id] = user
        return user

    def add_session(
        self,
        mode: SessionMode = "direct",
        owner: str | None = None,
        model_id: str = TEXT_MODEL_ID,
        prompt: str = "Hello there",
    ) -> SiteSession:
        """A session with one user turn and its answer(s): one side, or a and b in battles."""
        messages = [SiteMessage(id=uuid7(), role="user", content=prompt)]
        positions = ("a", "b") if mode in ("battle", "side-by-side") else ("a",)
        for pos in positions:
            messages.append(
                SiteMessage(id=uuid7(), role="assistant", position=pos,
                            content=f"Hi, this is side {pos}.", model_id=model_id)
            )
        session = SiteSession(id=uuid7(), owner=owner or self.default_user.id, mode=mode,
                              messages=messages, model_a_id=model_id)
        self.sessions[session.id] = session
        return session

    def used_ids(self) -> set[str]:
        """Every session and message id the site has stored (a client may not reuse them)."""
        ids = set(self.sessions)
        for session in self.sessions.values():
            ids.update(m.id for m in session.messages)
        return ids

    def auth_cookie_for(self, user_id: str, expires_in: float | None = None) -> str:
        """An ``arena-auth-prod-v1`` value: ``base64-`` + base64(Supabase session JSON)."""
        lifetime = self.token_lifetime if expires_in is None else expires_in
        expires_at = int(time.time() + lifetime)
        claims = {"iss": "https://emulator.supabase.co/auth/v1", "aud": "authenticated",
                  "sub": user_id, "role": "authenticated", "exp": expires_at,
                  "session_id": str(uuid.uuid4()), "is_anonymous": True}
        jwt = ".".join(_b64url(json.dumps(part).encode())
                       for part in ({"alg": "HS256", "typ": "JWT"}, claims)) + ".c2lnbmF0dXJl"
        session = {"access_token": jwt, "token_type": "bearer", "expires_in": int(lifetime),
                   "expires_at": expires_at, "refresh_token": uuid.uuid4().hex,
                   "user": {"id": user_id, "aud": "authenticated", "role": "authenticated",
                            "is_anonymous": True}}
        return "base64-" + base64.b64encode(json.dumps(session).encode()).decode()

    def user_from_cookies(self, cookies: dict[str, str]) -> tuple[str | None, str]:
        """(user id, problem): the id of a valid, unexpired auth cookie, else None and why."""
        raw = cookies.get(AUTH_COOKIE)
        if raw is None and f"{AUTH_COOKIE}.0" in cookies:  # the split form
            raw = cookies[f"{AUTH_COOKIE}.0"] + cookies.get(f"{AUTH_COOKIE}.1", "")
        if not raw:
            return None, "no auth cookie"
        try:
            data = json.loads(base64.b64decode(raw.removeprefix("base64-") + "=="))
            user_id = str(data["user"]["id"])
            expires_at = float(data["expires_at"])
        except (ValueError, KeyError, TypeError):
            return None, "malformed auth cookie"
        if user_id not in self.users:
            return None, "unknown user"
        if expires_at < time.time():
            return None, "token expired"
        return user_id, ""

    # ---- failure switches --------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1, **opts: Any) -> None:
        """Make the next ``count`` evaluation requests (create, post or retry) fail with ``kind``.

        See FailureKind. Options: ``retry_after`` (rate_limit, seconds), ``modality``
        (rate_limit), ``status`` (server_error), ``message`` (stream_error, unauthorized...).
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {FAILURE_KINDS}")
        for _ in range(count):
            self.failures.append((kind, dict(opts)))

    def empty_answers(self, count: int = 1) -> None:
        """The next ``count`` evaluation answers are HTTP 200 streams without any text."""
        self.limits.empty += count

    def take_failure(self) -> tuple[str, dict[str, Any]] | None:
        return self.failures.popleft() if self.failures else None

    def fail_recaptcha(self, count: int = 1) -> None:
        """The next ``count`` token checks fail (403) whatever they carry; a good token is
        spent all the same, as a low score spends a real one."""
        self.recaptcha_forced_failures += count

    def solve_challenge(self) -> None:
        self.challenge_active = False

    def mint_recaptcha_token(self, action: str, *, sitekey: str | None = None,
                             issued_at: float | None = None, origin: str = ARENA_ORIGIN,
                             kind: str = "v3") -> str:
        """A token as the fake ``execute`` (or, ``kind="v2"``, a clicked v2 widget) would
        mint it, with any claim overridden.

        For tests that need a token the page could not get (old, other sitekey, other origin).
        """
        default_key = self.recaptcha_v2_sitekey if kind == "v2" else self.recaptcha_sitekey
        return tokens.mint(self.recaptcha_secret, sitekey or default_key, action,
                           time.time() if issued_at is None else issued_at, origin, kind)

    # ---- model registry ----------------------------------------------------------------

    def model(self, model_id: str | None) -> dict[str, Any] | None:
        return next((m for m in self.models if m["id"] == model_id), None)

    def is_image_model(self, model_id: str | None) -> bool:
        found = self.model(model_id)
        return bool(found and "image" in found["capabilities"].get("outputCapabilities", {}))

    # ---- request log -------------------------------------------------------------------

    def _logged(self, *markers: str) -> list[RecordedRequest]:
        return [r for r in self.requests if any(m in r.path for m in markers)]

    @property
    def evaluation_requests(self) -> list[RecordedRequest]:
        """Logged create, post and retry requests (any status), oldest first."""
        return self._logged("/stream/create-evaluation", "/stream/post-to-evaluation/",
                            "/stream/retry-evaluation-session-message/")

    @property
    def create_requests(self) -> list[RecordedRequest]:
        return self._logged("/stream/create-evaluation")

    @property
    def post_requests(self) -> list[RecordedRequest]:
        return self._logged("/stream/post-to-evaluation/")

    @property
    def retry_requests(self) -> list[RecordedRequest]:
        """The logged ``PUT …/retry-evaluation-session-message/…`` requests, oldest first."""
        return self._logged("/retry-evaluation-session-message/")

    @property
    def stop_requests(self) -> list[RecordedRequest]:
        return self._logged("/stream/stop/")

    @property
    def action_requests(self) -> list[RecordedRequest]:
        """Logged server-action calls (``Next-Action`` POSTs to a page, uploads.py)."""
        return [r for r in self.requests if "next-action" in r.headers]

    @property
    def page_loads(self) -> list[RecordedRequest]:
        return [r for r in self.requests
                if r.method == "GET" and not r.path.startswith("/nextjs-api/")]

    def reset(self) -> None:
        """Back to defaults between tests.

        Every knob returns to its declared default and the logs are emptied. Users and the
        seed sessions stay (feedback marks cleared); sessions made by create-evaluation are
        dropped. The token secret and the spent-token set stay, so a token never works twice.
        """
        for f in fields(self):
            if f.name not in _RESET_FIELDS:
                continue
            current = getattr(self, f.name)
            if isinstance(current, list | deque):
                current.clear()  # tests may hold the list itself
            elif f.default_factory is not MISSING:
                setattr(self, f.name, f.default_factory())
            else:
                setattr(self, f.name, f.default)
        self.answer_for = echo_answer
        for sid in [s.id for s in self.sessions.values() if s.from_client]:
            del self.sessions[sid]
        for session in self.sessions.values():
            for message in session.messages:
                message.feedback = False


def echo_answer(body: dict[str, Any]) -> str:
    """``"Echo: "`` + ``userMessage.content``, else the last message content that is not blank."""
    user_message = body.get("userMessage")
    if isinstance(user_message, dict) and isinstance(user_message.get("content"), str):
        return "Echo: " + user_message["content"]
    messages = body.get("messages") or []
    for message in reversed(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and content.strip():
            return "Echo: " + content
    return "Echo: "


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0,
                   interval: float = 0.02, what: str = "condition") -> None:
    """Poll ``predicate`` in the running loop until true; AssertionError after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
