"""``/internal/save_ids`` and ``/internal/add_models``: the tools' config edits, made by the
running bridge in its own config dir (``config.edits``), never by the tool in whatever
folder it runs from. Both need the api key when one is set and a JSON body; browser pages
of other sites are refused by ``http.origins`` as on every ``/internal/*`` route.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.config.edits import (
    EditRefused,
    PoolChoice,
    add_models,
    check_pool_choice,
    save_ids,
)
from lmarena_bridge.config.model import Mode, Target
from lmarena_bridge.config.problems import ConfigFileError
from lmarena_bridge.errors import BridgeError, InvalidRequest
from lmarena_bridge.http.auth import require_api_key
from lmarena_bridge.http.bodies import parse_body
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of

log = logging.getLogger(__name__)

routes = Routes(prefix="/internal", guard=require_api_key)

M = TypeVar("M", bound=BaseModel)


class SaveIds(BaseModel):
    session_id: str = ""
    message_id: str = ""
    mode: Mode | None = None
    target: Target | None = None
    #: the ids go to model_endpoint_map.json under this name instead of config.jsonc
    model: str | None = None
    pool: PoolChoice | None = None
    #: only say where the ids would go (and refuse a pool without a choice): nothing written
    check_only: bool = False


class AddModels(BaseModel):
    models: dict[str, str]  # name -> models.json value


async def _body(request: Request, model: type[M]) -> tuple[Bridge, M]:
    return bridge_of(request), await parse_body(request, model)


def _refused(message: str) -> BridgeError:
    return BridgeError(message, status=409, type="invalid_request_error", code="edit_refused")


def _not_written(exc: ConfigFileError | OSError) -> BridgeError:
    return BridgeError(f"The bridge could not write its config: {exc}", status=409,
                       type="invalid_request_error", code="config_not_written")


@routes.post("/save_ids")
async def save_ids_route(request: Request) -> Response:
    """Save captured ids into the bridge's config.jsonc or model_endpoint_map.json.
    Answers ``saved_to`` (the file's path), ``detail`` and ``notes``."""
    bridge, body = await _body(request, SaveIds)
    store = bridge.config_store
    try:
        if body.check_only:
            path = await check_pool_choice(store, body.model, body.pool)
            return JSONBytes({"saves_to": str(path.resolve())})
        if not body.session_id or not body.message_id:
            raise InvalidRequest("session_id and message_id are required.",
                                 param="session_id")
        saved = await save_ids(store, body.session_id, body.message_id, mode=body.mode,
                               target=body.target, model=body.model, pool=body.pool)
    except EditRefused as exc:
        raise _refused(exc.message) from None
    except (ConfigFileError, OSError) as exc:
        raise _not_written(exc) from None
    log.info("captured ids saved to %s %s", saved.path, saved.detail)
    return JSONBytes({"saved_to": str(saved.path.resolve()), "detail": saved.detail,
                      "notes": saved.notes})


@routes.post("/add_models")
async def add_models_route(request: Request) -> Response:
    """Add models to the bridge's models.json; names already there are left alone.
    Answers ``saved_to``, ``added`` (name -> value) and ``skipped`` (name -> why)."""
    bridge, body = await _body(request, AddModels)
    try:
        result = await add_models(bridge.config_store, body.models)
    except (ConfigFileError, OSError) as exc:
        raise _not_written(exc) from None
    if result.added:
        log.info("added %d models to %s", len(result.added), result.path)
    return JSONBytes({"saved_to": str(result.path.resolve()), "added": result.added,
                      "skipped": result.skipped})
