"""The OpenAI Responses API route: ``POST /v1/responses`` (also under ``/api/v1`` and bare).

Thin: parse, translate (apis/responses), serve through the one lifecycle
(http/serving.py). Errors use OpenAI's envelope, as on the chat route.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.apis.responses.call import responses_call
from lmarena_bridge.apis.responses.wire import ResponsesRequest
from lmarena_bridge.http.auth import require_api_key
from lmarena_bridge.http.bodies import read_json, validate
from lmarena_bridge.http.limits import check_message_count
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.http.serving import ignored_header, serve_call

routes = Routes(guard=require_api_key)


@routes.post("/v1/responses", "/api/v1/responses", "/responses")
async def create_response(request: Request) -> Response:
    data = await read_json(request)
    check_message_count(data, bridge_of(request).settings, "input")
    served = responses_call(validate(ResponsesRequest, data), created_at=int(time.time()))
    return await serve_call(request, served.call, headers=ignored_header(served.ignored))
