"""Zod-shaped body checks of the stream endpoints, with the issue objects Zod 3 produces.

Each check returns a list of issues (empty: valid); ``zod_error`` wraps them in the site's
400 body ``{"success":false,"error":{"issues":[…],"name":"ZodError"}}``. Like Zod, every
problem is reported at once and unknown keys pass (the token field is checked by
recaptcha.py, not here).
"""

from __future__ import annotations

import time
from typing import Any

from .ids import uuid7_problem

MODES = ("direct", "direct-battle", "battle", "side-by-side")
MODALITIES = ("chat", "webdev", "search", "image", "p2l", "video")
TWO_SIDED = ("battle", "side-by-side")

Issue = dict[str, Any]
Path = list[str | int]
_ABSENT = object()


def zod_type(value: Any) -> str:
    """Zod's name for the runtime type of ``value`` (``_ABSENT``: a missing key)."""
    if value is _ABSENT:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "unknown"


def type_issue(path: Path, expected: str, value: Any) -> Issue:
    received = zod_type(value)
    message = "Required" if received == "undefined" else f"Expected {expected}, received {received}"
    return {"code": "invalid_type", "expected": expected, "received": received, "path": path,
            "message": message}


def zod_error(issues: list[Issue]) -> dict[str, Any]:
    return {"success": False, "error": {"issues": issues, "name": "ZodError"}}


def _get(body: dict[str, Any], key: str) -> Any:
    return body.get(key, _ABSENT)


def _typed(body: dict[str, Any], key: str, expected: str, issues: list[Issue],
           path: Path | None = None, optional: bool = False) -> Any:
    value = _get(body, key)
    if value is _ABSENT and optional:
        return None
    if zod_type(value) != expected:
        issues.append(type_issue([*(path or []), key], expected, value))
        return None
    return value


def _enum(body: dict[str, Any], key: str, options: tuple[str, ...], issues: list[Issue],
          optional: bool = False) -> str | None:
    value = _get(body, key)
    if value is _ABSENT and optional:
        return None
    if isinstance(value, str) and value in options:
        return value
    if not isinstance(value, str):
        issues.append(type_issue([key], "string", value))
        return None
    listed = " | ".join(f"'{o}'" for o in options)
    issues.append({"received": value, "code": "invalid_enum_value", "options": list(options),
                   "path": [key], "message": f"Invalid enum value. Expected {listed}, "
                                             f"received '{value}'"})
    return None


def _uuid7(body: dict[str, Any], key: str, issues: list[Issue], now_ms: int,
           new: bool = True, optional: bool = False) -> None:
    value = _typed(body, key, "string", issues, optional=optional)
    if value is None:
        return
    problem = uuid7_problem(value, now_ms, check_time=new)
    if problem == "uuid":
        issues.append({"validation": "uuid", "code": "invalid_string", "message": "Invalid uuid",
                       "path": [key]})
    elif problem:
        issues.append({"code": "custom", "message": problem, "path": [key]})


def _user_message(body: dict[str, Any], issues: list[Issue]) -> None:
    message = _typed(body, "userMessage", "object", issues)
    if message is None:
        return
    path: Path = ["userMessage"]
    _typed(message, "content", "string", issues, path)
    attachments = _typed(message, "experimental_attachments", "array", issues, path)
    for i, item in enumerate(attachments or []):
        where: Path = [*path, "experimental_attachments", i]
        if not isinstance(item, dict):
            issues.append(type_issue(where, "object", item))
            continue
        for key in ("name", "contentType", "url"):
            _typed(item, key, "string", issues, where)
    _typed(message, "metadata", "object", issues, path)


def evaluation_issues(body: Any, session_id: str | None = None,
                      session_mode: str | None = None, now_ms: int | None = None) -> list[Issue]:
    """Issues of a create-evaluation body, or (with ``session_id``) a post-to-evaluation body.

    Create: every id is a new UUIDv7 (time within ten minutes). Post: ``id`` must be the
    session's (its time is not checked: the session may be old) and ``mode`` may be left out,
    the session's mode then applies (``session_mode``).
    """
    if not isinstance(body, dict):
        return [type_issue([], "object", body)]
    issues: list[Issue] = []
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms  # the site's clock
    posting = session_id is not None
    _uuid7(body, "id", issues, now_ms, new=not posting)
    if posting and isinstance(body.get("id"), str) and body["id"] != session_id:
        issues.append({"code": "custom", "message": "id does not match the evaluation session",
                       "path": ["id"]})
    mode = _enum(body, "mode", MODES, issues, optional=posting) or session_mode
    _enum(body, "modality", MODALITIES, issues)
    _uuid7(body, "userMessageId", issues, now_ms)
    _uuid7(body, "modelAMessageId", issues, now_ms)
    _uuid7(body, "modelBMessageId", issues, now_ms, optional=mode not in TWO_SIDED)
    _user_message(body, issues)
    if mode != "battle":  # a battle picks both models itself
        _typed(body, "modelAId", "string", issues)
    if mode == "side-by-side":
        _typed(body, "modelBId", "string", issues)
    elif "modelBId" in body:
        issues.append({"code": "custom", "message": "modelBId is only allowed in side-by-side "
                                                    "mode", "path": ["modelBId"]})
    return issues


def retry_issues(body: Any) -> list[Issue]:
    """Issues of a retry body: ``messages`` an array whose items carry object ``metadata``.

    The older, stricter rules (parent chain, statuses, ``modelId``) stay in evaluation.py's
    ``valid_chain`` and answer the site's 400 "Invalid content".
    """
    if not isinstance(body, dict):
        return [type_issue([], "object", body)]
    issues: list[Issue] = []
    messages = _typed(body, "messages", "array", issues)
    for i, message in enumerate(messages or []):
        if not isinstance(message, dict):
            issues.append(type_issue(["messages", i], "object", message))
            continue
        _typed(message, "metadata", "object", issues, ["messages", i])
    return issues
