"""``POST /internal/models``: the site's models as a tab reads them now
(relay/model_catalog.py).

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

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.http.auth import require_api_key
from lmarena_bridge.http.bodies import parse_body
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.relay.tab_requests import read_available_models

log = logging.getLogger(__name__)

routes = Routes(prefix="/internal", guard=require_api_key)


class ModelsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    worker_id: str | None = None
    save: bool = False


@routes.post("/models")
async def models(request: Request) -> Response:
    bridge = bridge_of(request)
    choice = await parse_body(request, ModelsRequest, optional=True)
    cfg = bridge.config()
    # From the file, not the loaded config: a hand edit may not be reloaded yet.
    previous = await asyncio.to_thread(read_available_models, bridge.config_dir)
    configured = {name: t.model_id for name, t in cfg.models.items()}
    entries, source, worker_id = await bridge.catalog.read(choice.worker_id)
    worker = bridge.pool.workers.get(worker_id)
    answer: dict[str, Any] = {
        "models": entries, "source": source, "worker_id": worker_id,
        "page": worker.page if worker else "", "previous": previous, "configured": configured,
    }
    if choice.save:
        answer["saved_to"] = await bridge.catalog.save(entries)
        log.info("available_models.json updated with %d models (%s)", len(entries), source)
    return JSONBytes(answer)
