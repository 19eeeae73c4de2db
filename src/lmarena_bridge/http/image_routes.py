"""``POST /v1/images/generations``: a thin route over ImageService."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Request
from starlette.responses import Response

from lmarena_bridge.errors import BridgeError
from lmarena_bridge.http.openai_routes import authorise, parse_body
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.protocol.openai import ImageGenerationRequest
from lmarena_bridge.relay.observer import RequestRecord

router = APIRouter()


async def _until_disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


@router.post("/v1/images/generations")
@router.post("/api/v1/images/generations", include_in_schema=False)
@router.post("/images/generations", include_in_schema=False)
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
    work = asyncio.ensure_future(bridge.images.generate(req, rec))
    watch = asyncio.ensure_future(_until_disconnected(request))
    try:
        await asyncio.wait((work, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, BridgeError):
                await work
    if work.cancelled():
        return Response(status_code=499)
    return JSONBytes(work.result())
