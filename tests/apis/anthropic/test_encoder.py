"""The Anthropic encoder over every answer shape, each with several chunk splits: the event
names and order, and the message the anthropic SDK's own accumulator builds from them,
which must equal the non-stream body."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message

from lmarena_bridge.apis.anthropic.encoder import MessagesEncoder, signature
from lmarena_bridge.errors import BridgeError, NoWorkerAvailable
from lmarena_bridge.relay.completions import AnswerBuilder
from lmarena_bridge.relay.tool_calls import ToolSet
from lmarena_bridge.site.events import Event, Finish, ReasoningDelta, StreamError, TextDelta

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "%s"}}</tool_call>'
SPLITS = [1, 3, 7, 10_000]


@dataclass
class Case:
    events: list[Event]
    sequence: list[str]  # event names, a run of the same delta counted once
    content: list[dict[str, Any]]
    stop_reason: str
    stop_sequence: str | None = None
    opts: dict[str, Any] = field(default_factory=dict)


def text(s: str) -> list[Event]:
    return [TextDelta(s)]


START = ["message_start", "ping"]
END = ["message_delta", "message_stop"]
TEXT = ["content_block_start:text", "content_block_delta:text_delta", "content_block_stop"]
TOOL = ["content_block_start:tool_use", "content_block_delta:input_json_delta",
        "content_block_stop"]
THINKING = ["content_block_start:thinking", "content_block_delta:thinking_delta",
            "content_block_delta:signature_delta", "content_block_stop"]


def tool_use(i: int, city: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{i}", "name": "get_weather",
            "input": {"city": city}}


CASES = {
    "text only": Case(text("Hello there, world."), START + TEXT + END,
                      [{"type": "text", "text": "Hello there, world."}], "end_turn"),
    "text then tool": Case(
        text("Let me look.\n" + CALL % "Paris"), START + TEXT + TOOL + END,
        [{"type": "text", "text": "Let me look."}, tool_use(0, "Paris")], "tool_use"),
    "two tools": Case(
        text(CALL % "Paris" + "\n" + CALL % "Rome"), START + TOOL + TOOL + END,
        [tool_use(0, "Paris"), tool_use(1, "Rome")], "tool_use"),
    "two tools, parallel off": Case(
        text(CALL % "Paris" + "\n" + CALL % "Rome"), START + TOOL + END,
        [tool_use(0, "Paris")], "tool_use", opts={"parallel": False}),
    "whitespace before a tool": Case(
        text("\n\n  " + CALL % "Oslo"), START + TOOL + END, [tool_use(0, "Oslo")], "tool_use"),
    "reasoning": Case(
        [ReasoningDelta("Think about it. "), ReasoningDelta("Done."), TextDelta("Answer.")],
        START + THINKING + TEXT + END,
        [{"type": "thinking", "thinking": "Think about it. Done.",
          "signature": signature("Think about it. Done.")},
         {"type": "text", "text": "Answer."}], "end_turn",
        opts={"reasoning_mode": "reasoning_content"}),
    "reasoning dropped": Case(
        [ReasoningDelta("Hidden."), TextDelta("Shown.")], START + TEXT + END,
        [{"type": "text", "text": "Shown."}], "end_turn"),
    "stop sequence": Case(
        text("one two STOP three"), START + TEXT + END, [{"type": "text", "text": "one two "}],
        "stop_sequence", "STOP", opts={"stops": ["nope", "STOP"]}),
    "max tokens": Case(
        text("abcdefghijkl"), START + TEXT + END, [{"type": "text", "text": "abcdefgh"}],
        "max_tokens", opts={"token_limit": 2}),
    "refusal": Case(
        [TextDelta("I can"), Finish("content-filter")], START + TEXT + END,
        [{"type": "text", "text": "I can"}], "refusal"),
}


def builder(keep_text: bool, opts: dict[str, Any]) -> AnswerBuilder:
    ids = (f"toolu_{i}" for i in itertools.count())
    return AnswerBuilder(
        stops=opts.get("stops", []), token_limit=opts.get("token_limit"),
        reasoning_mode=opts.get("reasoning_mode", "drop"), prompt_chars=40,
        keep_text=keep_text,
        tools=ToolSet({"get_weather": WEATHER}, parallel=opts.get("parallel", True)),
        new_call_id=lambda: next(ids),
    )


def split(events: list[Event], size: int) -> list[list[Event]]:
    """Every text event cut into ``size``-character events, fed ``size`` events at a time."""
    out: list[Event] = []
    for ev in events:
        if isinstance(ev, TextDelta | ReasoningDelta):
            out += [type(ev)(ev.text[i : i + size]) for i in range(0, len(ev.text), size)]
        else:
            out.append(ev)
    return [out[i : i + size] for i in range(0, len(out), size)]


def stream(events: list[Event], size: int, opts: dict[str, Any]) -> tuple[bytes, AnswerBuilder]:
    answer = builder(False, opts)
    enc = MessagesEncoder("claude-x", input_tokens=10, message_id="msg_1")
    out = enc.open()
    for batch in split(events, size):
        out += enc.pieces(answer.feed(batch))
        if answer.ended:
            break
    if not answer.ended:
        out += enc.pieces(answer.feed([Finish("stop")]))
    out += enc.pieces(answer.finish())
    return out + enc.close(answer), answer


def parse_sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    frames = raw.decode().split("\n\n")
    assert frames[-1] == "", "the stream ends with a whole frame"
    out = []
    for frame in frames[:-1]:
        name_line, data_line = frame.split("\n")
        name, data = name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))
        assert name == data["type"]
        out.append((name, data))
    return out


def names(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out: list[str] = []
    for name, data in events:
        if name == "content_block_start":
            name += ":" + data["content_block"]["type"]
        elif name == "content_block_delta":
            name += ":" + data["delta"]["type"]
        if not out or out[-1] != name or not name.startswith("content_block_delta"):
            out.append(name)
    return out


def accumulate(events: list[tuple[str, dict[str, Any]]]) -> Message:
    snapshot = None
    bufs: dict[int, bytes] = {}
    for _, data in events:
        snapshot = accumulate_event(event=data, current_snapshot=snapshot,  # type: ignore[arg-type]
                                    json_bufs=bufs)
    assert snapshot is not None
    return snapshot


@pytest.mark.parametrize("size", SPLITS)
@pytest.mark.parametrize("name", list(CASES))
def test_event_sequence_and_message(name: str, size: int) -> None:
    case = CASES[name]
    raw, answer = stream(case.events, size, case.opts)
    events = parse_sse(raw)
    assert names(events) == case.sequence
    indexes = [d["index"] for n, d in events if n == "content_block_start"]
    assert indexes == list(range(len(indexes)))
    msg = accumulate(events)
    assert [b.model_dump(exclude_none=True) for b in msg.content] == case.content
    assert (msg.stop_reason, msg.stop_sequence) == (case.stop_reason, case.stop_sequence)
    assert msg.id == "msg_1" and msg.model == "claude-x"
    assert msg.usage.output_tokens == answer.usage()["completion_tokens"] > 0

    whole = builder(True, case.opts)
    whole.feed(case.events)
    whole.feed([Finish("stop")]) if not whole.ended else None
    whole.finish()
    body = MessagesEncoder("claude-x", message_id="msg_1").body(whole)
    assert Message.model_validate(body).model_dump() == msg.model_dump()


@pytest.mark.parametrize("size", SPLITS)
def test_error_mid_stream_ends_with_an_error_event(size: int) -> None:
    answer = builder(False, {})
    enc = MessagesEncoder("claude-x")
    out = enc.open()
    failure: BridgeError | None = None
    # The site's error comes in a read of its own (a failing batch sends nothing of itself).
    for batch in [*split([TextDelta("Partial answer")], size), [StreamError("boom")]]:
        try:
            out += enc.pieces(answer.feed(batch))
        except BridgeError as exc:
            failure = exc
            break
    assert failure is not None
    out += enc.error(failure)
    events = parse_sse(out)
    assert names(events) == [*START, "content_block_start:text",
                             "content_block_delta:text_delta", "error"]
    assert events[-1][1] == {"type": "error", "error": {"type": "api_error",
                                                        "message": failure.message}}


def test_no_tab_mid_stream_is_overloaded() -> None:
    events = parse_sse(MessagesEncoder("m").error(NoWorkerAvailable("no tab")))
    assert events == [("error", {"type": "error",
                                 "error": {"type": "overloaded_error", "message": "no tab"}})]


def test_keepalive_is_a_ping_between_deltas() -> None:
    answer = builder(False, {})
    enc = MessagesEncoder("m")
    out = enc.open() + enc.pieces(answer.feed([TextDelta("a")])) + enc.keepalive()
    out += enc.pieces(answer.feed([TextDelta("b"), Finish("stop")])) + enc.close(answer)
    events = parse_sse(out)
    assert [n for n, _ in events].count("ping") == 2
    assert accumulate(events).content[0].model_dump(exclude_none=True) == {
        "type": "text", "text": "ab"}


def test_empty_answer_of_calls_only_has_no_text_block_in_body() -> None:
    answer = builder(True, {})
    answer.feed([TextDelta("  \n" + CALL % "Paris"), Finish("stop")])
    answer.finish()
    body = MessagesEncoder("m").body(answer)
    assert [b["type"] for b in body["content"]] == ["tool_use"]
    assert body["usage"]["input_tokens"] == 10  # 40 prompt characters
