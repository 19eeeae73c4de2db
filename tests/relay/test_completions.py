"""AnswerBuilder and ChunkEncoder with tools: pieces, finish reasons, OpenAI's shapes."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from lmarena_bridge.relay.completions import AnswerBuilder, Piece
from lmarena_bridge.relay.encoding import ChunkEncoder, completion_body
from lmarena_bridge.relay.tool_calls import ToolSet
from lmarena_bridge.site.events import Event, Finish, ReasoningDelta, TextDelta

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "%s"}}</tool_call>'


def builder(*, parallel: bool = True, **kw: Any) -> AnswerBuilder:
    ids = (f"call_{i}" for i in itertools.count())
    opts: dict[str, Any] = {"stops": [], "token_limit": None, "reasoning_mode": "reasoning_content",
                            "prompt_chars": 10}
    opts.update(kw)
    return AnswerBuilder(**opts, tools=ToolSet({"get_weather": WEATHER}, parallel=parallel),
                         new_call_id=lambda: next(ids))


def feed_all(answer: AnswerBuilder, events: list[Event]) -> list[Piece]:
    pieces = answer.feed(events)
    return pieces + answer.finish()


def texts(pieces: list[Piece]) -> str:
    return "".join(p.text for p in pieces if p.kind == "content")


def calls(pieces: list[Piece]) -> list[tuple[int, str, str, str]]:
    return [(p.call.index, p.call.id, p.call.name, p.call.arguments)
            for p in pieces if p.call is not None]


def text_events(text: str, size: int = 7) -> list[Event]:
    return [TextDelta(text[i : i + size]) for i in range(0, len(text), size)]


def test_text_then_two_calls() -> None:
    answer = builder()
    pieces = feed_all(answer, [*text_events("Checking.\n" + CALL % "Paris" + "\n" + CALL % "Rome"),
                               Finish("stop")])
    assert texts(pieces) == "Checking."
    assert calls(pieces) == [(0, "call_0", "get_weather", '{"city":"Paris"}'),
                             (1, "call_1", "get_weather", '{"city":"Rome"}')]
    assert answer.finish_reason == "tool_calls"
    msg = completion_body("chatcmpl-1", 1, "m", answer)["choices"][0]
    assert msg["finish_reason"] == "tool_calls"
    assert msg["message"] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ],
    }


def test_calls_only_give_null_content() -> None:
    answer = builder()
    feed_all(answer, [TextDelta("\n" + CALL % "Paris" + "\n\n"), Finish("stop")])
    message = answer.message()
    assert message["content"] is None
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather"]


def test_one_call_ends_the_answer_without_parallel_calls() -> None:
    answer = builder(parallel=False)
    pieces = answer.feed(text_events(CALL % "Paris" + CALL % "Rome" + "more"))
    assert answer.ended and answer.finish_reason == "tool_calls"
    assert [c[3] for c in calls(pieces)] == ['{"city":"Paris"}']
    assert texts(pieces) == ""
    answer.finish()  # nothing left to send, nothing raised


def test_a_rejected_block_is_text_and_the_reason_stays_stop() -> None:
    answer = builder()
    bad = '<tool_call>{"name": "delete_all", "arguments": {}}</tool_call>'
    pieces = feed_all(answer, [TextDelta(bad), Finish("stop")])
    assert texts(pieces) == bad and calls(pieces) == []
    assert answer.finish_reason == "stop"
    assert answer.message() == {"role": "assistant", "content": bad}
    assert answer.tool_rejections == {"unknown_tool": 1}
    assert answer.rejected_tool_names == ["delete_all"]


def test_an_unclosed_block_at_a_length_finish_is_text() -> None:
    answer = builder()
    pieces = feed_all(answer, [TextDelta("<tool_call>{\"name\": \"get_"), Finish("length")])
    assert texts(pieces) == '<tool_call>{"name": "get_'
    assert answer.finish_reason == "length"
    assert answer.tool_rejections == {"unclosed": 1}


def test_without_a_finish_line_the_body_end_flushes() -> None:
    answer = builder()
    pieces = answer.feed([TextDelta(CALL % "Paris")]) + answer.finish()
    assert len(calls(pieces)) == 1 and answer.finish_reason == "tool_calls"


def test_text_held_for_a_stop_sequence_goes_out_before_the_call() -> None:
    answer = builder(stops=["STOP!"])
    pieces = feed_all(answer, [TextDelta("Wait ST"), TextDelta(CALL % "Paris"), Finish("stop")])
    kinds = [(p.kind, p.text) for p in pieces]
    assert kinds[:2] == [("content", "Wait "), ("content", "ST")]
    assert kinds[2][0] == "tool_call"


def test_think_tags_close_before_a_call() -> None:
    answer = builder(reasoning_mode="think_tags")
    pieces = feed_all(answer, [ReasoningDelta("hmm"), TextDelta(CALL % "Paris"), Finish("stop")])
    assert [p.kind for p in pieces] == ["content", "content", "tool_call"]
    assert texts(pieces) == "<think>\nhmm</think>\n\n"


def test_calls_count_in_the_usage_estimate() -> None:
    answer = builder()
    feed_all(answer, [TextDelta(CALL % "Paris"), Finish("stop")])
    assert answer.usage()["completion_tokens"] == -(-len(CALL % "Paris") // 4)


def test_without_tools_blocks_are_plain_text() -> None:
    answer = AnswerBuilder(stops=[], token_limit=None, reasoning_mode="drop", prompt_chars=1)
    pieces = feed_all(answer, [TextDelta(CALL % "Paris"), Finish("stop")])
    assert texts(pieces) == CALL % "Paris" and answer.finish_reason == "stop"
    assert answer.tool_rejections is None


def frames(data: bytes) -> list[dict[str, Any]]:
    out = []
    for block in data.decode().split("\n\n"):
        if block:
            assert block.startswith("data: ")
            out.append(json.loads(block[6:]))
    return out


@pytest.mark.parametrize("include_usage", [False, True])
def test_stream_frames_are_openai_tool_call_deltas(include_usage: bool) -> None:
    answer = builder()
    pieces = feed_all(answer, [TextDelta("Hi. " + CALL % "Paris"), Finish("stop")])
    enc = ChunkEncoder("chatcmpl-x", 7, "m", include_usage)
    got = frames(enc.pieces(pieces) + enc.finish(answer.finish_reason or "stop"))
    for f in got:
        assert (f["id"], f["object"], f["created"], f["model"]) == (
            "chatcmpl-x", "chat.completion.chunk", 7, "m")
        assert ("usage" in f) is include_usage
    assert [f["choices"][0]["delta"] for f in got] == [
        {"content": "Hi."},
        {"tool_calls": [{"index": 0, "id": "call_0", "type": "function",
                         "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]},
        {},
    ]
    assert [f["choices"][0]["finish_reason"] for f in got] == [None, None, None, "tool_calls"]
