"""What a request may be: body size, JSON bodies on JSON routes, and the size of a chat request.

Every limit answers in OpenAI's envelope, before any expensive work: a body over
``max_request_body_bytes`` is refused from its ``Content-Length`` (or as soon as a chunked
body passes the limit), and the message and stop counts are checked on the parsed JSON
before it is validated into models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmarena_bridge.config.model import Settings
from lmarena_bridge.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from lmarena_bridge.http.responses import error_response_for
from lmarena_bridge.protocol.openai import ONLY_ONE_CHOICE

# OpenAI's own limit on ``stop``.
MAX_STOP_SEQUENCES = 4
# Content types a browser page may send cross-site without a preflight are not JSON types,
# so accepting only JSON keeps forms and ``no-cors`` fetches out of the JSON routes.
_JSON_TYPES = frozenset({"application/json", "text/json"})


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than {limit} bytes, the most this bridge accepts "
        "(max_request_body_bytes in config.jsonc)."
    )


class BodyLimit:
    """ASGI middleware: refuse HTTP bodies over ``max_request_body_bytes`` with a 413.

    A declared ``Content-Length`` over the limit is answered at once; a body without one is
    counted as it is read, and the read that passes the limit raises ``PayloadTooLarge`` in
    the handler (rendered by the app's error handler).
    """

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.settings().max_request_body_bytes
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit():
                if int(value) > limit:
                    response = error_response_for(
                        scope["path"], Headers(scope=scope), _too_large(limit)
                    )
                    await response(scope, receive, send)
                else:  # the server never reads past a declared length
                    await self.app(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, counted, send)


def require_json(headers: Mapping[str, str]) -> None:
    """Raise 415 unless the body is declared as JSON (``application/json``, ``*/*+json``).

    No ``Content-Type`` at all is taken as JSON (scripts often send none, and a browser
    page cannot send a body cross-site without one or an ``Origin``, which is checked
    first). ``text/plain``, forms and multipart are what other sites' pages can send
    without asking, so they are refused.
    """
    raw = headers.get("content-type")
    if raw is None or not raw.strip():
        return
    media = raw.split(";", 1)[0].strip().lower()
    if media in _JSON_TYPES or media.endswith("+json"):
        return
    raise UnsupportedMediaType(
        f"The request body must be JSON sent as 'Content-Type: application/json', not "
        f"{media or raw!r} (with curl: -H 'Content-Type: application/json').",
    )


def check_message_count(data: Mapping[str, Any], settings: Settings, field: str) -> None:
    """400 when the list of turns ``data[field]`` holds more than ``max_messages``."""
    turns = data.get(field)
    if isinstance(turns, list) and len(turns) > settings.max_messages:
        raise InvalidRequest(
            f"Invalid '{field}': array too long. Expected an array with maximum length "
            f"{settings.max_messages}, but got an array with length {len(turns)} instead "
            "(max_messages in config.jsonc).",
            param=field,
            code="array_above_max_length",
        )


def check_chat_limits(data: Mapping[str, Any], settings: Settings) -> None:
    """400 for a chat request with more messages than ``max_messages``, more than four
    stop sequences, or an ``n`` other than 1 (checked on the raw JSON, before validation, so
    a huge list costs little and every ``n`` gets the same message)."""
    check_message_count(data, settings, "messages")
    n = data.get("n")
    if n.__class__ is int and n != 1:
        raise InvalidRequest(f"{ONLY_ONE_CHOICE} (got n={n})", param="n")
    stop = data.get("stop")
    if isinstance(stop, list) and len(stop) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(
            f"Invalid 'stop': array too long. Expected an array with maximum length "
            f"{MAX_STOP_SEQUENCES}, but got an array with length {len(stop)} instead.",
            param="stop",
            code="array_above_max_length",
        )
