"""OpenAI routes: the model list and chat completions (served by relay/lifecycle.py)."""

from __future__ import annotations

import time
import uuid
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.errors import ModelNotFound
from lmarena_bridge.http import anthropic_models
from lmarena_bridge.http.auth import require_api_key
from lmarena_bridge.http.bodies import read_json, validate
from lmarena_bridge.http.limits import check_chat_limits
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.http.serving import ignored_header, serve_call
from lmarena_bridge.protocol.openai import ChatCompletionRequest, ModelCard, ModelList
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.encoding import ChatEncoder
from lmarena_bridge.site.models import card_capabilities

M = TypeVar("M", bound=BaseModel)

MODEL_CREATED = 1735689600  # stable "created" for every model (2025-01-01)

routes = Routes(guard=require_api_key)


# -- models -----------------------------------------------------------------------------------


def _model_cards(bridge: Bridge) -> list[ModelCard]:
    cfg = bridge.config()
    known = {m.get("id"): m for m in cfg.available_models if isinstance(m, dict)}
    cards = []
    for name, target in cfg.models.items():
        entry = known.get(target.model_id) or {}
        cards.append(
            ModelCard(
                id=name,
                created=MODEL_CREATED,
                owned_by=entry.get("organization") or entry.get("provider") or "lmarena",
                type="image" if target.is_image else "text",
                capabilities=card_capabilities(entry, target.kind) if entry else None,
            )
        )
    cards += [  # e.g. the anonymous battle pseudo-model
        ModelCard(id=name, created=MODEL_CREATED, owned_by="lmarena", type=kind)
        for name, kind in bridge.strategy.extra_models(cfg).items()
    ]
    return cards


@routes.get("/v1/models", "/api/v1/models", "/models")
async def list_models(request: Request) -> Response:
    if anthropic_models.wants_anthropic(request):
        return anthropic_models.list_models(request, _model_cards)
    bridge = bridge_of(request)
    return JSONBytes(ModelList(data=_model_cards(bridge)).model_dump(exclude_none=True))


@routes.get(
    "/v1/models/{model_id:path}", "/api/v1/models/{model_id:path}", "/models/{model_id:path}"
)
async def get_model(request: Request) -> Response:
    model_id = request.path_params["model_id"].removesuffix("/")
    if anthropic_models.wants_anthropic(request):
        return anthropic_models.get_model(request, _model_cards, model_id)
    bridge = bridge_of(request)
    for card in _model_cards(bridge):
        if card.id == model_id:
            return JSONBytes(card.model_dump(exclude_none=True))
    raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")


# -- chat -------------------------------------------------------------------------------------


@routes.post("/v1/chat/completions", "/api/v1/chat/completions", "/chat/completions")
async def chat_completions(request: Request) -> Response:
    bridge = bridge_of(request)
    data = await read_json(request)
    check_chat_limits(data, bridge.settings)
    req = validate(ChatCompletionRequest, data)
    s = bridge.settings
    encoder = ChatEncoder(
        f"chatcmpl-{uuid.uuid4().hex}",
        int(time.time()),
        req.model,
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
        keepalive_style=s.keepalive_style,
    )
    call = ClientCall(endpoint="chat", request=req, encoder=encoder)
    return await serve_call(request, call, headers=ignored_header(req.ignored_params()))
