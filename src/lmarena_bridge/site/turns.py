"""One OpenAI message -> one turn: its role in the transcript and the seed-era template
(text, attachments). Tool calls and results become text (site/tool_prompt.py). Pure."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import ChatMessage, ImagePart, TextPart
from lmarena_bridge.protocol.worker import AttachmentPayload, MessageTemplate
from lmarena_bridge.site.attachments import attachment_from_url
from lmarena_bridge.site.job import Turn, turn_key
from lmarena_bridge.site.tool_prompt import render_tool_calls, render_tool_result
from lmarena_bridge.site.transcript import TurnKey

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def short_id() -> str:
    return uuid.uuid4().hex[:12]


def message_turn(
    index: int, msg: ChatMessage, new_id: Callable[[], str], tool_names: dict[str, str]
) -> Turn:
    """(transcript role, template) of one message; tool results become user text."""
    if msg.role == "tool":
        name = tool_names.get(msg.tool_call_id or "")
        text = render_tool_result(msg.tool_call_id, name, msg.content)
        return "tool", MessageTemplate(role="user", content=text)
    role = _ROLES.get(msg.role)
    if role is None:
        raise InvalidRequest(
            f"messages[{index}] has role '{msg.role}', which the bridge does not support "
            "(send tool results as role 'tool').",
            param="messages",
        )
    # reasoning_content of earlier assistant turns is dropped on purpose: the site has no
    # field for it and replaying it as text would change the conversation.
    content = msg.content
    attachments: list[AttachmentPayload] = []
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        texts: list[str] = []
        for j, part in enumerate(content):
            where = f"messages[{index}].content[{j}]"
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, ImagePart):
                attachments.append(attachment_from_url(part.image_url.url, where, new_id))
            else:
                # Some clients send {"type": "image_url", "image_url": "<url>"}.
                loose = (part.model_extra or {}).get("image_url")
                if part.type == "image_url" and isinstance(loose, str):
                    attachments.append(attachment_from_url(loose, where, new_id))
                else:
                    raise InvalidRequest(
                        f"Content part type '{part.type}' is not supported by the bridge "
                        "(only 'text' and 'image_url' are).",
                        param=where,
                    )
        text = "\n\n".join(texts)
    if msg.tool_calls:
        calls = render_tool_calls(msg.tool_calls)
        text = f"{text}\n\n{calls}" if text.strip() else calls
    if role == "user" and not text.strip():
        text = " "  # the site refuses empty user messages
    return role, MessageTemplate(role=role, content=text, attachments=attachments)


def answer_turn_key(message: dict[str, Any]) -> TurnKey:
    """The turn key of an answer the bridge gave, as a client sends it back next time."""
    role, template = message_turn(0, ChatMessage.model_validate(message), short_id, {})
    return turn_key(role, template)
