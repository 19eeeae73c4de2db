"""The Anthropic Messages API routes: ``POST /v1/messages`` (also under ``/api/v1`` and
bare), ``POST /v1/messages/count_tokens``, and ``GET``/``HEAD /`` (Claude Code's first
request). Every error on these routes is rendered in Anthropic's shape."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from lmarena_bridge.apis.anthropic.encoder import MessagesEncoder, new_tool_use_id
from lmarena_bridge.apis.anthropic.errors import anthropic_error_response
from lmarena_bridge.apis.anthropic.translate import Translated, translate
from lmarena_bridge.apis.anthropic.wire import BLOCK_TAGS, CountTokensRequest, MessagesRequest
from lmarena_bridge.bridge import Bridge
from lmarena_bridge.config.aliases import resolve_model
from lmarena_bridge.errors import BridgeError, InvalidRequest
from lmarena_bridge.http.auth import check_api_key
from lmarena_bridge.http.bodies import read_json
from lmarena_bridge.http.limits import check_chat_limits
from lmarena_bridge.http.openai_routes import ignored_header
from lmarena_bridge.http.responses import JSONBytes
from lmarena_bridge.http.routing import Endpoint, Routes, bridge_of
from lmarena_bridge.http.serving import serve_call
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.completions import estimate_tokens

M = TypeVar("M", bound=BaseModel)

routes = Routes()


def anthropic_errors(endpoint: Endpoint) -> Endpoint:
    """``BridgeError`` s raised by ``endpoint`` answered in Anthropic's shape."""

    @functools.wraps(endpoint)
    async def handler(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BridgeError as exc:
            return anthropic_error_response(exc)

    return handler


def authorise(request: Request) -> Bridge:
    """``x-api-key`` or ``Authorization: Bearer`` when ``api_key`` is set."""
    bridge = bridge_of(request)
    check_api_key(bridge.settings.api_key, request.headers)
    return bridge


def _param(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in BLOCK_TAGS or str(part).startswith(("list[", "str")):
            continue  # the union member pydantic tried; not part of the path
        else:
            out += ("." if out else "") + str(part)
    return out


def validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = _param(tuple(err["loc"]))
        raise InvalidRequest(f"{param}: {err['msg']}", param=param or None) from None


async def _translated(request: Request, model: type[CountTokensRequest]) -> Translated:
    bridge = authorise(request)
    data = await read_json(request)
    check_chat_limits(data, bridge.settings)
    return translate(validate(model, data))


def _rough_input_tokens(t: Translated) -> int:
    """The prompt's size for ``message_start`` (the final count comes in ``message_delta``)."""
    chars = sum(len(str(m.content or "")) for m in t.request.messages)
    chars += sum(len(str(tool.function.parameters or "")) for tool in t.request.tools or [])
    return estimate_tokens(chars)


@routes.post("/v1/messages", "/api/v1/messages", "/messages")
@anthropic_errors
async def messages(request: Request) -> Response:
    t = await _translated(request, MessagesRequest)
    call = ClientCall(
        endpoint="messages",
        request=t.request,
        encoder=MessagesEncoder(t.request.model, _rough_input_tokens(t)),
        reasoning_mode="reasoning_content" if t.thinking else "drop",
        new_call_id=new_tool_use_id,
    )
    return await serve_call(
        request, call, headers=ignored_header(t.ignored), render_error=anthropic_error_response
    )


@routes.post(
    "/v1/messages/count_tokens", "/api/v1/messages/count_tokens", "/messages/count_tokens"
)
@anthropic_errors
async def count_tokens(request: Request) -> Response:
    """The same estimate as an answer's ``usage.input_tokens`` (the site's prompt text)."""
    t = await _translated(request, CountTokensRequest)
    bridge = bridge_of(request)
    cfg = bridge.config()
    model = resolve_model(t.request.model, cfg.settings.model_aliases, cfg.models)
    req = t.request.model_copy(update={"model": model})
    call = ClientCall(endpoint="messages", request=req, encoder=MessagesEncoder(""))
    job = bridge.answers.build_job(call, cfg, None)
    return JSONBytes(
        {"input_tokens": estimate_tokens(job.prompt_chars)}, headers=ignored_header(t.ignored)
    )


@routes.get("/")
async def root(request: Request) -> Response:
    """Claude Code sends ``HEAD /`` before its first request; GET answers the same."""
    return PlainTextResponse(
        "lmarena-bridge: OpenAI (/v1/chat/completions, /v1/responses) and Anthropic "
        "(/v1/messages) APIs; the monitor is at /monitor.\n"
    )
