"""``POST /v1/images/generations``: a thin route over ImageService."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.http.auth import require_api_key
from lmarena_bridge.http.bodies import parse_body
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of, unless_disconnected
from lmarena_bridge.protocol.openai import ImageGenerationRequest

routes = Routes(guard=require_api_key)


@routes.post("/v1/images/generations", "/api/v1/images/generations", "/images/generations")
async def images_generations(request: Request) -> Response:
    bridge = bridge_of(request)
    req = await parse_body(request, ImageGenerationRequest)
    # A client that hangs up must still abort the tabs' site requests.
    work = bridge.images.generate(req, request.headers.get("x-request-id") or None)
    finished, body = await unless_disconnected(request, work)
    return JSONBytes(body) if finished else Response(status_code=499)
