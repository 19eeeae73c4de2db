"""create_app: builds the bridge's state and wires the HTTP/WebSocket routes onto it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from lmarena_bridge import __version__
from lmarena_bridge.bridge import Bridge
from lmarena_bridge.config.defaults import ensure_default_files
from lmarena_bridge.config.store import ConfigStore
from lmarena_bridge.errors import BridgeError, InvalidRequest
from lmarena_bridge.http import monitor as monitor_routes
from lmarena_bridge.http import openai_routes, userscript_route, worker_ws
from lmarena_bridge.http.image_routes import router as image_router
from lmarena_bridge.http.internal_routes import router as internal_router
from lmarena_bridge.http.responses import JSONBytes, error_response

log = logging.getLogger(__name__)


def create_app(config_dir: Path | str, *, watch_config: bool = True) -> FastAPI:
    """Build the app: config files (created with defaults if missing), pool, relay, routes.

    Background work (the config file watcher) runs in the app's lifespan.
    """
    config_dir = Path(config_dir)
    ensure_default_files(config_dir)
    store = ConfigStore(config_dir)
    bridge = Bridge(store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        watcher = asyncio.create_task(store.watch(stop)) if watch_config else None
        ticker = asyncio.create_task(bridge.monitor.run())
        try:
            yield
        finally:
            stop.set()
            ticker.cancel()
            bridge.monitor.close()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher

    app = FastAPI(
        title="LMArena Bridge",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.bridge = bridge

    @app.exception_handler(BridgeError)
    async def _bridge_error(request: Request, exc: BridgeError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first["loc"] if p != "body") or None
        return error_response(InvalidRequest(f"Invalid request: {first['msg']}.", param=param))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        err = BridgeError(
            str(exc.detail) if exc.detail else "Request failed.",
            status=exc.status_code,
            type="invalid_request_error",
            code=code,
        )
        if exc.status_code == 404:
            err.message = f"Unknown path {request.url.path}."
        return JSONBytes(err.to_dict(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(BridgeError("Internal error in the bridge; see its log.", status=500))

    app.include_router(openai_routes.router)
    app.include_router(worker_ws.router)
    app.include_router(userscript_route.router)
    app.include_router(image_router)
    app.include_router(internal_router)
    app.include_router(monitor_routes.router)
    return app
