"""Pydantic models of the OpenAI Responses API request (``POST /v1/responses``).

Lenient like the real API with what real clients send: unknown fields are kept (and
reported as ignored by the route), input items and tools are kept as objects and read by
their ``type`` in apis/responses/translate.py and apis/responses/tools.py, so one odd item
gets a 400 naming it instead of a union error about every item type.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="allow")


class ReasoningConfig(_Inbound):
    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None  # the older name of ``summary``


class ResponsesRequest(_Inbound):
    model: str
    input: str | list[dict[str, Any]] = Field(default_factory=list)
    instructions: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    store: bool | None = None
    include: list[str] | None = None
    reasoning: ReasoningConfig | None = None
    text: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    background: bool | None = None

    def reasoning_asked(self) -> bool:
        """Whether the site's reasoning goes back as ``reasoning`` items: the request
        gave ``reasoning`` and did not turn it off (``effort: "none"``)."""
        r = self.reasoning
        if r is None:
            return False
        if r.summary or r.generate_summary:
            return True
        return r.effort != "none"

    def reasoning_as_summary(self) -> bool:
        """Reasoning as ``summary_text`` (what clients show) when a summary was asked for,
        else as ``reasoning_text`` content."""
        r = self.reasoning
        return r is not None and bool(r.summary or r.generate_summary)


# Fields the bridge honours or accepts without loss; every other field the client set is
# reported in ``X-Bridge-Ignored-Params``.
HONOURED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "stream",
        "store",
        "reasoning",
        "metadata",
        "previous_response_id",
        "conversation",
        "background",
    }
)
