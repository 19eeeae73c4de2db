"""Site events -> the pieces of an OpenAI answer: stop sequences, length cut, reasoning
rendering, tool calls, finish reasons, usage.

Pure: no I/O. ``AnswerBuilder`` is fed parser events and returns what to send; the wire
encoding (SSE chunks, the whole ``chat.completion``) is relay/encoding.py's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lmarena_bridge.errors import BridgeError, SiteError
from lmarena_bridge.protocol.openai import Usage
from lmarena_bridge.relay.tool_calls import (
    ParsedCall,
    ToolCallOut,
    ToolCallParser,
    ToolSet,
    new_call_id,
)
from lmarena_bridge.site.events import (
    Citation,
    Event,
    Finish,
    ImageOutput,
    ReasoningDelta,
    RoutedModel,
    StreamError,
    TextDelta,
)
from lmarena_bridge.site.failures import classify_stream_error

FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "content-filter": "content_filter",
    "content_filter": "content_filter",
    "tool-calls": "tool_calls",
    "tool_calls": "tool_calls",
}


def map_finish_reason(site_reason: str | None) -> str:
    """The site's (AI SDK) finish reason -> OpenAI's enum; unknown/other -> stop."""
    return FINISH_REASONS.get(site_reason or "stop", "stop")


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / 4) if chars > 0 else 0


class StopScanner:
    """Cuts text at the first stop sequence, holding back a tail that may begin one."""

    __slots__ = ("held", "matched", "stops")

    def __init__(self, stops: list[str]) -> None:
        self.stops = stops
        self.held = ""
        self.matched: str | None = None  # the stop sequence that cut the text, once one did

    def push(self, text: str) -> tuple[str, bool]:
        buf = self.held + text if self.held else text
        cut = -1
        for s in self.stops:
            i = buf.find(s)
            if i != -1 and (cut == -1 or i < cut):
                cut = i
                self.matched = s
        if cut != -1:
            self.held = ""
            return buf[:cut], True
        keep = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(buf)), keep, -1):
                if buf.endswith(s[:k]):
                    keep = k
                    break
        if keep:
            self.held = buf[-keep:]
            return buf[:-keep], False
        self.held = ""
        return buf, False

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held


@dataclass(slots=True)
class Piece:
    kind: str  # "content" | "reasoning" | "tool_call"
    text: str
    call: ToolCallOut | None = None  # for "tool_call"


class AnswerBuilder:
    """Accumulates one answer from site events and decides what the client gets.

    ``feed`` returns the pieces to send now. After it, ``ended`` tells whether the answer
    is complete (finish line, stop sequence or length limit) — the caller then stops
    reading and aborts the site request if the site had not finished.
    Raises ``SiteError`` for in-stream errors and ``finishReason: error``.

    With ``tools``, content goes through a :class:`ToolCallParser`: valid ``<tool_call>``
    blocks become ``tool_call`` pieces, the finish reason becomes ``tool_calls``, and
    without parallel calls the answer ends after the first call.
    """

    def __init__(
        self,
        *,
        stops: list[str],
        token_limit: int | None,
        reasoning_mode: str,
        prompt_chars: int,
        image_markdown: bool = True,
        keep_text: bool = True,
        tools: ToolSet | None = None,
        new_call_id: Callable[[], str] = new_call_id,
    ) -> None:
        # ``keep_text`` False (streaming): the text already went out, keep only counts so a
        # long answer costs no memory.
        self.keep_text = keep_text
        self._stop = StopScanner(stops) if stops else None
        self._char_limit = token_limit * 4 if token_limit else None
        self.reasoning_mode = reasoning_mode
        self.prompt_chars = prompt_chars
        self.image_markdown = image_markdown
        self.content_parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.content_chars = 0
        self.reasoning_chars = 0
        self.images: list[ImageOutput] = []
        self.citations: list[Any] = []
        self.routed_model: str | None = None
        self.finish_reason: str | None = None
        self.site_usage: dict[str, Any] | None = None
        self.ended = False
        self._think_open = False
        self._tools = ToolCallParser(tools) if tools is not None else None
        self._new_call_id = new_call_id
        self.tool_calls: list[ToolCallOut] = []
        self.tool_chars = 0

    # -- feeding ---------------------------------------------------------------------------

    def feed(self, events: Iterable[Event]) -> list[Piece]:
        out: list[Piece] = []
        for ev in events:
            if self.ended:
                break
            cls = ev.__class__
            if cls is TextDelta:
                self._content(ev.text, out)  # type: ignore[union-attr]
            elif cls is ReasoningDelta:
                self._reasoning(ev.text, out)  # type: ignore[union-attr]
            elif cls is ImageOutput:
                self.images.append(ev)  # type: ignore[arg-type]
                if self.image_markdown:
                    sep = "\n\n" if self.content_chars else ""
                    self._content(f"{sep}![Image]({ev.url})", out)  # type: ignore[union-attr]
            elif cls is Finish:
                if ev.reason == "error":  # type: ignore[union-attr]
                    raise SiteError(
                        "The model failed to answer on the site (finishReason: error).",
                        status=502,
                        code="site_stream_error",
                    )
                self.site_usage = ev.usage  # type: ignore[union-attr]
                self._flush_tools(out)
                if not self.ended:
                    self._end(map_finish_reason(ev.reason), out)  # type: ignore[union-attr]
            elif cls is StreamError:
                raise classify_stream_error(ev.message)  # type: ignore[union-attr]
            elif cls is Citation:
                self.citations.append(ev.source)  # type: ignore[union-attr]
            elif cls is RoutedModel:
                self.routed_model = ev.organization  # type: ignore[union-attr]
        return out

    def finish(self) -> list[Piece]:
        """The body ended; flush held text. Raises if the answer is empty."""
        out: list[Piece] = []
        self._flush_tools(out)
        if not self.ended:
            self._end(self.finish_reason or "stop", out)
        if (
            not self.content_chars
            and not self.reasoning_chars
            and not self.images
            and not self.tool_calls
            and self.finish_reason not in ("content_filter", "length")
        ):
            raise BridgeError(
                # The lifecycle tries once more, then words the advice for the strategy.
                "The site returned an empty answer.",
                status=502,
                code="empty_response",
            )
        return out

    def _content(self, text: str, out: list[Piece]) -> None:
        if self._tools is None:
            self._text(text, out)
        elif text:
            self._tool_output(self._tools.feed(text), out)

    def _flush_tools(self, out: list[Piece]) -> None:
        if self._tools is not None and not self.ended:
            self._tool_output(self._tools.close(), out)

    def _tool_output(self, items: list[str | ParsedCall], out: list[Piece]) -> None:
        for item in items:
            if self.ended:
                return
            if isinstance(item, str):
                self._text(item, out)
            else:
                self._call(item, out)

    def _call(self, call: ParsedCall, out: list[Piece]) -> None:
        if self._think_open:
            self._think_open = False
            self._emit("content", "</think>\n\n", out, count=False)
        if self._stop is not None:  # text held for a stop sequence precedes the call
            self._emit("content", self._stop.flush(), out)
        self.tool_chars += len(call.raw)
        tc = ToolCallOut(len(self.tool_calls), self._new_call_id(), call.name, call.arguments)
        self.tool_calls.append(tc)
        out.append(Piece("tool_call", call.arguments, tc))
        if self._tools is not None and not self._tools.tools.parallel:
            self._end("tool_calls", out)

    def _text(self, text: str, out: list[Piece]) -> None:
        if not text:
            return
        if self._think_open:
            self._think_open = False
            self._emit("content", "</think>\n\n", out, count=False)
        hit = False
        if self._stop is not None:
            text, hit = self._stop.push(text)
        if self._char_limit is not None and self.content_chars + len(text) >= self._char_limit:
            text = text[: self._char_limit - self.content_chars]
            self._emit("content", text, out)
            self._end("length", out)
            return
        self._emit("content", text, out)
        if hit:
            self._end("stop", out)

    def _reasoning(self, text: str, out: list[Piece]) -> None:
        if not text or self.reasoning_mode == "drop":
            return
        self.reasoning_chars += len(text)
        if self.reasoning_mode == "think_tags":
            if not self._think_open and not self.content_chars:
                self._think_open = True
                text = "<think>\n" + text
            # Part of the content: a non-streamed answer carries it in message.content too.
            self._emit("content", text, out, count=False)
            return
        if self.keep_text:
            self.reasoning_parts.append(text)
        out.append(Piece("reasoning", text))

    def _emit(self, kind: str, text: str, out: list[Piece], count: bool = True) -> None:
        """Content out; ``count`` False for reasoning shown as content (not answer text)."""
        if not text:
            return
        if count:
            self.content_chars += len(text)
        if self.keep_text:
            self.content_parts.append(text)
        out.append(Piece(kind, text))

    def _end(self, reason: str, out: list[Piece]) -> None:
        # A held tail is text that only looked like the start of a stop sequence; it
        # belongs to the answer unless the answer was cut for length.
        if self._stop is not None:
            tail = self._stop.flush()
            if reason != "length":
                self._emit("content", tail, out)
        if self._think_open:
            self._think_open = False
            self._emit("content", "</think>\n\n", out, count=False)
        if reason == "stop" and self.tool_calls:
            reason = "tool_calls"
        self.finish_reason = reason
        self.ended = True

    # -- results ---------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self.content_parts)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts)

    @property
    def stop_matched(self) -> str | None:
        """The stop sequence that ended the answer (finish reason "stop"), if one did."""
        return self._stop.matched if self._stop is not None else None

    @property
    def tool_rejections(self) -> Counter[str] | None:
        """``<tool_call>`` blocks sent as text, by reason; None when tools were off."""
        return self._tools.rejected if self._tools is not None else None

    @property
    def rejected_tool_names(self) -> list[str]:
        return self._tools.rejected_tools if self._tools is not None else []

    def usage(self) -> dict[str, int]:
        u = self.site_usage or {}
        prompt = u.get("promptTokens")
        completion = u.get("completionTokens")
        if not isinstance(prompt, int):
            prompt = estimate_tokens(self.prompt_chars)
        if not isinstance(completion, int):
            completion = estimate_tokens(
                self.content_chars + self.reasoning_chars + self.tool_chars
            )
        return Usage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        ).model_dump()

    def message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            if not msg["content"].strip():
                msg["content"] = None  # OpenAI's shape for an answer of calls only
            msg["tool_calls"] = [tc.as_dict() for tc in self.tool_calls]
        if self.reasoning_mode == "reasoning_content" and self.reasoning_parts:
            msg["reasoning_content"] = self.reasoning
        if self.citations:
            msg["citations"] = self.citations
        return msg
