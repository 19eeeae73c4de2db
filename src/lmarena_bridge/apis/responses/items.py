"""The Responses API's output objects: the ``response`` envelope and its output items.

Shapes follow ``openai.types.responses`` (``Response``, ``ResponseOutputMessage``,
``ResponseFunctionToolCall``, ``ResponseCustomToolCall``, ``ResponseReasoningItem``,
``ResponseUsage``). Pure: no I/O; ids and the clock come from the caller.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from lmarena_bridge.apis.responses.tools import ToolTable, custom_input
from lmarena_bridge.apis.responses.wire import ResponsesRequest
from lmarena_bridge.errors import BridgeError
from lmarena_bridge.relay.completions import AnswerBuilder, estimate_tokens
from lmarena_bridge.relay.tool_calls import ToolCallOut


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass
class ResponseFrame:
    """What every ``response`` object of one answer repeats: the request's settings."""

    id: str
    created_at: int
    model: str
    echo: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, req: ResponsesRequest, response_id: str, created_at: int) -> ResponseFrame:
        echo = {
            "instructions": req.instructions,
            "max_output_tokens": req.max_output_tokens,
            "metadata": req.metadata or {},
            "parallel_tool_calls": req.parallel_tool_calls is not False,
            "previous_response_id": None,
            "reasoning": (
                req.reasoning.model_dump(exclude_none=True)
                if req.reasoning
                else {"effort": None, "summary": None}
            ),
            "store": bool(req.store),
            "temperature": (req.model_extra or {}).get("temperature"),
            "text": req.text or {"format": {"type": "text"}},
            "tool_choice": req.tool_choice or "auto",
            "tools": req.tools or [],
            "top_p": (req.model_extra or {}).get("top_p"),
            "truncation": "disabled",
            "user": (req.model_extra or {}).get("user"),
        }
        return cls(response_id, created_at, req.model, echo)

    def response(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        usage: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        incomplete: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "model": self.model,
            "output": output,
            **self.echo,
            "usage": usage,
        }


def end_status(answer: AnswerBuilder) -> tuple[str, str | None]:
    """(status, incomplete reason) of an answer that ended."""
    if answer.finish_reason == "length":
        return "incomplete", "max_output_tokens"
    if answer.finish_reason == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


def usage(answer: AnswerBuilder) -> dict[str, Any]:
    u = answer.usage()
    return {
        "input_tokens": u["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": u["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": estimate_tokens(answer.reasoning_chars)},
        "total_tokens": u["total_tokens"],
    }


def failure(exc: BridgeError) -> dict[str, Any]:
    """A ``ResponseError`` for ``response.failed`` (its ``code`` is OpenAI's enum)."""
    code = "rate_limit_exceeded" if exc.status == 429 else "server_error"
    if exc.code == "prompt_too_large":
        code = "context_length_exceeded"  # what Codex reads as a full context window
    return {"code": code, "message": exc.message, "param": exc.param, "type": exc.type}


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [text_part(text)] if status == "completed" else []
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": content}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_item(
    item_id: str, text: str, as_summary: bool, status: str = "completed"
) -> dict[str, Any]:
    done = status == "completed"
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
    if as_summary:
        item["summary"] = [{"type": "summary_text", "text": text}] if done else []
    else:
        item["content"] = [{"type": "reasoning_text", "text": text}] if done else []
    item["status"] = status
    return item


def call_item(
    item_id: str, call: ToolCallOut, table: ToolTable, status: str = "completed"
) -> dict[str, Any]:
    """A ``function_call`` or ``custom_tool_call`` item; arguments/input empty until done."""
    ref = table.refs.get(call.name)
    done = status == "completed"
    if ref is not None and ref.kind == "custom":
        item: dict[str, Any] = {
            "id": item_id,
            "type": "custom_tool_call",
            "call_id": call.id,
            "name": ref.name,
            "input": custom_input(call.arguments) if done else "",
        }
    else:
        item = {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "call_id": call.id,
            "name": ref.name if ref is not None else call.name,
            "arguments": call.arguments if done else "",
        }
    if ref is not None and ref.namespace:
        item["namespace"] = ref.namespace
    return item


def body_output(
    answer: AnswerBuilder, table: ToolTable, as_summary: bool
) -> list[dict[str, Any]]:
    """The output items of a whole (non-stream) answer: reasoning, text, then calls."""
    out: list[dict[str, Any]] = []
    if answer.reasoning_parts:
        out.append(reasoning_item(new_id("rs"), answer.reasoning, as_summary))
    text = answer.text
    if text.strip() or not answer.tool_calls:
        out.append(message_item(new_id("msg"), text))
    for call in answer.tool_calls:
        out.append(call_item(new_id(item_prefix(call, table)), call, table))
    return out


def item_prefix(call: ToolCallOut, table: ToolTable) -> str:
    ref = table.refs.get(call.name)
    return "ctc" if ref is not None and ref.kind == "custom" else "fc"
