"""AnswerBuilder, table-driven: what the streamed pieces and the whole answer hold for every
documented answer feature (reasoning modes, max_tokens cut, stop sequences, citations)."""

from __future__ import annotations

from typing import Any

import pytest

from lmarena_bridge.relay.completions import AnswerBuilder
from lmarena_bridge.site.events import Citation, Event, Finish, ReasoningDelta, TextDelta

THINK = [ReasoningDelta("plan "), ReasoningDelta("more"), TextDelta("Hello "),
         TextDelta("world"), Finish("stop")]


def run(events: list[Event], keep_text: bool, **kw: Any) -> tuple[AnswerBuilder, str, str]:
    opts: dict[str, Any] = {"stops": [], "token_limit": None,
                            "reasoning_mode": "reasoning_content", "prompt_chars": 4}
    opts.update(kw)
    answer = AnswerBuilder(keep_text=keep_text, **opts)
    pieces = answer.feed(events) + answer.finish()
    streamed = "".join(p.text for p in pieces if p.kind == "content")
    reasoning = "".join(p.text for p in pieces if p.kind == "reasoning")
    return answer, streamed, reasoning


@pytest.mark.parametrize(
    ("events", "kw", "content", "reasoning", "finish"),
    [
        (THINK, {}, "Hello world", "plan more", "stop"),
        (THINK, {"reasoning_mode": "think_tags"},
         "<think>\nplan more</think>\n\nHello world", "", "stop"),
        (THINK, {"reasoning_mode": "drop"}, "Hello world", "", "stop"),
        ([TextDelta("abcdefghij"), Finish("stop")], {"token_limit": 2}, "abcdefgh", "", "length"),
        ([TextDelta("one STOP two"), Finish("stop")], {"stops": ["STOP"]}, "one ", "", "stop"),
        ([TextDelta("one ST"), TextDelta("ill"), Finish("stop")], {"stops": ["STOP"]},
         "one STill", "", "stop"),
        ([TextDelta("x"), Finish("content-filter")], {}, "x", "", "content_filter"),
        ([TextDelta("x"), Finish("length")], {}, "x", "", "length"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_answer_features(events: list[Event], kw: dict[str, Any], content: str,
                         reasoning: str, finish: str, stream: bool) -> None:
    answer, streamed, streamed_reasoning = run(events, keep_text=not stream, **kw)
    assert streamed == content
    assert streamed_reasoning == reasoning
    assert answer.finish_reason == finish
    if not stream:  # the non-streamed message holds exactly what a stream would show
        message = answer.message()
        assert message["content"] == content
        assert message.get("reasoning_content", "") == reasoning


def test_citations_in_the_message() -> None:
    answer, _, _ = run([TextDelta("a"), Citation({"url": "https://x.test"}), Finish("stop")],
                       keep_text=True)
    assert answer.message()["citations"] == [{"url": "https://x.test"}]
