"""Thin OpenAI routes over the relay: parse, authorise, hand to ChatService, render."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from lmarena_bridge.bridge import Bridge
from lmarena_bridge.errors import BridgeError, InvalidRequest, ModelNotFound
from lmarena_bridge.http.auth import check_api_key
from lmarena_bridge.http.limits import check_chat_limits, require_json
from lmarena_bridge.http.responses import JSONBytes, error_response
from lmarena_bridge.http.routing import Routes, bridge_of, unless_disconnected
from lmarena_bridge.protocol.openai import ChatCompletionRequest, ModelCard, ModelList
from lmarena_bridge.relay.observer import RequestRecord
from lmarena_bridge.site.models import card_capabilities

M = TypeVar("M", bound=BaseModel)

MODEL_CREATED = 1735689600  # stable "created" for every model (2025-01-01)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

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
    s = cfg.settings
    if s.site_strategy == "create":
        if s.battle_model not in cfg.models:  # the anonymous battle pseudo-model
            cards.append(
                ModelCard(id=s.battle_model, created=MODEL_CREATED, owned_by="lmarena",
                          type="text")
            )
    else:  # only the retry strategy can use a model known from the endpoint map alone
        cards += [
            ModelCard(id=name, created=MODEL_CREATED, owned_by="lmarena")
            for name in cfg.endpoint_map
            if name not in cfg.models
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


async def _prepend(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


IGNORED_HEADER = "X-Bridge-Ignored-Params"


def _ignored_header(req: ChatCompletionRequest) -> dict[str, str]:
    ignored = req.ignored_params()
    return {IGNORED_HEADER: ", ".join(ignored)} if ignored else {}


@routes.post("/v1/chat/completions", "/api/v1/chat/completions", "/chat/completions")
async def chat_completions(request: Request) -> Response:
    bridge = authorise(request)
    data = await read_json(request)
    check_chat_limits(data, bridge.settings)
    req = validate(ChatCompletionRequest, data)
    rec = RequestRecord(
        request_id=request.headers.get("x-request-id") or f"req-{id(request):x}",
        endpoint="chat",
        model=req.model,
        stream=req.stream,
    )
    chat = bridge.chat
    bridge.observers.request_started(rec)
    headers = _ignored_header(req)

    async def answer() -> Response:
        try:
            prep = chat.prepare(req, rec)
            run = await chat.open(prep)
        except BridgeError as exc:
            chat.fail_before_dispatch(rec, exc)
            raise
        except asyncio.CancelledError:
            chat.cancelled_before_dispatch(rec)
            raise
        if not req.stream:
            return JSONBytes(await chat.collect(prep, run), headers=headers)
        frames = chat.stream(prep, run)
        try:
            # Headers go out with the first frame, so an error the site reports at once
            # still reaches the client as a real HTTP status.
            first = await frames.__anext__()
        except BridgeError as exc:
            return error_response(exc)
        return StreamingResponse(
            _prepend(first, frames),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )

    # From arrival to the first byte (queue wait included) a client that hangs up cancels
    # the work at once, which aborts the tab's site request; once the stream has started,
    # the streaming response itself watches for the disconnect.
    finished, response = await unless_disconnected(request, answer())
    return response if finished else Response(status_code=499)
