"""Pydantic models of the OpenAI wire formats the bridge speaks.

Inbound requests tolerate unknown fields (clients send many); outbound objects are
built as plain dicts on the hot path (see relay.completions) and described here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="allow")


class ImageURL(_Inbound):
    url: str
    detail: str | None = None


class TextPart(_Inbound):
    type: Literal["text"]
    text: str


class ImagePart(_Inbound):
    type: Literal["image_url"]
    image_url: ImageURL


class OtherPart(_Inbound):
    """Parts we do not support (input_audio, file, ...) are refused with a 400 by the builder."""

    type: str


ContentPart = TextPart | ImagePart | OtherPart


class FunctionCall(_Inbound):
    name: str
    # A JSON text per OpenAI; some clients replay the parsed object, which is kept as is.
    arguments: str | dict[str, Any] = ""


class ToolCall(_Inbound):
    """A call in an earlier assistant message (``messages[].tool_calls[]``)."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class FunctionDefinition(_Inbound):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    # A JSON Schema object; absent means the function takes no arguments.
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Inbound):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Inbound):
    name: str


class NamedToolChoice(_Inbound):
    """``{"type": "function", "function": {"name": ...}}``: the model must call that tool."""

    type: Literal["function"] = "function"
    function: NamedFunction


class ChatMessage(_Inbound):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None  # assistant messages
    tool_call_id: str | None = None  # role "tool"


ONLY_ONE_CHOICE = "Only n=1 is supported: the site returns one answer per request."


class StreamOptions(_Inbound):
    include_usage: bool = False


class ChatCompletionRequest(_Inbound):
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    # The site gives one answer per request: http/limits.py refuses any other n with
    # ONLY_ONE_CHOICE before validation (no upper bound here, whose message would differ).
    n: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    # "none" | "auto" | "required" | a named function (other strings get a 400 later).
    tool_choice: str | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None

    def ignored_params(self) -> list[str]:
        """Parameters the client set that the site cannot honour (told in a header)."""
        given = set(self.model_fields_set) | set(self.model_extra or {})
        return sorted(given & _IGNORED)

    def stop_sequences(self) -> list[str]:
        if self.stop is None:
            return []
        seqs = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        return [s for s in seqs if s]

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class ImageGenerationRequest(_Inbound):
    prompt: str = Field(min_length=1)
    model: str | None = None
    n: int = Field(default=1, ge=1, le=10)
    size: str | None = None
    response_format: Literal["url", "b64_json"] = "url"
    quality: str | None = None
    style: str | None = None
    user: str | None = None


# Sampling and output options the site has no way to receive.
_IGNORED = frozenset(
    {
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "reasoning_effort",
        "modalities",
        "audio",
        "prediction",
    }
)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ModelCapabilities(BaseModel):
    vision: bool = False  # takes images
    image_output: bool = False  # makes images
    search: bool = False  # answers from web search
    requires_upload: bool = False  # images must be uploaded to the site first


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    type: Literal["text", "image"] | None = None  # ours: what the model produces
    # ours: what the site says the model can do (from available_models.json), for clients
    # that pick a model by ability
    capabilities: ModelCapabilities | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
