"""An offline emulator of arena.ai (ex-LMArena) for end-to-end tests.

One Starlette app (``create_emulator(state)``) on one port, routed by the Host header; map
``MAPPED_HOSTS`` onto it in Chromium (``--host-resolver-rules``) over TLS (``make_cert``):

- ``arena.ai`` (or any unlisted host, e.g. 127.0.0.1): pages ``/``, ``/c/{id}``, ``/direct``,
  ``/text/direct`` … (``app.PAGE_PATHS``) and the stream endpoints (evaluation.py):
  ``POST /nextjs-api/stream/create-evaluation`` and ``…/post-to-evaluation/{id}`` (token
  action ``chat_submit``), ``PUT …/retry-evaluation-session-message/{sid}/messages/{mid}``
  (``chat_retry``), ``POST …/stop/{sid}/messages/{userMessageId}`` (no token). Other methods
  on these paths: 405. Test-only: ``POST /__emulator/solve``, ``GET /__emulator/challenge``.
- ``lmarena.ai``, ``*.lmarena.ai``: 301 to ``https://arena.ai`` + same path and query.
- ``www.google.com``, ``www.recaptcha.net``: ``GET /recaptcha/enterprise.js?render=<key>``
  (fake ``grecaptcha.enterprise``: ``ready``, ``execute``, stub ``render``) and
  ``POST /recaptcha/enterprise/__mint`` (``recaptcha.MINT_PATH``), CORS for arena.ai only.

Rules enforced: Zod-shaped 400s (``userMessage`` with object ``metadata``, UUIDv7 ids within
ten minutes, ``mode``/``modality`` enums, ``modelAId``/``modelBId`` by mode; retry
``messages[i].metadata`` an object), single-use tokens checked for presence, signature,
reuse, age, sitekey, action and minting origin (403 ``recaptcha validation failed``), 400
``duplicate id: …``, server-side history (retry answers the stored turn), heartbeats.

``EmulatorState`` knobs (``reset()`` restores them; see state.py for all fields):

- answers: ``answer_for(body) -> str`` (default ``echo_answer``: "Echo: " + userMessage
  content, for retry the stored turn), ``chunking`` (``Chunking``), ``chars_per_delta``,
  ``reasoning``, ``images_per_answer``, ``image_as_base64``, ``routed_model``,
  ``heartbeat_interval`` (0.5 s; None: heartbeat only as first line).
- site rules: ``max_body_bytes`` (413), ``max_prompt_chars`` (429 prompt failed),
  ``direct_battle_turns`` (None: unlimited posts in a direct-battle session),
  ``challenge_active``, ``auto_login``, ``page_variant``.
- reCAPTCHA: ``recaptcha_sitekey``, ``recaptcha_mode`` ("ok" | "unavailable"),
  ``recaptcha_token_max_age`` (120 s), ``page_has_recaptcha_script``,
  ``fail_recaptcha(count)``, ``mint_recaptcha_token(action, sitekey=, issued_at=, origin=)``.
- failures: ``fail_next(kind, count, **opts)`` or ``[[emulate:kind]]`` in the prompt, kinds
  ``FAILURE_KINDS``: challenge, unauthorized, feedback, invalid, recaptcha, too_large,
  content_policy, rate_limit, server_error, prompt_failed (non-stream), and stream_error,
  content_filter, stall, silent_stall, arena_error (200 streams).
- logs: ``requests``, ``evaluation_requests``, ``create_requests``, ``post_requests``,
  ``retry_requests``, ``stop_requests``, ``page_loads``, ``redirects``,
  ``recaptcha_checks`` (``RecaptchaCheck``), ``recaptcha_mints``, ``sessions``,
  ``running_streams``.
"""

from .app import create_emulator
from .hosts import MAPPED_HOSTS
from .ids import uuid7
from .recaptcha import MINT_PATH
from .state import (
    DEFAULT_RECAPTCHA_SITEKEY,
    FAILURE_KINDS,
    IMAGE_MODEL_ID,
    SEARCH_MODEL_ID,
    STEALTH_MODEL_ID,
    TEXT_MODEL_ID,
    VISION_MODEL_ID,
    Chunking,
    EmulatorState,
    RecaptchaCheck,
    RecaptchaMint,
    RecordedRequest,
    SiteMessage,
    SiteSession,
    SiteUser,
    echo_answer,
    wait_for,
)
from .tls import make_cert

__all__ = [
    "DEFAULT_RECAPTCHA_SITEKEY",
    "FAILURE_KINDS",
    "IMAGE_MODEL_ID",
    "MAPPED_HOSTS",
    "MINT_PATH",
    "SEARCH_MODEL_ID",
    "STEALTH_MODEL_ID",
    "TEXT_MODEL_ID",
    "VISION_MODEL_ID",
    "Chunking",
    "EmulatorState",
    "RecaptchaCheck",
    "RecaptchaMint",
    "RecordedRequest",
    "SiteMessage",
    "SiteSession",
    "SiteUser",
    "create_emulator",
    "echo_answer",
    "make_cert",
    "uuid7",
    "wait_for",
]
