"""``POST /internal/models``: the site's models as a tab reads them now (its ``models``
job: the catalog, else the page's ``initialModels``; docs/worker-protocol.md).

Body (optional): ``{"worker_id": "w1", "save": true}``. Answer: ``{"models": [entries],
"source": "catalog" | "page", "worker_id", "page", "previous": [entries before],
"configured": {name: site id}}`` and ``"saved_to"`` when ``save`` rewrote
available_models.json. Entries are site/catalog.py's. Guarded like every ``/internal``
route (http/origins.py) and needs the api key when one is set.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.config.edits import EditRefused, add_models
from lmarena_bridge.config.errors import ConfigFileError
from lmarena_bridge.errors import BridgeError, InvalidRequest
from lmarena_bridge.http.auth import check_api_key
from lmarena_bridge.http.limits import require_json
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.protocol.worker import ModelsPayload, ModelsResult
from lmarena_bridge.relay.calls import call_tab, internal_record
from lmarena_bridge.relay.pool import Worker
from lmarena_bridge.relay.tab_requests import read_available_models, write_available_models
from lmarena_bridge.site.catalog import entries_from_tab, offered
from lmarena_bridge.site.models import diff_models, extract_models, models_json_value

log = logging.getLogger(__name__)

MODELS = "models"  # the worker capability
MODELS_TIMEOUT_SECONDS = 30.0

routes = Routes(prefix="/internal")


class ModelsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    worker_id: str | None = None
    save: bool = False


async def _choice(request: Request) -> ModelsRequest:
    raw = await request.body()
    if not raw.strip():
        return ModelsRequest()
    require_json(request.headers)
    try:
        return ModelsRequest.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise InvalidRequest(
            f'The request body must be a JSON object like {{"save": true}} ({exc}).',
            code="invalid_json",
        ) from None


async def read_site_models(
    bridge: Bridge, worker_id: str | None = None
) -> tuple[list[dict[str, Any]], str, str]:
    """(entries, source, worker id) from a tab: the named one, else the first ready one
    (another tab that can, when that one has no free slot).

    A tab with the ``models`` capability runs the job; an older one sends its page.
    Raises 502 ``no_models_in_page`` when nothing was found, and what the tab job raises.
    """
    tabs = bridge.tab_requests
    worker = tabs.pick_worker(worker_id)
    if worker.can(MODELS):
        rec = internal_record(MODELS)
        rec.prefer_worker = worker.id
        answer = await call_tab(bridge.relay, ModelsPayload().model_dump(), requires=MODELS,
                                timeout=MODELS_TIMEOUT_SECONDS, rec=rec)
        try:
            result = ModelsResult.model_validate(answer.value)
        except ValidationError:
            result = ModelsResult(source="page")
        worker = answer.worker
        if result.catalog_error:
            log.info("tab %s could not read the model catalog (%s); used its page",
                     worker.id, result.catalog_error)
        # A page is large and may be hostile: scanned off the event loop.
        entries = await asyncio.to_thread(entries_from_tab, result.catalog, result.html)
        source = result.source
    else:
        html = await tabs.page_source(worker, MODELS_TIMEOUT_SECONDS)
        entries = await asyncio.to_thread(extract_models, html)
        source = "page"
    if not entries:
        raise BridgeError(
            f"No model list found in the page of browser tab {worker.id} ({worker.page}). Is "
            "it showing a Cloudflare check or a login page? Open an arena.ai chat page and try "
            "again.",
            status=502,
            code="no_models_in_page",
        )
    return entries, source, worker.id


async def refresh_on_connect(bridge: Bridge, worker: Worker) -> None:
    """``refresh_models_on_connect``: read the site's models from a tab that just said hello,
    rewrite available_models.json and log what changed; with ``add_new_models``, also add
    the models models.json lacks. Never raises: a failure is logged."""
    settings = bridge.settings
    if not settings.refresh_models_on_connect or not worker.can(MODELS):
        return
    for _ in range(50):  # the tab's first status report follows its hello
        if worker.routable or worker.closed:
            break
        await asyncio.sleep(0.2)
    if not worker.routable:
        return
    try:
        previous = await asyncio.to_thread(read_available_models, bridge.config_dir)
        entries, source, _ = await read_site_models(bridge, worker.id)
        await asyncio.to_thread(write_available_models, bridge.config_dir, entries)
    except (BridgeError, OSError) as exc:
        log.warning("could not refresh the model list from tab %s: %s", worker.id, exc)
        return
    bridge.config_store.reload()
    diff = diff_models(previous, entries)
    log.info(
        "model list refreshed from tab %s (%s, %d models)%s", worker.id, source, len(entries),
        "" if diff.changed else ": no changes",
    )
    for what, names in (("added", diff.added), ("removed", diff.removed),
                        ("renamed", [f"{a} -> {b}" for a, b in diff.renamed])):
        if names:
            log.info("models %s on the site: %s", what, ", ".join(names))
    if not settings.add_new_models:
        return
    cfg = bridge.config()
    in_use = {t.model_id for t in cfg.models.values()}
    new = {
        str(e["publicName"]): models_json_value(e)
        for e in offered(entries)
        if e["publicName"] not in cfg.models and e["id"] not in in_use
    }
    if new:
        try:
            result = await add_models(bridge.config_store, new)
        except (EditRefused, ConfigFileError, OSError) as exc:
            log.warning("could not add the new models to models.json: %s", exc)
            return
        if result.added:
            log.info("added to %s: %s", result.path, ", ".join(result.added))


@routes.post("/models")
async def models(request: Request) -> Response:
    bridge = bridge_of(request)
    check_api_key(bridge.settings.api_key, request.headers)
    choice = await _choice(request)
    cfg = bridge.config()
    # From the file, not the loaded config: a hand edit may not be reloaded yet.
    previous = await asyncio.to_thread(read_available_models, bridge.config_dir)
    configured = {name: t.model_id for name, t in cfg.models.items()}
    entries, source, worker_id = await read_site_models(bridge, choice.worker_id)
    worker = bridge.pool.workers.get(worker_id)
    answer: dict[str, Any] = {
        "models": entries, "source": source, "worker_id": worker_id,
        "page": worker.page if worker else "", "previous": previous, "configured": configured,
    }
    if choice.save:
        path = await asyncio.to_thread(write_available_models, bridge.config_dir, entries)
        bridge.config_store.reload()
        log.info("available_models.json updated with %d models (%s)", len(entries), source)
        answer["saved_to"] = str(path.resolve())
    return JSONBytes(answer)
