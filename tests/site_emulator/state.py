"""Everything the site emulator knows, as one plain object tests read and change directly.

The emulator runs in the test's own event loop, so tests mutate an ``EmulatorState`` between
(or during) requests without locks. Nothing here is module-level mutable state: two
emulators in one process never share anything.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

# Stable model ids, so tests and the bridge's models.json can name them.
TEXT_MODEL_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"
IMAGE_MODEL_ID = "51ad1d79-61e2-414c-99e3-faeb64bb6b1b"
SEARCH_MODEL_ID = "7a0c9a2e-3f5b-4c1d-9e8f-1b2c3d4e5f60"
VISION_MODEL_ID = "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f"
STEALTH_MODEL_ID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

AUTH_COOKIE = "arena-auth-prod-v1"

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
    "stall",  # 200: some text, then no bytes until the client leaves
]
FAILURE_KINDS: tuple[str, ...] = get_args(FailureKind)


def default_models() -> list[dict[str, Any]]:
    """The model registry shown in the page (SITE_PROTOCOL §3.1 shapes)."""

    def model(mid: str, name: str, caps: dict[str, Any], org: str | None, rank: int) -> dict:
        entry: dict[str, Any] = {"id": mid, "publicName": name, "name": name, "capabilities": caps}
        if org is not None:  # stealth models carry neither organization nor provider
            entry["organization"] = org
            entry["provider"] = org
        entry["rank"] = rank
        return entry

    text_in = {"text": True}
    return [
        model(TEXT_MODEL_ID, "echo-1", {"inputCapabilities": text_in,
              "outputCapabilities": {"text": True}}, "emulator", 1),
        model(IMAGE_MODEL_ID, "echo-image-1", {"inputCapabilities": text_in,
              "outputCapabilities": {"image": {"aspectRatios": ["1:1", "16:9"]}}}, "emulator", 2),
        model(SEARCH_MODEL_ID, "echo-search-1", {"inputCapabilities": text_in,
              "outputCapabilities": {"text": True, "search": True}}, "emulator", 3),
        model(VISION_MODEL_ID, "echo-vision-1", {
            "inputCapabilities": {"text": True, "image": {"requiresUpload": True,
                                                          "multipleImages": True}},
            "outputCapabilities": {"text": True}}, "emulator", 4),
        model(STEALTH_MODEL_ID, "mystery-model", {"inputCapabilities": text_in,
              "outputCapabilities": {"text": True}}, None, 9007199254740991),
    ]


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
    mode: Literal["direct", "battle"]
    messages: list[SiteMessage]

    def message(self, message_id: str) -> SiteMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def assistant(self, position: str = "a") -> SiteMessage:
        return next(m for m in self.messages if m.role == "assistant" and m.position == position)


@dataclass
class Chunking:
    """How the answer's lines become network writes (each write is one ASGI body chunk)."""

    lines_per_write: int = 1
    split_lines: bool = False  # cut every write in two in the middle of a line
    split_utf8: bool = False  # cut writes inside multi-byte characters (after the lead byte)
    delay: float = 0.0  # seconds between writes
    stall_after: int | None = None  # after this many writes, send nothing until the client leaves
    stall_seconds: float = 3600.0


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

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []


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
        mode: Literal["direct", "battle"] = "direct",
        owner: str | None = None,
        model_id: str = TEXT_MODEL_ID,
        prompt: str = "Hello there",
    ) -> SiteSession:
        """A session with one user turn and its answer(s): one in direct, a and b in battle."""
        sid = str(uuid.uuid4())
        messages = [SiteMessage(id=str(uuid.uuid4()), role="user", content=prompt)]
        positions = ("a", "b") if mode == "battle" else ("a",)
        for pos in positions:
            messages.append(
                SiteMessage(id=str(uuid.uuid4()), role="assistant", position=pos,
                            content=f"Hi, this is side {pos}.", model_id=model_id)
            )
        session = SiteSession(id=sid, owner=owner or self.default_user.id, mode=mode,
                              messages=messages)
        self.sessions[sid] = session
        return session

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
        """Make the next ``count`` retry requests fail with ``kind`` (see FailureKind).

        Options: ``retry_after`` (rate_limit, seconds), ``modality`` (rate_limit),
        ``status`` (server_error), ``message`` (stream_error, unauthorized...).
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {FAILURE_KINDS}")
        for _ in range(count):
            self.failures.append((kind, dict(opts)))

    def take_failure(self) -> tuple[str, dict[str, Any]] | None:
        return self.failures.popleft() if self.failures else None

    def solve_challenge(self) -> None:
        self.challenge_active = False

    # ---- model registry ----------------------------------------------------------------

    def model(self, model_id: str | None) -> dict[str, Any] | None:
        return next((m for m in self.models if m["id"] == model_id), None)

    def is_image_model(self, model_id: str | None) -> bool:
        found = self.model(model_id)
        return bool(found and "image" in found["capabilities"].get("outputCapabilities", {}))

    # ---- request log -------------------------------------------------------------------

    @property
    def retry_requests(self) -> list[RecordedRequest]:
        """The logged ``PUT …/retry-evaluation-session-message/…`` requests, oldest first."""
        return [r for r in self.requests if "/retry-evaluation-session-message/" in r.path]

    @property
    def page_loads(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET"]

    def reset(self) -> None:
        """Back to defaults between tests (sessions and users stay)."""
        self.requests.clear()
        self.failures.clear()
        self.chunking = Chunking()
        self.chars_per_delta = 8
        self.reasoning = None
        self.images_per_answer = 1
        self.max_body_bytes = 5 * 1024 * 1024
        self.challenge_active = False
        self.auto_login = True
        self.page_variant = "initialModels"
        self.answer_for = echo_answer
        for session in self.sessions.values():
            for message in session.messages:
                message.feedback = False


def echo_answer(body: dict[str, Any]) -> str:
    """``"Echo: "`` + the content of the last message whose content is not blank."""
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
