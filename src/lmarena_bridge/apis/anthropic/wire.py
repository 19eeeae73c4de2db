"""Pydantic models of the Anthropic Messages API requests the bridge reads.

Lenient like the real API is with what real clients send: every object allows unknown
fields (``cache_control``, ``citations``, …), and a content block of a type the bridge
does not know parses as :class:`OtherBlock` (the translator drops it and reports it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextBlock(_Inbound):
    type: Literal["text"]
    text: str


class Source(_Inbound):
    """An image or document source: ``base64`` (media_type, data), ``url``, ``text``,
    ``content`` or ``file`` (checked by the translator, which knows what it can send)."""

    type: str
    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    content: str | list[Any] | None = None


class ImageBlock(_Inbound):
    type: Literal["image"]
    source: Source


class DocumentBlock(_Inbound):
    type: Literal["document"]
    source: Source
    title: str | None = None


class ToolUseBlock(_Inbound):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(_Inbound):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Block] | None = None
    is_error: bool | None = None


class ThinkingBlock(_Inbound):
    type: Literal["thinking", "redacted_thinking"]


class OtherBlock(_Inbound):
    """Server tool blocks (``server_tool_use``, ``web_search_tool_result``, …) and anything
    newer: accepted, not sent."""

    type: str


_KNOWN_BLOCKS = frozenset(
    {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"}
)


def _block_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind in ("thinking", "redacted_thinking"):
        return "thinking"
    return kind if isinstance(kind, str) and kind in _KNOWN_BLOCKS else "other"


Block = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")]
    | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ToolResultBlock, Tag("tool_result")]
    | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[OtherBlock, Tag("other")],
    Discriminator(_block_tag),
]
BLOCK_TAGS = frozenset({*_KNOWN_BLOCKS, "other"})


class Message(_Inbound):
    # "system" inside messages: Claude Code sends it, the real API takes it.
    role: Literal["user", "assistant", "system"]
    content: str | list[Block]


class Tool(_Inbound):
    """A client tool (``type`` absent or ``"custom"``) or a server/versioned tool
    (``web_search_20250305``, ``bash_20250124``, …) the bridge cannot run."""

    name: str = Field(min_length=1, max_length=128)
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None

    @property
    def is_client_tool(self) -> bool:
        return self.type in (None, "custom")


class ToolChoice(_Inbound):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Thinking(_Inbound):
    type: str  # "enabled" | "disabled" | "adaptive" (and whatever comes next)
    budget_tokens: int | None = None
    display: str | None = None  # "omitted": the client shows no thinking (Claude Code -p)

    @property
    def wanted(self) -> bool:
        return self.type != "disabled" and self.display != "omitted"


class CountTokensRequest(_Inbound):
    model: str = Field(min_length=1)
    messages: list[Message]
    system: str | list[Block] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    stop_sequences: list[str] | None = None
    stream: bool = False
    metadata: dict[str, Any] | None = None

    def extra_fields(self) -> list[str]:
        """Fields the bridge does not use (sampling, ``context_management``, …)."""
        return sorted(self.model_extra or {})


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)  # required, as the real API has it


ToolResultBlock.model_rebuild()
