"""Tools in the prompt: the instructions, earlier calls and their results as text.

The site has no field for tools, so the bridge describes them in the prompt and asks for
one exact block per call, which ``relay.tool_calls`` parses back out of the answer::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

Earlier calls of the conversation are written back in that same format and their results
as ``<tool_result>`` blocks, so the model sees its own calls and what they returned.

Pure: no I/O. :func:`check_tool_request` raises ``InvalidRequest`` for tool requests the
bridge cannot serve; the other functions never raise.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import (
    ChatCompletionRequest,
    ChatMessage,
    ContentPart,
    NamedToolChoice,
    TextPart,
    Tool,
    ToolCall,
)

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
TOOL_CHOICES = ("none", "auto", "required")

_NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def tool_instructions(
    tools: Sequence[Tool] | None,
    tool_choice: str | NamedToolChoice | None,
    parallel_tool_calls: bool | None,
) -> str | None:
    """The tool section of the prompt; None when there is nothing to call.

    None for no tools or ``tool_choice`` ``"none"``. A named ``tool_choice`` lists only
    that tool and says it must be called; ``"required"`` says some tool must be called;
    ``parallel_tool_calls`` False allows one call per answer.
    """
    if not tools or tool_choice == "none":
        return None
    forced: str | None = None
    if isinstance(tool_choice, NamedToolChoice):
        forced = tool_choice.function.name
        tools = [t for t in tools if t.function.name == forced] or tools
    one = parallel_tool_calls is False
    lines = [
        "# Tools",
        "",
        "You can call the tools listed below. To call a tool, write a block in exactly "
        "this format:",
        "",
        f'{OPEN}{{"name": "TOOL_NAME", "arguments": {{"ARGUMENT": "VALUE"}}}}{CLOSE}',
        "",
        "Rules:",
        f"- One {OPEN} block per call. Inside it, a single JSON object with \"name\" (the "
        "tool's name) and \"arguments\" (a JSON object matching the tool's parameters "
        "schema, with every required property).",
        "- Use double quotes, no comments, and do not put the block inside a code fence "
        "or any other markup.",
        "- You may write some text first; the call block(s) must come last. Then stop "
        "writing: the results come back in the next message as <tool_result> blocks. "
        "Never write a <tool_result> yourself.",
    ]
    if one:
        lines.append("- Call at most one tool in an answer.")
    else:
        lines.append("- To call several tools at once, write several blocks one after another.")
    if forced is not None:
        lines.append(f'- In this answer you must call the tool "{forced}".')
    elif tool_choice == "required":
        lines.append("- In this answer you must call at least one tool.")
    else:
        lines.append("- If no tool is needed, answer normally, without any block.")
    lines += ["", "Available tools:"]
    for tool in tools:
        fn = tool.function
        lines += ["", f"## {fn.name}"]
        if fn.description:
            lines.append(fn.description.strip())
        lines.append("Parameters (JSON Schema): " + _dumps(fn.parameters or _NO_PARAMETERS))
    return "\n".join(lines)


def render_tool_calls(tool_calls: Sequence[ToolCall]) -> str:
    """An assistant message's calls as the blocks the model is asked to write, one a line."""
    return "\n".join(_call_block(tc) for tc in tool_calls)


def render_tool_result(
    tool_call_id: str | None, name: str | None, content: str | list[ContentPart] | None
) -> str:
    """A ``role: "tool"`` message's text: its content in a ``<tool_result>`` block that
    names the tool (when known) and the call id."""
    attrs = ""
    if name:
        attrs += f' name="{escape(name)}"'
    if tool_call_id:
        attrs += f' tool_call_id="{escape(tool_call_id)}"'
    return f"<tool_result{attrs}>\n{_content_text(content)}\n</tool_result>"


def tool_call_names(messages: Iterable[ChatMessage]) -> dict[str, str]:
    """Call id -> tool name, from the assistant messages' ``tool_calls`` (to name the tool
    of a ``role: "tool"`` message, which carries only the id)."""
    names: dict[str, str] = {}
    for msg in messages:
        for tc in msg.tool_calls or ():
            names[tc.id] = tc.function.name
    return names


def check_tool_request(req: ChatCompletionRequest, mode: str) -> None:
    """Refuse what cannot be served; ``mode`` is the ``tool_calling`` setting.

    Raises ``InvalidRequest`` (400) with ``param`` set: any tool use under ``"refuse"``;
    the legacy ``functions``; an unknown ``tool_choice``, one naming no given tool, or one
    other than ``"none"``/``"auto"`` without tools; two tools of one name; a tool message
    without ``tool_call_id``.
    """
    if mode == "refuse":
        if req.tools:
            raise InvalidRequest(
                "'tools' are turned off on this bridge (tool_calling is \"refuse\" in "
                "config.jsonc).",
                param="tools",
            )
        for i, msg in enumerate(req.messages):
            if msg.role == "tool" or msg.tool_calls:
                raise InvalidRequest(
                    f"messages[{i}] is a tool call or result, but tool calling is turned "
                    "off on this bridge (tool_calling is \"refuse\" in config.jsonc).",
                    param=f"messages[{i}]",
                )
    if req.functions:
        raise InvalidRequest(
            "'functions' is deprecated and not supported by the bridge; send 'tools'.",
            param="functions",
        )
    names: set[str] = set()
    for i, tool in enumerate(req.tools or ()):
        name = tool.function.name
        if name in names:
            raise InvalidRequest(
                f"Two tools are named '{name}'; tool names must be unique.",
                param=f"tools[{i}].function.name",
            )
        names.add(name)
    choice = req.tool_choice
    if isinstance(choice, str) and choice not in TOOL_CHOICES:
        raise InvalidRequest(
            f"Invalid value for 'tool_choice': '{choice}'. Use \"none\", \"auto\", "
            '"required" or {"type": "function", "function": {"name": ...}}.',
            param="tool_choice",
        )
    if choice is not None and choice not in ("none", "auto") and not req.tools:
        raise InvalidRequest(
            "'tool_choice' requires 'tools' to be given.", param="tool_choice"
        )
    if isinstance(choice, NamedToolChoice) and choice.function.name not in names:
        raise InvalidRequest(
            f"'tool_choice' names the function '{choice.function.name}', which is not "
            "among 'tools'.",
            param="tool_choice",
        )
    for i, msg in enumerate(req.messages):
        if msg.role == "tool" and not msg.tool_call_id:
            raise InvalidRequest(
                f"messages[{i}] has role 'tool' but no 'tool_call_id'.",
                param=f"messages[{i}].tool_call_id",
            )


# ---- helpers -----------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _call_block(tc: ToolCall) -> str:
    args: Any = tc.function.arguments
    if isinstance(args, str):
        with contextlib.suppress(ValueError):  # else kept as the string the client sent
            args = json.loads(args) if args.strip() else {}
    return f"{OPEN}{_dumps({'name': tc.function.name, 'arguments': args})}{CLOSE}"


def _content_text(content: str | list[ContentPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append(part.text)
        else:
            parts.append(f"[{part.type} omitted]")
    return "\n".join(parts)
