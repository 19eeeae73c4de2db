"""Bridge errors in Anthropic's shape: ``{"type": "error", "error": {"type", "message"}}``
with the real API's error types and statuses (the SDKs pick their exception class, and
whether to retry, from the status). Rendered by http/responses.py."""

from __future__ import annotations

from typing import Any

from lmarena_bridge.errors import BridgeError

OVERLOADED = 529  # the real API's status when it cannot serve now; clients retry it

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",  # no tab can serve (none connected, all waiting for a person)
    504: "timeout_error",
    OVERLOADED: "overloaded_error",
}


def status_and_type(exc: BridgeError) -> tuple[int, str]:
    status = OVERLOADED if exc.status == 503 else exc.status
    kind = _TYPES.get(status)
    if kind is None:
        kind = "invalid_request_error" if status < 500 else "api_error"
    return status, kind


def error_body(exc: BridgeError) -> dict[str, Any]:
    _, kind = status_and_type(exc)
    return {"type": "error", "error": {"type": kind, "message": exc.message}}
