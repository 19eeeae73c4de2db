"""ToolCallParser: answers -> text and calls, whatever the chunking; rejected blocks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.relay.tool_calls import ParsedCall, ToolCallParser, ToolSet, new_call_id

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["c", "f"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
TOOLS = ToolSet({"get_weather": WEATHER, "now": None})

CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
PARIS = ("get_weather", {"city": "Paris"})
ROME = ("get_weather", {"city": "Rome", "unit": "c"})

Item = str | tuple[str, dict[str, Any]]


def run(pieces: list[str], tools: ToolSet = TOOLS) -> tuple[list[Item], ToolCallParser]:
    parser = ToolCallParser(tools)
    out: list[str | ParsedCall] = []
    for piece in pieces:
        out += parser.feed(piece)
    out += parser.close()
    merged: list[Item] = []
    for item in out:
        if isinstance(item, ParsedCall):
            merged.append((item.name, json.loads(item.arguments)))
        elif merged and isinstance(merged[-1], str):
            merged[-1] += item
        else:
            merged.append(item)
    return merged, parser


# (answer, expected items, expected rejections)
CASES: list[tuple[str, list[Item], dict[str, int]]] = [
    ("Hello, world.", ["Hello, world."], {}),
    ("  spaced out \n\n", ["  spaced out \n\n"], {}),
    ("\n", ["\n"], {}),
    (CALL, [PARIS], {}),
    ("Let me check.\n\n" + CALL, ["Let me check.", PARIS], {}),
    (CALL + "\n", [PARIS], {}),
    (
        CALL + "\n" + '<tool_call>{"name":"get_weather","arguments":{"city":"Rome","unit":"c"}}'
        "</tool_call>",
        [PARIS, ROME],
        {},
    ),
    ("Before " + CALL + " after", ["Before", PARIS, " after"], {}),
    ("<tool_call>\n" + CALL[11:-12] + "\n</tool_call>", [PARIS], {}),
    # lenient: fences, trailing commas, single quotes, comments, arguments as a string
    (
        '<tool_call>\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```\n'
        "</tool_call>",
        [PARIS],
        {},
    ),
    (
        "<tool_call>{'name': 'get_weather', 'arguments': {'city': 'Paris',},}</tool_call>",
        [PARIS],
        {},
    ),
    (
        "<tool_call>{name: 'get_weather', /* why */ arguments: {city: 'Paris'}}</tool_call>",
        [PARIS],
        {},
    ),
    (
        '<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}'
        "</tool_call>",
        [PARIS],
        {},
    ),
    ('<tool_call>{"name": "get_weather", "parameters": {"city": "Paris"}}</tool_call>',
     [PARIS], {}),
    (
        '<tool_call>{"type": "function", "function": {"name": "get_weather", '
        '"arguments": {"city": "Paris"}}}</tool_call>',
        [PARIS],
        {},
    ),
    ('<tool_call>{"name": "now"}</tool_call>', [("now", {})], {}),
    ('<tool_call>{"name": "now", "arguments": {"n": 123456789012345678901234567890}}</tool_call>',
     [("now", {"n": 123456789012345678901234567890})], {}),
    ('<tool_call>{"name": "now", "arguments": {"anything": [1, 2]}}</tool_call>',
     [("now", {"anything": [1, 2]})], {}),
    # rejected: the text goes out as written, nothing is invented
    ("<tool_call>{name: get_weather</tool_call>", ["<tool_call>{name: get_weather</tool_call>"],
     {"invalid_json": 1}),
    ("<tool_call>just words</tool_call>", ["<tool_call>just words</tool_call>"],
     {"invalid_json": 1}),
    ('<tool_call>["get_weather"]</tool_call>', ['<tool_call>["get_weather"]</tool_call>'],
     {"invalid_json": 1}),
    ('<tool_call>{"name": "now", "arguments": {"x": NaN}}</tool_call>',
     ['<tool_call>{"name": "now", "arguments": {"x": NaN}}</tool_call>'], {"invalid_json": 1}),
    ('<tool_call>{"arguments": {"city": "Paris"}}</tool_call>',
     ['<tool_call>{"arguments": {"city": "Paris"}}</tool_call>'], {"invalid_json": 1}),
    (
        'Sure. <tool_call>{"name": "send_email", "arguments": {}}</tool_call>',
        ['Sure. <tool_call>{"name": "send_email", "arguments": {}}</tool_call>'],
        {"unknown_tool": 1},
    ),
    (
        '<tool_call>{"name": "get_weather", "arguments": {"town": "Paris"}}</tool_call>',
        ['<tool_call>{"name": "get_weather", "arguments": {"town": "Paris"}}</tool_call>'],
        {"schema": 1},
    ),
    (
        '<tool_call>{"name": "get_weather", "arguments": {"city": 7}}</tool_call>',
        ['<tool_call>{"name": "get_weather", "arguments": {"city": 7}}</tool_call>'],
        {"schema": 1},
    ),
    (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "unit": "k"}}'
        "</tool_call>\n" + CALL,
        ['<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "unit": "k"}}'
         "</tool_call>", PARIS],
        {"schema": 1},
    ),
    ("Hi " + CALL[:-12], ["Hi " + CALL[:-12]], {"unclosed": 1}),
    ("Hi <tool_call>", ["Hi <tool_call>"], {"unclosed": 1}),
    # not blocks at all
    ("a <tool", ["a <tool"], {}),
    ("a <toolbox> b <b>bold</b> <", ["a <toolbox> b <b>bold</b> <"], {}),
    ("x < y and y <tool_cal", ["x < y and y <tool_cal"], {}),
    # <tool_call> inside code is text
    ("Example:\n```\n" + CALL + "\n```\n", ["Example:\n```\n" + CALL + "\n```\n"], {}),
    ("```xml\n" + CALL + "\n```", ["```xml\n" + CALL + "\n```"], {}),
    ("  ~~~\n" + CALL + "\n  ~~~\n", ["  ~~~\n" + CALL + "\n  ~~~\n"], {}),
    ("````\n```\n" + CALL + "\n````\n", ["````\n```\n" + CALL + "\n````\n"], {}),
    ("Use the `<tool_call>` tag.", ["Use the `<tool_call>` tag."], {}),
    ("Write ``" + CALL + "`` like that", ["Write ``" + CALL + "`` like that"], {}),
    # ... and a block after the code is a call again
    ("```\ncode\n```\n" + CALL, ["```\ncode\n```", PARIS], {}),
    ("Use `x` then\n" + CALL, ["Use `x` then", PARIS], {}),
    ("odd ` tick\n" + CALL, ["odd ` tick", PARIS], {}),
    ("text ```not a fence``` " + CALL, ["text ```not a fence```", PARIS], {}),
]


@pytest.mark.parametrize(("answer", "expected", "rejected"), CASES)
def test_whole_answer(answer: str, expected: list[Item], rejected: dict[str, int]) -> None:
    items, parser = run([answer])
    assert items == expected
    assert parser.rejected == Counter(rejected)
    assert parser.calls == sum(1 for i in expected if isinstance(i, tuple))


@pytest.mark.parametrize(("answer", "expected", "rejected"), CASES)
def test_every_split_in_two_and_one_char_at_a_time(
    answer: str, expected: list[Item], rejected: dict[str, int]
) -> None:
    for cut in range(len(answer) + 1):
        items, parser = run([answer[:cut], answer[cut:]])
        assert items == expected, cut
        assert parser.rejected == Counter(rejected), cut
    items, parser = run(list(answer))
    assert items == expected
    assert parser.rejected == Counter(rejected)


def test_block_split_across_every_pair_of_boundaries() -> None:
    answer = "Let me look.\n" + CALL + "\n" + CALL.replace("Paris", "Rome")
    expected: list[Item] = ["Let me look.", PARIS, ("get_weather", {"city": "Rome"})]
    for a in range(len(answer) + 1):
        for b in range(a, len(answer) + 1):
            items, _ = run([answer[:a], answer[a:b], answer[b:]])
            assert items == expected, (a, b)


def test_text_streams_before_the_block_closes() -> None:
    parser = ToolCallParser(TOOLS)
    assert parser.feed("Checking the weather") == ["Checking the weather"]
    assert parser.feed(" now. <tool_call>{\"name\": ") == [" now."]
    assert parser.feed('"get_weather", "arguments": {"city": "Paris"}}') == []
    (call,) = parser.feed("</tool_call>")
    assert isinstance(call, ParsedCall)
    assert (call.name, call.arguments) == ("get_weather", '{"city":"Paris"}')
    assert call.raw == CALL
    assert parser.close() == []


def test_a_held_tag_start_is_released_when_it_is_not_a_tag() -> None:
    parser = ToolCallParser(TOOLS)
    assert parser.feed("1 <tool") == ["1"]
    assert parser.feed("s> 2") == [" <tools> 2"]


def test_rejected_tool_names_are_kept_for_the_monitor() -> None:
    _, parser = run(['<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>'])
    assert parser.rejected_tools == ["rm_rf"]


def test_invalid_or_unresolvable_schemas_only_require_an_object() -> None:
    tools = ToolSet({"sloppy": {"type": "any"}, "remote": {"$ref": "https://x.test/s.json"},
                     "odd": {"$schema": ["x"]}})
    for name in ("sloppy", "remote", "odd"):
        items, parser = run([f'<tool_call>{{"name": "{name}", "arguments": {{"a": 1}}}}'
                             "</tool_call>"], tools)
        assert items == [(name, {"a": 1})]
    items, parser = run(['<tool_call>{"name": "sloppy", "arguments": [1]}</tool_call>'], tools)
    assert parser.rejected == Counter({"invalid_json": 1})


def test_draft_07_schemas_are_honoured() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}}}
    tools = ToolSet({"count": schema})
    assert run(['<tool_call>{"name": "count", "arguments": {"n": 1}}</tool_call>'],
               tools)[0] == [("count", {"n": 1})]
    assert run(['<tool_call>{"name": "count", "arguments": {"n": 0}}</tool_call>'],
               tools)[1].rejected == Counter({"schema": 1})


def test_call_ids_look_like_openai_ones() -> None:
    ids = {new_call_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("call_") and len(i) == 29 for i in ids)


def request(**kw: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "q"}], **kw}
    )


TOOL_DEFS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "now"}},
]


@pytest.mark.parametrize(
    ("kw", "names", "parallel"),
    [
        ({}, None, None),
        ({"tools": []}, None, None),
        ({"tools": TOOL_DEFS}, {"get_weather", "now"}, True),
        ({"tools": TOOL_DEFS, "tool_choice": "auto"}, {"get_weather", "now"}, True),
        ({"tools": TOOL_DEFS, "tool_choice": "required"}, {"get_weather", "now"}, True),
        ({"tools": TOOL_DEFS, "tool_choice": "none"}, None, None),
        ({"tools": TOOL_DEFS, "parallel_tool_calls": False}, {"get_weather", "now"}, False),
        ({"tools": TOOL_DEFS, "tool_choice": {"type": "function", "function": {"name": "now"}}},
         {"now"}, True),
    ],
)
def test_tool_set_from_request(
    kw: dict[str, Any], names: set[str] | None, parallel: bool | None
) -> None:
    tools = ToolSet.from_request(request(**kw))
    if names is None:
        assert tools is None
    else:
        assert tools is not None
        assert tools.names == names and tools.parallel is parallel
