"""``POST /v1/images/generations``: a thin route over ImageService."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.http.openai_routes import authorise, parse_body
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, unless_disconnected
from lmarena_bridge.protocol.openai import ImageGenerationRequest
from lmarena_bridge.relay.observer import RequestRecord

routes = Routes()


@routes.post("/v1/images/generations", "/api/v1/images/generations", "/images/generations")
async def images_generations(request: Request) -> Response:
    bridge = authorise(request)
    req = await parse_body(request, ImageGenerationRequest)
    rec = RequestRecord(
        request_id=request.headers.get("x-request-id") or f"req-{id(request):x}",
        endpoint="images",
        model=req.model or "",
        stream=False,
    )
    bridge.observers.request_started(rec)
    # A client that hangs up must still abort the tabs' site requests.
    finished, body = await unless_disconnected(request, bridge.images.generate(req, rec))
    return JSONBytes(body) if finished else Response(status_code=499)
