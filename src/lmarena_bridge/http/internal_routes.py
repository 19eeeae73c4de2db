"""``/internal/*``: what the CLI tools (and seed-era scripts) ask of the browser tabs.

Every route is refused to a browser page from a foreign origin (the site's origins,
``allowed_origins``, the bridge's own pages such as the monitor, or
``?token=<worker_token>`` pass: ``http.origins``). Our own endpoints also need the
api key when one is set; the seed-compatible ones answer as the seed did and cannot
require it, because the seed's scripts never send one (docs/site-protocol.md §4).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge import __version__
from lmarena_bridge.bridge import Bridge
from lmarena_bridge.config.defaults import AVAILABLE_MODELS_JSON
from lmarena_bridge.config.edits import EditRefused, save_ids
from lmarena_bridge.config.model import Mode, Target
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.errors import BridgeError, InvalidRequest, NoWorkerAvailable
from lmarena_bridge.http.auth import check_api_key, require_api_key
from lmarena_bridge.http.limits import require_json
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.relay.tab import Worker
from lmarena_bridge.relay.tab_requests import (
    Capture,
    TabRequests,
    read_available_models,
    write_available_models,
)
from lmarena_bridge.site.legacy.id_channel import forward_ids
from lmarena_bridge.site.models import extract_models

log = logging.getLogger(__name__)

PAGE_SOURCE_TIMEOUT_SECONDS = 20.0
MAX_CAPTURE_WAIT_SECONDS = 60.0
SEED_NOT_CONNECTED = "Browser client not connected."
SAVE_CAPTURE_WAIT_SECONDS = 600.0


# Our own endpoints: the api key when one is set.
routes = Routes(prefix="/internal", guard=require_api_key)
# The seed-compatible ones (and the preflight their cross-origin POSTs need): no key.
seed_routes = Routes(prefix="/internal")


class TabChoice(BaseModel):
    model_config = ConfigDict(extra="allow")

    worker_id: str | None = None
    #: start_id_capture: the bridge writes the captured ids into config.jsonc itself (the
    #: monitor page's button); page_source: it rewrites available_models.json.
    save: bool = False
    mode: Mode | None = None
    target: Target | None = None


def _cors(request: Request) -> dict[str, str]:
    """CORS answer for an allowed browser origin (seed-era userscripts POST cross-origin)."""
    origin = request.headers.get("origin")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


def _json(request: Request, body: Any, status: int = 200) -> Response:
    return JSONBytes(body, status_code=status, headers=_cors(request))


def _not_connected(request: Request, exc: NoWorkerAvailable) -> Response:
    """Our error envelope plus the seed's ``detail`` key, which its scripts print."""
    return JSONBytes(
        {**exc.to_dict(), "detail": SEED_NOT_CONNECTED},
        status_code=exc.status,
        headers={**exc.headers(), **_cors(request)},
    )


async def _our_form(request: Request) -> TabChoice | None:
    """The JSON body of our extended form (api key checked), or None for the seed's
    bodiless form."""
    raw = await request.body()
    if not raw.strip():
        return None
    check_api_key(bridge_of(request).settings.api_key, request.headers)
    require_json(request.headers)
    try:
        return TabChoice.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise InvalidRequest(
            f"The request body must be a JSON object like {{\"worker_id\": \"w1\"}} ({exc}).",
            code="invalid_json",
        ) from None


def _tabs(request: Request) -> TabRequests:
    return bridge_of(request).tab_requests


@seed_routes.options("/{path:path}")
async def preflight(request: Request) -> Response:
    headers = {
        **_cors(request),
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Authorization",
        "Access-Control-Max-Age": "600",
    }
    if request.headers.get("access-control-request-private-network") == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    return Response(status_code=204, headers=headers)


@routes.get("/workers")
async def list_workers(request: Request) -> Response:
    bridge = bridge_of(request)
    workers = [
        {**w.describe(), "capabilities": sorted(w.capabilities)}
        for w in bridge.pool.workers.values()
    ]
    settings = bridge.settings
    about = {  # which bridge this is: the tools report where it keeps its files
        "version": __version__,
        "config_dir": str(bridge.config_dir.resolve()),
        "id_updater_last_mode": settings.id_updater_last_mode,
        "id_updater_battle_target": settings.id_updater_battle_target,
        "site_strategy": settings.site_strategy,  # capture-ids: ids serve "retry" only
    }
    return _json(request, {"workers": workers, "bridge": about})


# -- id capture ---------------------------------------------------------------------------


@seed_routes.post("/start_id_capture")
async def start_id_capture(request: Request) -> Response:
    """Arm id capture in one tab. Seed form: no body, the first ready tab."""
    choice = await _our_form(request)
    try:
        worker = _tabs(request).pick_worker(choice.worker_id if choice else None)
    except NoWorkerAvailable as exc:
        return _not_connected(request, exc)
    tabs = _tabs(request)
    capture = tabs.start_capture(worker)
    if choice is not None and choice.save:
        tabs.spawn(_save_when_captured(bridge_of(request), capture, choice))
    elif choice is None and worker.protocol >= 2:
        # The seed's id_updater.py waits on its side channel; our userscript reports the
        # ids over the socket instead, so pass them on as the seed userscript would have.
        tabs.spawn(_forward_to_seed_updater(tabs, capture))
    return _json(
        request,
        {
            "status": "success",
            "message": "Activation command sent.",
            "capture_id": capture.id,
            "worker_id": worker.id,
            "protocol": worker.protocol,
            "page": worker.page,
        },
    )


async def _save_when_captured(bridge: Bridge, capture: Capture, choice: TabChoice) -> None:
    await bridge.tab_requests.wait_capture(capture, SAVE_CAPTURE_WAIT_SECONDS)
    if not capture.done.is_set() or not capture.session_id or not capture.message_id:
        return
    try:
        saved = await save_ids(bridge.config_store, capture.session_id, capture.message_id,
                               mode=choice.mode, target=choice.target)
    except (EditRefused, ConfigFileError, OSError) as exc:
        capture.save_error = str(exc)
        log.warning("could not save the captured ids: %s", exc)
        return
    capture.saved = True
    log.info("id capture %s: ids saved to %s", capture.id, saved.path)


async def _forward_to_seed_updater(tabs: TabRequests, capture: Capture) -> None:
    await tabs.wait_capture(capture, SAVE_CAPTURE_WAIT_SECONDS)
    if capture.done.is_set() and capture.session_id and capture.message_id:
        await forward_ids(capture.session_id, capture.message_id)


@routes.get("/id_capture/{capture_id}")
async def id_capture(request: Request) -> Response:
    """The capture's state; ``wait`` > 0 long-polls up to that many seconds (max 60)."""
    capture_id = request.path_params["capture_id"]
    try:
        wait = float(request.query_params.get("wait", "0"))
    except ValueError:
        raise InvalidRequest("wait must be a number of seconds.", param="wait") from None
    tabs = _tabs(request)
    capture = tabs.capture(capture_id)
    if capture is None:
        raise BridgeError(
            f"No id capture '{capture_id}' (it finished long ago or never existed).",
            status=404,
            type="invalid_request_error",
            code="capture_not_found",
        )
    if wait > 0:
        await tabs.wait_capture(capture, min(wait, MAX_CAPTURE_WAIT_SECONDS))
    return _json(request, capture.describe())


# -- page source and models ---------------------------------------------------------------


async def _save_models(bridge: Bridge, models: list[dict[str, Any]]) -> None:
    await asyncio.to_thread(write_available_models, bridge.config_dir, models)
    bridge.config_store.reload()
    log.info("available_models.json updated with %d models", len(models))


async def _refresh_from(bridge: Bridge, worker: Worker) -> None:
    """Background part of the seed's request_model_update for a protocol-2 tab."""
    try:
        html = await bridge.tab_requests.page_source(worker, PAGE_SOURCE_TIMEOUT_SECONDS)
    except BridgeError as exc:
        log.warning("model update: %s", exc.message)
        return
    models = await asyncio.to_thread(extract_models, html)
    if not models:
        log.warning("model update: no model list in the page of worker %s", worker.id)
        return
    await _save_models(bridge, models)


@seed_routes.post("/request_model_update")
async def request_model_update(request: Request) -> Response:
    """The seed's: ask a tab for its page; available_models.json is rewritten when it
    arrives. Answers at once."""
    bridge = bridge_of(request)
    try:
        worker = bridge.tab_requests.pick_worker()
    except NoWorkerAvailable as exc:
        return _not_connected(request, exc)
    if worker.protocol >= 2:
        bridge.tab_requests.spawn(_refresh_from(bridge, worker))
    else:
        # A seed-era tab answers by POSTing to /internal/update_available_models.
        bridge.relay.command(worker, "send_page_source")
    return _json(request, {"status": "success", "message": "Request to send page source sent."})


@routes.post("/page_source")
async def page_source(request: Request) -> Response:
    """Ask a tab for its page and answer with the models found in it (waits ~20 s), the
    list available_models.json held before, and the models.json names with their site
    ids. ``"save": true`` also rewrites available_models.json (answered as ``saved_to``)."""
    bridge = bridge_of(request)
    choice = await _our_form(request)
    # Before asking: a seed-era tab's answer rewrites the file on its own.
    previous = await asyncio.to_thread(read_available_models, bridge.config_dir)
    configured = {name: t.model_id for name, t in bridge.config().models.items()}
    worker = bridge.tab_requests.pick_worker(choice.worker_id if choice else None)
    html = await bridge.tab_requests.page_source(worker, PAGE_SOURCE_TIMEOUT_SECONDS)
    models = await asyncio.to_thread(extract_models, html)
    if not models:
        raise BridgeError(
            f"No model list found in the page of browser tab {worker.id} ({worker.page}). "
            "Is it showing a Cloudflare check or a login page? Open an LMArena chat page "
            "and try again.",
            status=502,
            code="no_models_in_page",
        )
    answer: dict[str, Any] = {"models": models, "worker_id": worker.id, "page": worker.page,
                              "previous": previous, "configured": configured}
    if choice is not None and choice.save:
        await _save_models(bridge, models)
        answer["saved_to"] = str((bridge.config_dir / AVAILABLE_MODELS_JSON).resolve())
    return _json(request, answer)


@seed_routes.post("/update_available_models")
async def update_available_models(request: Request) -> Response:
    """A seed-era tab POSTs its page HTML here (origin-checked, no api key)."""
    bridge = bridge_of(request)
    raw = await request.body()
    if not raw:
        return _json(
            request, {"status": "error", "message": "No HTML content received."}, status=400
        )
    html = raw.decode("utf-8", errors="replace")
    bridge.tab_requests.page_posted(html)
    # A page is large and may be hostile: scan it off the event loop.
    models = await asyncio.to_thread(extract_models, html)
    if not models:
        return _json(
            request,
            {"status": "error", "message": "Could not extract model data from HTML."},
            status=400,
        )
    await _save_models(bridge, models)
    return _json(request, {"status": "success", "message": "Available models file updated."})
