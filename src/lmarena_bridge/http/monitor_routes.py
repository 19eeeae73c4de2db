"""Observability routes: the /monitor page and its socket, /metrics, /health.

The page itself holds no data: everything arrives over ``/ws/monitor``, which requires
the api_key (``?key=``) when one is set, so the page can load and ask for the key.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from importlib import resources
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from lmarena_bridge import __version__
from lmarena_bridge.bridge import Bridge
from lmarena_bridge.http.auth import check_api_key, token_matches
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.monitor_hub import Subscriber
from lmarena_bridge.relay.health import cooling_view, human_view

log = logging.getLogger(__name__)

routes = Routes()

# The page is self-contained (inline CSS/JS); it may only talk back to the bridge itself.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
KEY_REQUIRED_REASON = "api key required"
NOT_READY_NO_TAB = "no browser tab connected"
NOT_READY_NONE_READY = "tabs connected but none ready (challenge/logged_out)"
NOT_READY_COOLING = "every tab's account is cooling down from the site's limits"


@cache
def monitor_page() -> bytes:
    return resources.files("lmarena_bridge").joinpath("static/monitor.html").read_bytes()


# -- page and socket -------------------------------------------------------------------------


@routes.get("/monitor")
async def monitor(request: Request) -> Response:
    return Response(monitor_page(), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@routes.websocket("/ws/monitor")
async def monitor_socket(ws: WebSocket) -> None:
    # Pages of other origins were refused by http.origins.AccessGuard.
    bridge = bridge_of(ws)
    await ws.accept()
    api_key = bridge.settings.api_key
    if api_key and not token_matches(api_key, ws.query_params.get("key")):
        # Accepted first so the page sees code 1008 and can ask for the key.
        await ws.close(code=1008, reason=KEY_REQUIRED_REASON)
        return

    async def send(text: str) -> None:
        await ws.send_text(text)

    async def close() -> None:
        await ws.close(code=1013, reason="monitor page fell behind")

    hub = bridge.monitor
    sub = hub.subscribe(send, close)
    try:
        while True:
            raw = await ws.receive_text()
            _on_action(bridge, sub, raw)
    except (WebSocketDisconnect, RuntimeError):
        pass  # RuntimeError: the socket was closed by us (a page that fell behind)
    finally:
        hub.unsubscribe(sub)


def _on_action(bridge: Bridge, sub: Subscriber, raw: str) -> None:
    try:
        msg: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        msg = None
    action = msg.get("action") if isinstance(msg, dict) else None
    result: dict[str, Any] = {"type": "action_result", "action": action, "ok": False}
    if action == "refresh_worker":
        worker = bridge.pool.workers.get(str(msg.get("worker_id")))
        if worker is None:
            result["message"] = "That tab is no longer connected."
        else:
            bridge.relay.command(worker, "refresh")
            log.info("monitor asked worker %s to reload its page", worker.id)
            result.update(ok=True, worker_id=worker.id, message=f"Reload sent to tab {worker.id}.")
    elif action == "focus_worker":
        worker = bridge.pool.workers.get(str(msg.get("worker_id")))
        if worker is None:
            result["message"] = "That tab is no longer connected."
        else:
            # Browsers let a page raise itself only sometimes; the tab also flashes its
            # title (and notifies, when the user allowed notifications).
            bridge.relay.command(worker, "focus")
            result.update(ok=True, worker_id=worker.id, message=(
                f"Asked tab {worker.id} to come to the front. If your browser keeps it in the "
                "background, switch to the arena.ai tab whose title starts with 🙋."))
    elif action == "browser_front":
        _bring_browser_to_front(bridge, sub, result)
        return
    else:
        result["message"] = "Unknown action."
    bridge.monitor.reply(sub, result)


def _bring_browser_to_front(bridge: Bridge, sub: Subscriber, result: dict[str, Any]) -> None:
    """Raise the managed browser's window (serve --browser); answers when done."""
    if bridge.browser is None:
        bridge.monitor.reply(sub, {**result, "message": "The bridge runs no browser itself."})
        return

    def done(ok: bool, message: str) -> None:
        bridge.monitor.reply(sub, {**result, "ok": ok, "message": message})

    bridge.browser.bring_to_front_later(done)


# -- metrics and health ----------------------------------------------------------------------


@routes.get("/metrics")
async def metrics(request: Request) -> Response:
    bridge = bridge_of(request)
    check_api_key(bridge.settings.api_key, request.headers)
    return Response(bridge.metrics.render(), headers={"Content-Type": bridge.metrics.content_type})


@routes.get("/health")
async def health(request: Request) -> Response:
    """Liveness: the process answers."""
    bridge = bridge_of(request)
    return JSONBytes(
        {
            "status": "ok",
            "uptime_seconds": round(time.time() - bridge.started_at, 3),
            "version": __version__,
        }
    )


@routes.get("/health/ready")
async def ready(request: Request) -> Response:
    """Readiness: 200 when at least one tab can take a request, else 503 with the reason."""
    pool = bridge_of(request).pool
    connected, ready_count = len(pool.workers), pool.ready_count
    needs = [human_view(w) for w in pool.needing_human]
    cooling = [cooling_view(w) for w in pool.cooling]
    browser = bridge_of(request).browser
    if browser is not None and needs and browser.headless:
        for need in needs:  # nobody can act in a headless browser's tab
            need["action"] = f"{need['action']}. {browser.status()['headless_hint']}"
    body: dict[str, Any] = {
        "workers_connected": connected,
        "workers_ready": ready_count,
        "queue_depth": pool.queue_depth,
        # Tabs a person must act in, with the one thing to do (relay/health.py).
        "workers_needing_human": len(needs),
        "needs_human": needs,
        # Tabs whose account rests from the site's limits, until when and why (relay/accounts.py).
        "workers_cooling": len(cooling),
        "cooling": cooling,
    }
    if browser is not None:  # the browser the bridge runs itself (serve --browser)
        body["browser"] = browser.status()
    if ready_count:
        return JSONBytes({"status": "ready", **body})
    reason = (NOT_READY_COOLING if cooling and not needs else
              NOT_READY_NONE_READY if connected else NOT_READY_NO_TAB)
    return JSONBytes({"status": "not_ready", "reason": reason, **body}, status_code=503)
