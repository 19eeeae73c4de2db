"""A Responses API request -> the neutral ``ChatCompletionRequest`` (relay/answer_encoder.py).

``instructions`` and system/developer messages become system/developer messages;
``input_image`` parts become ``image_url`` parts; ``function_call`` / ``custom_tool_call``
items become an assistant message's ``tool_calls`` and their outputs ``role: "tool"``
messages; ``reasoning`` items are skipped (the site's model never sees its own earlier
reasoning); ``additional_tools`` items add tools. Tools: apis/responses/tools.py.

The bridge keeps no conversations: ``previous_response_id``, ``conversation`` and
``item_reference`` items are a 400, as is ``background`` mode.

Pure: no I/O. Raises ``InvalidRequest`` naming the input item at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lmarena_bridge.apis.responses.tools import CUSTOM_INPUT, ToolTable, flat_name
from lmarena_bridge.apis.responses.wire import HONOURED, ResponsesRequest
from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import (
    ChatCompletionRequest,
    ChatMessage,
    ContentPart,
    FunctionCall,
    ImagePart,
    ImageURL,
    TextPart,
    ToolCall,
)

_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_SKIPPED_ITEMS = frozenset({"reasoning", "compaction", "compaction_summary"})


@dataclass
class Translated:
    request: ChatCompletionRequest
    table: ToolTable
    ignored: list[str] = field(default_factory=list)


def translate(req: ResponsesRequest) -> Translated:
    _refuse_stored_state(req)
    table = ToolTable()
    table.add_all(req.tools or [], "tools")
    ignored: list[str] = []
    msgs = _Messages(table, ignored)
    if isinstance(req.instructions, str):
        if req.instructions:
            msgs.out.append(ChatMessage(role="system", content=req.instructions))
    elif req.instructions:
        msgs.items(req.instructions, "instructions")
    if isinstance(req.input, str):
        msgs.out.append(ChatMessage(role="user", content=req.input))
    else:
        msgs.items(req.input, "input")
    choice = table.choice(req.tool_choice)
    chat = ChatCompletionRequest(
        model=req.model,
        messages=msgs.out,
        stream=req.stream,
        max_tokens=req.max_output_tokens,
        tools=table.tools or None,
        tool_choice=choice if table.tools or choice not in ("auto", None) else None,
        parallel_tool_calls=req.parallel_tool_calls,
    )
    given = set(req.model_fields_set) | set(req.model_extra or {})
    report = sorted(given - HONOURED - {"text"})
    fmt = (req.text or {}).get("format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        report.append("text.format")
    report += [f"tools:{kind}" for kind in table.dropped] + ignored
    return Translated(chat, table, report)


def _refuse_stored_state(req: ResponsesRequest) -> None:
    if req.previous_response_id:
        raise InvalidRequest(
            "'previous_response_id' is not supported: the bridge keeps no conversations. "
            "Send the whole conversation in 'input' (as Codex and the Agents SDK do by "
            "default).",
            param="previous_response_id",
            code="previous_response_not_supported",
        )
    if req.conversation:
        raise InvalidRequest(
            "'conversation' is not supported: the bridge keeps no conversations. Send the "
            "whole conversation in 'input'.",
            param="conversation",
            code="previous_response_not_supported",
        )
    if req.background:
        raise InvalidRequest(
            "'background' mode is not supported: the bridge stores no responses to poll.",
            param="background",
            code="background_not_supported",
        )


class _Messages:
    def __init__(self, table: ToolTable, ignored: list[str]) -> None:
        self.out: list[ChatMessage] = []
        self.table = table
        self.ignored = ignored

    def items(self, items: list[Any], where: str) -> None:
        for i, item in enumerate(items):
            at = f"{where}[{i}]"
            if not isinstance(item, dict):
                raise InvalidRequest(f"'{at}' must be an object.", param=at)
            kind = item.get("type")
            if kind is None or kind == "message":
                self.message(item, at)
            elif kind in ("function_call", "custom_tool_call"):
                self.call(item, at)
            elif kind in ("function_call_output", "custom_tool_call_output"):
                self.output(item, at)
            elif kind == "additional_tools":
                self.table.add_all(_list(item, "tools", at), f"{at}.tools")
            elif kind == "item_reference":
                raise InvalidRequest(
                    f"'{at}' is an item_reference: the bridge keeps no earlier items; send "
                    "the item itself.",
                    param=at,
                    code="previous_response_not_supported",
                )
            elif kind not in _SKIPPED_ITEMS:
                note = f"input:{kind}"
                if note not in self.ignored:
                    self.ignored.append(note)

    def message(self, item: dict[str, Any], at: str) -> None:
        role = item.get("role")
        if role not in _ROLES:
            raise InvalidRequest(
                f"'{at}.role' must be one of user, assistant, system, developer.",
                param=f"{at}.role",
            )
        content = item.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            parts = [_part(p, f"{at}.content[{j}]") for j, p in enumerate(_seq(content, at))]
            content = parts
            if role != "user" and all(isinstance(p, TextPart) for p in parts):
                content = "".join(p.text for p in parts if isinstance(p, TextPart))
        self.out.append(ChatMessage(role=role, content=content))

    def call(self, item: dict[str, Any], at: str) -> None:
        call_id = _str(item, "call_id", at)
        name = flat_name(_str(item, "name", at), item.get("namespace"))
        if item["type"] == "custom_tool_call":
            text = item.get(CUSTOM_INPUT)
            arguments = json.dumps({CUSTOM_INPUT: text if isinstance(text, str) else ""})
        else:
            raw = item.get("arguments")
            arguments = raw if isinstance(raw, str) else json.dumps(raw or {})
        tc = ToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments))
        last = self.out[-1] if self.out else None
        if last is not None and last.role == "assistant":
            last.tool_calls = [*(last.tool_calls or []), tc]
        else:
            self.out.append(ChatMessage(role="assistant", content=None, tool_calls=[tc]))

    def output(self, item: dict[str, Any], at: str) -> None:
        call_id = _str(item, "call_id", at)
        raw = item.get("output")
        content: str | list[ContentPart]
        if raw is None or isinstance(raw, str):
            content = raw or ""
        else:
            content = [_part(p, f"{at}.output[{j}]") for j, p in enumerate(_seq(raw, at))]
        self.out.append(ChatMessage(role="tool", tool_call_id=call_id, content=content))


def _part(part: Any, at: str) -> ContentPart:
    if isinstance(part, str):
        return TextPart(type="text", text=part)
    if not isinstance(part, dict):
        raise InvalidRequest(f"'{at}' must be an object.", param=at)
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return TextPart(type="text", text=str(part.get("text") or ""))
    if kind == "refusal":
        return TextPart(type="text", text=str(part.get("refusal") or ""))
    if kind == "input_image":
        url = part.get("image_url")
        if isinstance(url, dict):  # a Chat Completions shape
            url = url.get("url")
        if not isinstance(url, str) or not url:
            raise InvalidRequest(
                f"'{at}' has no 'image_url': the bridge has no Files API, so images come "
                "as a URL or a data: URL.",
                param=f"{at}.image_url",
            )
        detail = part.get("detail")
        return ImagePart(
            type="image_url",
            image_url=ImageURL(url=url, detail=detail if isinstance(detail, str) else None),
        )
    raise InvalidRequest(
        f"'{at}' is a '{kind}' part, which the bridge cannot send to the site (text and "
        "images are supported).",
        param=f"{at}.type",
    )


def _seq(value: Any, at: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"'{at}' content must be a string or a list of parts.", param=at)
    return value


def _list(item: dict[str, Any], key: str, at: str) -> list[Any]:
    value = item.get(key)
    if not isinstance(value, list):
        raise InvalidRequest(f"'{at}.{key}' must be a list.", param=f"{at}.{key}")
    return value


def _str(item: dict[str, Any], key: str, at: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{at}.{key}' is required.", param=f"{at}.{key}")
    return value
