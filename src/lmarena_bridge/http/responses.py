"""Rendering errors as OpenAI's envelope; fast JSON responses."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from lmarena_bridge.errors import BridgeError


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(exc: BridgeError) -> Response:
    return JSONBytes(exc.to_dict(), status_code=exc.status, headers=exc.headers())
