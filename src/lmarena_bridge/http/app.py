"""create_app: builds the bridge's state and wires the HTTP/WebSocket routes onto it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.browser.notice import HeadlessNotice
from lmarena_bridge.browser.supervisor import BrowserOptions, BrowserSupervisor
from lmarena_bridge.config.defaults import FILE_NAMES, ensure_default_files
from lmarena_bridge.config.files import remove_stale_temp_files
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.config.store import ConfigStore
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.http import (
    anthropic_routes,
    config_routes,
    extension_route,
    image_routes,
    internal_routes,
    model_routes,
    monitor_routes,
    openai_routes,
    responses_routes,
    userscript_route,
    worker_ws,
)
from lmarena_bridge.http.limits import BodyLimit
from lmarena_bridge.http.origins import AccessGuard
from lmarena_bridge.http.responses import error_response_for
from lmarena_bridge.http.ws_fastpath import websocket_protocol
from lmarena_bridge.invocation import program
from lmarena_bridge.log_redaction import install_log_redaction

log = logging.getLogger(__name__)


async def _bridge_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BridgeError)
    return error_response_for(request.url.path, request.headers, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = f"Unknown path {request.url.path}." if exc.status_code == 404 else exc.detail
    err = BridgeError(message, status=exc.status_code, type="invalid_request_error", code=code)
    return error_response_for(request.url.path, request.headers, err, exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    err = BridgeError("Internal error in the bridge; see its log.", status=500)
    return error_response_for(request.url.path, request.headers, err)


def uvicorn_options() -> dict[str, Any]:
    """How the bridge is served (the CLI and the tests use the same)."""
    return {
        "ws": websocket_protocol(),
        # Frames are small JSON on loopback: compressing them costs CPU per chunk and
        # saves nothing (and compressed frames would miss the fast receive path).
        "ws_per_message_deflate": False,
        "ws_max_size": 64 * 1024 * 1024,  # a page source for model discovery can be large
    }


def create_app(
    config_dir: Path | str,
    *,
    watch_config: bool = True,
    browser: BrowserOptions | None = None,
) -> Starlette:
    """Build the app: config files (created with defaults if missing), pool, relay, routes.

    Raises ``ConfigFileError`` (every problem: file, key, line) when the config files do not
    validate: the bridge never serves on built-in defaults, which would drop the api_key.
    Temp files left by an interrupted config write are removed first. Background work (the
    config file watcher, the monitor ticker) runs in the lifespan. With ``browser`` the
    bridge also runs its own browser (src/lmarena_bridge/browser/), closed before the end.
    """
    config_dir = Path(config_dir)
    ensure_default_files(config_dir)
    for path in remove_stale_temp_files(config_dir, FILE_NAMES):
        log.info("removed %s, left by an interrupted write", path.name)
    store = ConfigStore(config_dir)
    if store.problems:
        raise ConfigFileError(store.problems)
    bridge = Bridge(store)
    install_log_redaction()
    if browser is not None:
        bridge.browser = BrowserSupervisor(
            browser, lambda: bridge.settings, config_dir, command=program(),
            on_change=bridge.monitor.browser_changed,
        )
        bridge.monitor.browser_status = bridge.browser.status
        notice = HeadlessNotice(bridge.browser)
        bridge.observers.add(notice)
        bridge.pool.person_hint = notice.hint

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_log_redaction()  # again: the server has configured its loggers by now
        stop = asyncio.Event()
        tasks = [asyncio.create_task(bridge.monitor.run())]
        if watch_config:
            tasks.append(asyncio.create_task(bridge.config_store.watch(stop)))
        if bridge.browser is not None:
            bridge.browser.start()
        try:
            yield
        finally:
            if bridge.browser is not None:
                await bridge.browser.stop()  # first: it closes gracefully while all else runs
            stop.set()
            bridge.monitor.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    app = Starlette(
        routes=[
            *openai_routes.routes.routes,
            *anthropic_routes.routes.routes,
            *responses_routes.routes.routes,
            *image_routes.routes.routes,
            *worker_ws.routes.routes,
            *userscript_route.routes.routes,
            *extension_route.routes.routes,
            *model_routes.routes.routes,
            *internal_routes.routes.routes,
            *internal_routes.seed_routes.routes,
            *config_routes.routes.routes,
            *monitor_routes.routes.routes,
        ],
        # Outermost first: Host and Origin (and CORS), then the body size limit.
        middleware=[
            Middleware(AccessGuard, settings=lambda: bridge.settings),
            Middleware(BodyLimit, settings=lambda: bridge.settings),
        ],
        exception_handlers={
            BridgeError: _bridge_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.bridge = bridge
    return app
