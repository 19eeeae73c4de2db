"""The 2026 site's evaluation requests, built whole by the bridge (docs/site-protocol.md).

Pure. :class:`Evaluation` holds what one OpenAI request asks of the site; every call of
:meth:`Evaluation.attempt` gives a new ``site_request`` payload with fresh UUIDv7 ids
(the site refuses ids it has seen). The tab adds the reCAPTCHA token and nothing else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

from lmarena_bridge.protocol.worker import (
    AttachmentPayload,
    Capability,
    RecaptchaSpec,
    SiteRequestPayload,
)

# The capability a tab needs to send an Evaluation (docs/worker-protocol.md).

STREAM_PREFIX = "/nextjs-api/stream"
CREATE_PATH = f"{STREAM_PREFIX}/create-evaluation"

SiteMode = Literal["direct", "direct-battle", "battle", "side-by-side"]
Modality = Literal["chat", "search", "image", "webdev", "video"]

# The site's reCAPTCHA actions: chat_submit for create and post, chat_retry for retry.
SUBMIT_ACTION = "chat_submit"
RETRY_ACTION = "chat_retry"


def uuid7(now_ms: int | None = None, rand: Callable[[int], bytes] = os.urandom) -> str:
    """A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, random.

    The standard library gains ``uuid.uuid7`` only in Python 3.14.
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(rand(10), "big")
    value = value & ~(0xF << 76) | (0x7 << 76)  # version
    value = value & ~(0x3 << 62) | (0x2 << 62)  # variant
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def post_path(session_id: str) -> str:
    return f"{STREAM_PREFIX}/post-to-evaluation/{session_id}"


def stop_path(session_id: str, user_message_id: str) -> str:
    return f"{STREAM_PREFIX}/stop/{session_id}/messages/{user_message_id}"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One turn for the site: a new session (``session_id`` None) or a post to an existing one.

    ``content`` is the whole user message text (the transcript, see site/transcript.py).
    ``mode`` ``battle`` names no model; ``side-by-side`` needs ``model_b_id``.
    """

    mode: SiteMode
    modality: Modality
    content: str
    model_a_id: str | None = None
    model_b_id: str | None = None
    attachments: tuple[AttachmentPayload, ...] = ()
    session_id: str | None = None
    recaptcha_retries: int = 1
    # How long the tab's visible v2 check waits for a person (None: no v2 step).
    human_check_seconds: float | None = None

    requires: ClassVar[str] = Capability.SITE_REQUEST

    def with_files(self, uploaded: Mapping[str, AttachmentPayload]) -> Evaluation:
        """This evaluation with every attachment whose URL ``uploaded`` names replaced."""
        return replace(self, attachments=tuple(uploaded.get(a.url, a) for a in self.attachments))

    def attempt(self, new_id: Callable[[], str] = uuid7) -> SiteRequestPayload:
        """The payload for one attempt, with ids no earlier attempt used."""
        session_id = self.session_id or new_id()
        user_message_id = new_id()
        body: dict[str, Any] = {"id": session_id, "mode": self.mode}
        if self.mode != "battle" and self.model_a_id is not None:
            body["modelAId"] = self.model_a_id
        if self.mode == "side-by-side" and self.model_b_id is not None:
            body["modelBId"] = self.model_b_id
        body["userMessageId"] = user_message_id
        body["modelAMessageId"] = new_id()
        if self.mode in ("battle", "side-by-side"):
            body["modelBMessageId"] = new_id()
        body["userMessage"] = {
            "content": self.content,
            "experimental_attachments": [a.model_dump() for a in self.attachments],
            # An object, never null: the site's schema refuses null since Nov 2025.
            "metadata": {},
        }
        body["modality"] = self.modality
        return SiteRequestPayload(
            method="POST",
            path=post_path(session_id) if self.session_id else CREATE_PATH,
            body=body,
            recaptcha=RecaptchaSpec(
                action=SUBMIT_ACTION,
                v3_retries=self.recaptcha_retries,
                v2_timeout_seconds=self.human_check_seconds,
            ),
            stop_path=stop_path(session_id, user_message_id),
        )


# The ids an attempt mints (a post's session id is the site's own and stays).
_FRESH_IDS = ("id", "userMessageId", "modelAMessageId", "modelBMessageId")


def uuid7_ms(value: str) -> int | None:
    """The Unix milliseconds inside a UUIDv7 (None for anything else)."""
    hexes = value.replace("-", "").lower()
    if len(hexes) != 32 or hexes[12] != "7":
        return None
    try:
        return int(hexes[:12], 16)
    except ValueError:
        return None


def on_site_clock(payload: dict[str, Any], site_ms: int) -> None:
    """Re-time, in place, the ids an attempt minted in a ``site_request`` payload dict to
    the site's clock (``site_ms``, its Unix milliseconds); the ids' random bits and their
    order stay. The site refuses ids far from its own clock ("offset too big")."""
    body = payload.get("body")
    if payload.get("type") != "site_request" or not isinstance(body, dict):
        return
    keys = [k for k in _FRESH_IDS if k != "id" or payload.get("path") == CREATE_PATH]
    stamps = {k: uuid7_ms(body[k]) for k in keys if isinstance(body.get(k), str)}
    known = {k: ms for k, ms in stamps.items() if ms is not None}
    if not known:
        return
    first = min(known.values())
    renamed: dict[str, str] = {}
    for key, ms in known.items():
        old = body[key]
        h = f"{(site_ms + ms - first) & 0xFFFF_FFFF_FFFF:012x}" + old.replace("-", "")[12:]
        body[key] = renamed[old] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    for name in ("path", "stop_path"):
        value = payload.get(name)
        if isinstance(value, str):
            for old, new in renamed.items():
                value = value.replace(old, new)
            payload[name] = value
