"""OpenAI routes: the model list and chat completions (served by relay/lifecycle.py)."""

from __future__ import annotations

import time
import uuid
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.errors import InvalidRequest, ModelNotFound
from lmarena_bridge.http.auth import check_api_key
from lmarena_bridge.http.limits import check_chat_limits, require_json
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.http.serving import serve_call
from lmarena_bridge.protocol.openai import ChatCompletionRequest, ModelCard, ModelList
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.encoding import ChatEncoder
from lmarena_bridge.site.models import card_capabilities

M = TypeVar("M", bound=BaseModel)

MODEL_CREATED = 1735689600  # stable "created" for every model (2025-01-01)

routes = Routes()


_UNION_TAGS = frozenset({"str", "TextPart", "ImagePart", "OtherPart", "int", "float"})


def _param(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or str(part).startswith(("list[", "function-")):
            continue  # pydantic names the union member it tried; not part of the path
        else:
            out += ("." if out else "") + str(part)
    return out


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object: 415 unless declared as JSON, 400 unless it is one."""
    require_json(request.headers)
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON ({exc}).", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return data


async def parse_body(request: Request, model: type[M]) -> M:
    return validate(model, await read_json(request))


def validate(model: type[M], data: dict[str, Any]) -> M:
    """``model`` from ``data``; a 400 naming the first invalid parameter."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = _param(tuple(err["loc"]))
        raise InvalidRequest(
            f"Invalid value for '{param}': {err['msg']}.", param=param or None
        ) from None


def authorise(request: Request) -> Bridge:
    bridge = bridge_of(request)
    check_api_key(bridge.settings.api_key, request.headers)
    return bridge


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
    bridge = authorise(request)
    return JSONBytes(ModelList(data=_model_cards(bridge)).model_dump(exclude_none=True))


@routes.get(
    "/v1/models/{model_id:path}", "/api/v1/models/{model_id:path}", "/models/{model_id:path}"
)
async def get_model(request: Request) -> Response:
    bridge = authorise(request)
    model_id = request.path_params["model_id"].removesuffix("/")
    for card in _model_cards(bridge):
        if card.id == model_id:
            return JSONBytes(card.model_dump(exclude_none=True))
    raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")


# -- chat -------------------------------------------------------------------------------------


IGNORED_HEADER = "X-Bridge-Ignored-Params"


def ignored_header(ignored: list[str]) -> dict[str, str]:
    """The header naming request fields the bridge accepted but cannot honour."""
    return {IGNORED_HEADER: ", ".join(ignored)} if ignored else {}


@routes.post("/v1/chat/completions", "/api/v1/chat/completions", "/chat/completions")
async def chat_completions(request: Request) -> Response:
    bridge = authorise(request)
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
