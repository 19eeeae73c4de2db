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
  Models and files (uploads.py): ``GET /nextjs-api/model-catalog`` (catalog.py), script
  chunks under ``/_next/static/chunks/`` (one names the upload server actions), server
  actions ``POST <page>`` with ``Next-Action: <id>`` (``generateUploadUrl``, ``getSignedUrl``),
  ``GET /nextjs-api/images/<n>.png`` (generated images, auth cookie needed).
- ``uploads.emulator.test``: the file store (store.py): presigned ``PUT``/``GET`` with
  ``X-Amz-Date``/``X-Amz-Expires`` expiry, CORS for https://arena.ai only.
- ``www.google.com``, ``www.recaptcha.net``: ``GET /recaptcha/enterprise.js?render=<key>``
  (fake ``grecaptcha.enterprise``: ``ready``, ``execute``, ``render`` draws the visible v2
  widget, a button ``#emulator-recaptcha-v2-checkbox`` that a test clicks) and
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
  ``heartbeat_interval`` (0.5 s; None: heartbeat only as first line), ``image_urls``
  ("external" unreachable host, "store" signed URL of the file store, "site" arena.ai).
- site rules: ``max_body_bytes`` (413), ``max_prompt_chars`` (429 prompt failed),
  ``direct_battle_turns`` (None: unlimited posts in a direct-battle session),
  ``challenge_active``, ``auto_login``, ``page_variant``.
- reCAPTCHA: ``recaptcha_sitekey``, ``recaptcha_v2_sitekey``, ``recaptcha_mode`` ("ok" |
  "unavailable" | "low_score": every v3 token fails, only a v2 token from a clicked widget
  passes | "v2_fails": v2 tokens fail too), ``recaptcha_token_max_age`` (120 s, v2 too),
  ``page_has_recaptcha_script``, ``fail_recaptcha(count)``,
  ``mint_recaptcha_token(action, sitekey=, issued_at=, origin=, kind=)``. A body with
  ``recaptchaV2Token`` is checked as the v2 resend (a v2 token, single use, v2 sitekey, no
  ``recaptchaV3Token`` beside it).
- models and files: ``models`` (the page's ``initialModels``), ``catalog_extra`` ((arena,
  model) pairs only the catalog lists), ``catalog_available``, ``upload_actions_advertised``
  (False: no chunk names the upload actions), ``upload_url_lifetime``,
  ``signed_url_lifetime``, ``store`` (``UploadStore``: objects, ``presign``); a model whose
  ``inputCapabilities.image.requiresUpload`` is true refuses attachments that are not signed
  URLs of the store (400).
- failures: ``fail_next(kind, count, **opts)`` or ``[[emulate:kind]]`` in the prompt, kinds
  ``FAILURE_KINDS``: challenge, unauthorized, feedback, invalid, recaptcha, too_large,
  content_policy, rate_limit, server_error, prompt_failed (non-stream), and stream_error,
  content_filter, stall, silent_stall, arena_error (200 streams).
- logs: ``requests``, ``evaluation_requests``, ``create_requests``, ``post_requests``,
  ``retry_requests``, ``stop_requests``, ``action_requests``, ``page_loads``, ``redirects``,
  ``asset_requests`` (chunks and file store),
  ``recaptcha_checks`` (``RecaptchaCheck``), ``recaptcha_mints``, ``sessions``,
  ``running_streams``.
"""

from .app import create_emulator
from .catalog import CODE_MODEL_ID, RETIRED_MODEL_ID, model_catalog
from .hosts import MAPPED_HOSTS, UPLOADS_HOST
from .ids import uuid7
from .recaptcha import MINT_PATH, V2_CHECKBOX_ID
from .state import (
    DEFAULT_RECAPTCHA_SITEKEY,
    DEFAULT_RECAPTCHA_V2_SITEKEY,
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
from .store import UPLOADS_ORIGIN, UploadStore
from .tls import make_cert
from .uploads import ACTION_IDS

__all__ = [
    "ACTION_IDS",
    "CODE_MODEL_ID",
    "DEFAULT_RECAPTCHA_SITEKEY",
    "DEFAULT_RECAPTCHA_V2_SITEKEY",
    "FAILURE_KINDS",
    "IMAGE_MODEL_ID",
    "MAPPED_HOSTS",
    "MINT_PATH",
    "RETIRED_MODEL_ID",
    "SEARCH_MODEL_ID",
    "STEALTH_MODEL_ID",
    "TEXT_MODEL_ID",
    "UPLOADS_HOST",
    "UPLOADS_ORIGIN",
    "V2_CHECKBOX_ID",
    "VISION_MODEL_ID",
    "Chunking",
    "EmulatorState",
    "RecaptchaCheck",
    "RecaptchaMint",
    "RecordedRequest",
    "SiteMessage",
    "SiteSession",
    "SiteUser",
    "UploadStore",
    "create_emulator",
    "echo_answer",
    "make_cert",
    "model_catalog",
    "uuid7",
    "wait_for",
]
