"""The 2026 site's evaluation requests, built whole by the bridge (docs/site-protocol.md).

Pure. :class:`Evaluation` holds what one OpenAI request asks of the site; every call of
:meth:`Evaluation.attempt` gives a new ``site_request`` payload with fresh UUIDv7 ids
(the site refuses ids it has seen). The tab adds the reCAPTCHA token and nothing else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from lmarena_bridge.protocol.worker import AttachmentPayload, RecaptchaSpec, SiteRequestPayload

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
