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
from lmarena_bridge.http.responses import JSONBytes, error_response
from lmarena_bridge.http.routing import Routes, bridge_of, unless_disconnected
from lmarena_bridge.protocol.openai import ChatCompletionRequest, ModelCard, ModelList
from lmarena_bridge.relay.observer import RequestRecord

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


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON ({exc}).", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
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
    orgs = {
        m.get("id"): m.get("organization") or m.get("provider")
        for m in cfg.available_models
        if isinstance(m, dict)
    }
    cards = [
        ModelCard(
            id=name,
            created=MODEL_CREATED,
            owned_by=orgs.get(target.model_id) or "lmarena",
            type="image" if target.is_image else "text",
        )
        for name, target in cfg.models.items()
    ]
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
    model_id = request.path_params["model_id"]
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
    req = await parse_body(request, ChatCompletionRequest)
    rec = RequestRecord(
        request_id=request.headers.get("x-request-id") or f"req-{id(request):x}",
        endpoint="chat",
        model=req.model,
        stream=req.stream,
    )
    chat = bridge.chat
    bridge.observers.request_started(rec)
    try:
        prep = chat.prepare(req, rec)
        run = await chat.open(prep)
    except BridgeError as exc:
        chat.fail_before_dispatch(rec, exc)
        raise
    except asyncio.CancelledError:
        rec.outcome = "cancelled"
        chat.fail_before_dispatch(rec, BridgeError("client went away", status=499))
        raise

    headers = _ignored_header(req)
    if req.stream:
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

    # Non-streaming: a client that hangs up must still abort the site request.
    finished, body = await unless_disconnected(request, chat.collect(prep, run))
    return JSONBytes(body, headers=headers) if finished else Response(status_code=499)
