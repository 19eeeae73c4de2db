"""Rendering errors in the shape the client reads (OpenAI's envelope, or Anthropic's on
its routes and for requests that carry ``anthropic-version``); fast JSON responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from lmarena_bridge.apis.anthropic.errors import error_body, status_and_type
from lmarena_bridge.errors import BridgeError

# Paths whose clients read only Anthropic's error shape, whatever went wrong.
_ANTHROPIC_PATHS = ("/messages", "/messages/count_tokens")


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(exc: BridgeError) -> Response:
    return JSONBytes(exc.to_dict(), status_code=exc.status, headers=exc.headers())


def anthropic_error_response(exc: BridgeError) -> Response:
    status, _ = status_and_type(exc)
    return JSONBytes(error_body(exc), status_code=status, headers=exc.headers())


def speaks_anthropic(path: str, headers: Mapping[str, str]) -> bool:
    return path.rstrip("/").endswith(_ANTHROPIC_PATHS) or "anthropic-version" in headers


def error_response_for(
    path: str, headers: Mapping[str, str], exc: BridgeError, extra: Mapping[str, str] | None = None
) -> Response:
    """``exc`` in the error shape of the API the request at ``path`` speaks."""
    response = (
        anthropic_error_response(exc) if speaks_anthropic(path, headers) else error_response(exc)
    )
    if extra:
        response.headers.update(extra)
    return response
