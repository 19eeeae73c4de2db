"""The Anthropic Messages API routes: ``POST /v1/messages`` (also under ``/api/v1`` and
bare), ``POST /v1/messages/count_tokens``, and ``GET``/``HEAD /`` (Claude Code's first
request). Every error on these routes is rendered in Anthropic's shape."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from lmarena_bridge.apis.anthropic.encoder import MessagesEncoder, new_tool_use_id
from lmarena_bridge.apis.anthropic.translate import Translated, translate
from lmarena_bridge.apis.anthropic.wire import BLOCK_TAGS, CountTokensRequest, MessagesRequest
from lmarena_bridge.http.auth import require_api_key
from lmarena_bridge.http.bodies import read_json, validate
from lmarena_bridge.http.limits import check_chat_limits
from lmarena_bridge.http.responses import JSONBytes, anthropic_error_response
from lmarena_bridge.http.routing import Routes, bridge_of
from lmarena_bridge.http.serving import ignored_header, serve_call
from lmarena_bridge.relay.answer_encoder import ClientCall
from lmarena_bridge.relay.completions import estimate_tokens

M = TypeVar("M", bound=BaseModel)

# Errors anywhere on these paths are rendered in Anthropic's shape (http/responses.py).
routes = Routes(guard=require_api_key)


async def _translated(request: Request, model: type[CountTokensRequest]) -> Translated:
    data = await read_json(request)
    check_chat_limits(data, bridge_of(request).settings)
    return translate(validate(model, data, union_tags=BLOCK_TAGS, style="path"))


def _rough_input_tokens(t: Translated) -> int:
    """The prompt's size for ``message_start`` (the final count comes in ``message_delta``)."""
    chars = sum(len(str(m.content or "")) for m in t.request.messages)
    chars += sum(len(str(tool.function.parameters or "")) for tool in t.request.tools or [])
    return estimate_tokens(chars)


@routes.post("/v1/messages", "/api/v1/messages", "/messages")
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
async def count_tokens(request: Request) -> Response:
    """The same estimate as an answer's ``usage.input_tokens`` (the site's prompt text)."""
    t = await _translated(request, CountTokensRequest)
    call = ClientCall(endpoint="messages", request=t.request, encoder=MessagesEncoder(""))
    job = bridge_of(request).answers.job_for(call)
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
