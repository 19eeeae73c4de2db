"""The one adapter from an answering route to the lifecycle (relay/lifecycle.py): run the
call while watching for the client hanging up, and send its body or its stream."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from lmarena_bridge.errors import BridgeError
from lmarena_bridge.http.responses import JSONBytes, error_response
from lmarena_bridge.http.routing import bridge_of, unless_disconnected
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.lifecycle import Served

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
CLIENT_CLOSED = 499
IGNORED_HEADER = "X-Bridge-Ignored-Params"


def ignored_header(ignored: list[str]) -> dict[str, str]:
    """The header naming request fields the bridge accepted but cannot honour."""
    return {IGNORED_HEADER: ", ".join(ignored)} if ignored else {}


async def serve_call(
    request: Request,
    call: ClientCall,
    *,
    headers: dict[str, str] | None = None,
    render_error: Callable[[BridgeError], Response] = error_response,
) -> Response:
    """Serve ``call``: its body, or its stream once the first frame is ready.

    From arrival to the first byte (queue wait included) a client that hangs up cancels
    the work at once, which aborts the tab's site request; once the stream has started,
    the streaming response itself watches for the disconnect. Errors before the first
    byte are rendered by ``render_error`` (the API's own error shape).
    """
    extra = headers or {}
    if call.client_request_id is None:
        call.client_request_id = request.headers.get("x-request-id") or None
    try:
        finished, served = await unless_disconnected(
            request, bridge_of(request).answers.serve(call)
        )
    except BridgeError as exc:
        return render_error(exc)
    if not finished:
        return Response(status_code=CLIENT_CLOSED)
    assert isinstance(served, Served)
    if served.frames is None:
        return JSONBytes(served.body, headers=extra)
    return StreamingResponse(
        served.frames, media_type="text/event-stream", headers={**SSE_HEADERS, **extra}
    )
