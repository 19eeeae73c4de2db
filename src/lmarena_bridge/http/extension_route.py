"""GET /extension.zip: the page script as a Manifest V3 extension, with this bridge's own
address filled in (as /userscript.user.js). Host and Origin are checked by
http/origins.py's AccessGuard like every other path."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.browser.extension import extension_zip
from lmarena_bridge.http.routing import Routes
from lmarena_bridge.http.userscript_route import bridge_base_url

routes = Routes()

ZIP_NAME = "lmarena-bridge-extension.zip"


@routes.get("/extension.zip")
async def extension(request: Request) -> Response:
    body = await asyncio.to_thread(extension_zip, bridge_base_url(request))
    return Response(
        body,
        media_type="application/zip",
        headers={
            "Cache-Control": "no-cache",
            "Content-Disposition": f'attachment; filename="{ZIP_NAME}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
