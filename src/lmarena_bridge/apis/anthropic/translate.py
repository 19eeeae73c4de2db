"""An Anthropic Messages request -> the neutral chat request (protocol/openai.py).

Tools become OpenAI function tools (so the prompt emulation of site/tool_prompt.py and
the parser of relay/tool_calls.py work unchanged), images ``image_url`` parts (base64 as
``data:`` URLs, for the attachment and upload path), ``tool_use``/``tool_result`` history
assistant ``tool_calls`` and role ``"tool"`` messages, ``system`` a system message.
What the site cannot take -- thinking blocks of earlier turns, server tools, sampling
fields -- is dropped; the names of what the client set go back as ignored parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lmarena_bridge.apis.anthropic.wire import (
    Block,
    CountTokensRequest,
    DocumentBlock,
    ImageBlock,
    Message,
    OtherBlock,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
)
from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import (
    ChatCompletionRequest,
    ChatMessage,
    FunctionCall,
    FunctionDefinition,
    ImagePart,
    ImageURL,
    NamedFunction,
    NamedToolChoice,
    TextPart,
    ToolCall,
)
from lmarena_bridge.protocol.openai import Tool as FunctionTool

ContentParts = list[TextPart | ImagePart]


@dataclass
class Translated:
    request: ChatCompletionRequest
    ignored: list[str]  # what the client set that the bridge does not honour
    thinking: bool  # the client asked for thinking blocks


def translate(req: CountTokensRequest, *, stream: bool | None = None) -> Translated:
    """The neutral request for ``req``; a 400 for what cannot be sent at all (a forced
    server tool, an image from the Files API, a PDF)."""
    ignored = req.extra_fields()
    dropped: set[str] = set()
    messages: list[ChatMessage] = []
    if req.system:
        messages.append(ChatMessage(role="system", content=_system_text(req.system, "system")))
    for i, msg in enumerate(req.messages):
        messages += _message(msg, f"messages[{i}]", dropped)
    ignored += sorted(f"content:{kind}" for kind in dropped)
    tools, server_tools = _tools(req.tools or [])
    ignored += [f"tools:{name}" for name in server_tools]
    out = ChatCompletionRequest(
        model=req.model,
        messages=messages,
        stream=req.stream if stream is None else stream,
        max_tokens=req.max_tokens,
        stop=[s for s in req.stop_sequences or [] if s] or None,
        tools=tools or None,
    )
    if req.tool_choice is not None:
        choice = req.tool_choice
        if choice.type == "tool" and choice.name in server_tools:
            raise InvalidRequest(
                f"tool_choice forces the tool '{choice.name}', which the bridge cannot run "
                "(server tools such as web search are not available through the site).",
                param="tool_choice.name",
            )
        if choice.type == "any" and server_tools and not tools:
            raise InvalidRequest(
                "tool_choice 'any' forces a tool, but every tool given is one the bridge "
                f"cannot run ({', '.join(server_tools)}).",
                param="tool_choice",
            )
        if choice.type == "tool":
            if not choice.name:
                raise InvalidRequest(
                    "tool_choice of type 'tool' needs a 'name'.", param="tool_choice.name"
                )
            out.tool_choice = NamedToolChoice(function=NamedFunction(name=choice.name))
        elif tools or choice.type in ("auto", "none"):
            out.tool_choice = {"any": "required"}.get(choice.type, choice.type)
        if choice.disable_parallel_tool_use:
            out.parallel_tool_calls = False
    return Translated(
        request=out, ignored=ignored, thinking=bool(req.thinking and req.thinking.wanted)
    )


def _system_text(content: str | list[Block], where: str) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for j, block in enumerate(content):
        if not isinstance(block, TextBlock):
            raise InvalidRequest(
                f"{where}[{j}]: system content must be text blocks, not '{block.type}'.",
                param=f"{where}[{j}].type",
            )
        texts.append(block.text)
    return "\n\n".join(texts)


def _message(msg: Message, where: str, dropped: set[str]) -> list[ChatMessage]:
    if msg.role == "system":
        return [ChatMessage(role="system", content=_system_text(msg.content, where))]
    if isinstance(msg.content, str):
        return [ChatMessage(role=msg.role, content=msg.content)]
    if msg.role == "assistant":
        return [_assistant(msg.content, where, dropped)]
    out: list[ChatMessage] = []
    parts: ContentParts = []
    for j, block in enumerate(msg.content):
        at = f"{where}.content[{j}]"
        if isinstance(block, ToolResultBlock):
            out += _tool_result(block, at, dropped)
        else:
            parts += _parts(block, at, dropped)
    if parts or not out:
        out.append(ChatMessage(role="user", content=_compact(parts)))
    return out


def _assistant(blocks: list[Block], where: str, dropped: set[str]) -> ChatMessage:
    parts: ContentParts = []
    calls: list[ToolCall] = []
    for j, block in enumerate(blocks):
        if isinstance(block, ToolUseBlock):
            arguments = json.dumps(block.input, ensure_ascii=False, separators=(",", ":"))
            calls.append(
                ToolCall(id=block.id, function=FunctionCall(name=block.name, arguments=arguments))
            )
        else:
            parts += _parts(block, f"{where}.content[{j}]", dropped)
    text = "".join(p.text for p in parts if isinstance(p, TextPart))
    return ChatMessage(role="assistant", content=text, tool_calls=calls or None)


def _tool_result(block: ToolResultBlock, where: str, dropped: set[str]) -> list[ChatMessage]:
    """A role "tool" message with the result's text; images of the result follow it in a
    user message (the site takes images only as attachments of a turn)."""
    content = block.content
    parts: ContentParts = []
    if isinstance(content, str):
        parts.append(TextPart(type="text", text=content))
    elif content:
        for j, inner in enumerate(content):
            parts += _parts(inner, f"{where}.content[{j}]", dropped)
    text = "\n\n".join(p.text for p in parts if isinstance(p, TextPart))
    if block.is_error:
        text = f"Error: {text}" if text else "Error"
    out = [ChatMessage(role="tool", tool_call_id=block.tool_use_id, content=text)]
    images: ContentParts = [p for p in parts if isinstance(p, ImagePart)]
    if images:
        note = TextPart(type="text", text=f"(images returned by tool call {block.tool_use_id})")
        out.append(ChatMessage(role="user", content=[note, *images]))
    return out


def _parts(block: Block, where: str, dropped: set[str]) -> ContentParts:
    if isinstance(block, TextBlock):
        return [TextPart(type="text", text=block.text)]
    if isinstance(block, ImageBlock):
        return [ImagePart(type="image_url", image_url=ImageURL(url=_image_url(block, where)))]
    if isinstance(block, DocumentBlock):
        return [TextPart(type="text", text=_document_text(block, where))]
    if isinstance(block, ThinkingBlock):
        return []  # earlier reasoning: the site has no field for it
    if isinstance(block, ToolUseBlock | ToolResultBlock):
        raise InvalidRequest(
            f"{where}: a '{block.type}' block is not allowed here.", param=f"{where}.type"
        )
    assert isinstance(block, OtherBlock)
    dropped.add(block.type)
    return []


def _image_url(block: ImageBlock, where: str) -> str:
    src = block.source
    if src.type == "base64" and src.data:
        return f"data:{src.media_type or 'image/png'};base64,{src.data}"
    if src.type == "url" and src.url:
        return src.url
    raise InvalidRequest(
        f"{where}: image source '{src.type}' is not supported by the bridge (send 'base64' "
        "with media_type and data, or 'url').",
        param=f"{where}.source",
    )


def _document_text(block: DocumentBlock, where: str) -> str:
    src = block.source
    text: str | None = None
    if src.type == "text" and src.data is not None:
        text = src.data
    elif src.type == "content":
        if isinstance(src.content, str):
            text = src.content
        elif isinstance(src.content, list):
            text = "\n\n".join(_loose_text(item) for item in src.content)
    if text is None:
        raise InvalidRequest(
            f"{where}: document source '{src.type}' is not supported by the bridge (only "
            "plain-text documents are; the site takes no PDFs).",
            param=f"{where}.source",
        )
    return f"{block.title}\n\n{text}" if block.title else text


def _loose_text(item: Any) -> str:
    return str(item.get("text", "")) if isinstance(item, dict) else str(item)


def _compact(parts: ContentParts) -> str | list[TextPart | ImagePart] | None:
    """Text-only content as one string (what the transcript renders most simply)."""
    if all(isinstance(p, TextPart) for p in parts):
        return "\n\n".join(p.text for p in parts if isinstance(p, TextPart))
    return list(parts)


def _tools(tools: list[Tool]) -> tuple[list[FunctionTool], list[str]]:
    """(function tools, names of the server tools dropped)."""
    functions: list[FunctionTool] = []
    server: list[str] = []
    for tool in tools:
        if not tool.is_client_tool:
            server.append(tool.name)
            continue
        functions.append(
            FunctionTool(
                type="function",
                function=FunctionDefinition(
                    name=tool.name, description=tool.description, parameters=tool.input_schema
                ),
            )
        )
    return functions, server
