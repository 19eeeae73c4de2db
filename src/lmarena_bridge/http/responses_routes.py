"""The OpenAI Responses API route: ``POST /v1/responses`` (also under ``/api/v1`` and bare).

Thin: parse, authorise, translate (apis/responses), serve through the one lifecycle
(http/serving.py). Errors use OpenAI's envelope, as on the chat route.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.apis.responses.call import responses_call
from lmarena_bridge.apis.responses.wire import ResponsesRequest
from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.http.openai_routes import authorise, ignored_header, read_json, validate
from lmarena_bridge.http.routing import Routes
from lmarena_bridge.http.serving import serve_call

routes = Routes()


@routes.post("/v1/responses", "/api/v1/responses", "/responses")
async def create_response(request: Request) -> Response:
    bridge = authorise(request)
    data = await read_json(request)
    items = data.get("input")
    limit = bridge.settings.max_messages
    if isinstance(items, list) and len(items) > limit:
        raise InvalidRequest(
            f"Invalid 'input': array too long. Expected an array with maximum length {limit}, "
            f"but got an array with length {len(items)} instead (max_messages in "
            "config.jsonc).",
            param="input",
            code="array_above_max_length",
        )
    served = responses_call(validate(ResponsesRequest, data), created_at=int(time.time()))
    return await serve_call(request, served.call, headers=ignored_header(served.ignored))
