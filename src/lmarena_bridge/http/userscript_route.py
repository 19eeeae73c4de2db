"""GET /userscript.user.js: our userscript with this bridge's own address filled in."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.http.routing import Routes

routes = Routes()

DEFAULT_BRIDGE_URL = "http://127.0.0.1:5102"


def userscript_source() -> str:
    return (
        resources.files("lmarena_bridge")
        .joinpath("userscript/lmarena-bridge.user.js")
        .read_text(encoding="utf-8")
    )


def bridge_base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


@routes.get("/userscript.user.js")
async def userscript(request: Request) -> Response:
    text = userscript_source().replace(DEFAULT_BRIDGE_URL, bridge_base_url(request))
    return Response(
        text,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )
