"""The tool section of the prompt, earlier calls and results as text, request checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import ChatCompletionRequest, NamedToolChoice, Tool, ToolCall
from lmarena_bridge.relay.tool_calls import ParsedCall, ToolCallParser, ToolSet
from lmarena_bridge.site.tool_prompt import (
    check_tool_request,
    render_tool_calls,
    render_tool_result,
    tool_call_names,
    tool_instructions,
)

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [
    Tool.model_validate({"type": "function", "function": {
        "name": "get_weather", "description": "Weather now in a city.", "parameters": WEATHER}}),
    Tool.model_validate({"type": "function", "function": {"name": "now"}}),
]


def named(name: str) -> NamedToolChoice:
    return NamedToolChoice.model_validate({"type": "function", "function": {"name": name}})


def test_instructions_describe_every_tool_and_the_format() -> None:
    text = tool_instructions(TOOLS, None, None)
    assert text is not None
    example = '<tool_call>{"name": "TOOL_NAME", "arguments": {"ARGUMENT": "VALUE"}}</tool_call>'
    assert example in text
    assert "## get_weather\nWeather now in a city.\nParameters (JSON Schema): " + json.dumps(
        WEATHER) in text
    assert '## now\nParameters (JSON Schema): {"type": "object", "properties": {}}' in text
    assert "several blocks" in text and "answer normally" in text


@pytest.mark.parametrize(
    ("choice", "parallel", "present", "absent"),
    [
        ("auto", None, ["answer normally", "several blocks"], ["must call"]),
        ("required", True, ["must call at least one tool"], ["answer normally"]),
        (named("now"), None, ['must call the tool "now"', "## now"], ["## get_weather"]),
        ("auto", False, ["at most one tool"], ["several blocks"]),
    ],
)
def test_tool_choice_and_parallel_calls_are_said(
    choice: Any, parallel: bool | None, present: list[str], absent: list[str]
) -> None:
    text = tool_instructions(TOOLS, choice, parallel)
    assert text is not None
    for words in present:
        assert words in text
    for words in absent:
        assert words not in text


@pytest.mark.parametrize(("tools", "choice"), [(None, None), ([], "auto"), (TOOLS, "none")])
def test_no_section_without_callable_tools(tools: Any, choice: Any) -> None:
    assert tool_instructions(tools, choice, None) is None


def test_earlier_calls_render_in_the_format_the_parser_reads() -> None:
    calls = [
        ToolCall.model_validate({"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Paris"}'}}),
        ToolCall.model_validate({"id": "call_2", "function": {
            "name": "get_weather", "arguments": {"city": "Rome"}}}),
    ]
    text = render_tool_calls(calls)
    assert text == (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>\n'
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'
    )
    parser = ToolCallParser(ToolSet({"get_weather": WEATHER}))
    out = parser.feed(text) + parser.close()
    assert [(c.name, c.arguments) for c in out if isinstance(c, ParsedCall)] == [
        ("get_weather", '{"city":"Paris"}'), ("get_weather", '{"city":"Rome"}')]


def test_unparseable_and_empty_arguments_are_kept() -> None:
    calls = [ToolCall.model_validate({"id": "c", "function": {"name": "f", "arguments": "{oops"}}),
             ToolCall.model_validate({"id": "d", "function": {"name": "g", "arguments": ""}})]
    assert render_tool_calls(calls) == (
        '<tool_call>{"name": "f", "arguments": "{oops"}</tool_call>\n'
        '<tool_call>{"name": "g", "arguments": {}}</tool_call>'
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("call_1", "get_weather", "18°C, sunny"),
         '<tool_result name="get_weather" tool_call_id="call_1">\n18°C, sunny\n</tool_result>'),
        (("call_1", None, ""), '<tool_result tool_call_id="call_1">\n\n</tool_result>'),
        (("x\"y", "a<b", None), '<tool_result name="a&lt;b" tool_call_id="x&quot;y">\n\n'
                                "</tool_result>"),
    ],
)
def test_tool_results(args: tuple[Any, ...], expected: str) -> None:
    assert render_tool_result(*args) == expected


def test_tool_result_parts_are_joined() -> None:
    req = ChatCompletionRequest.model_validate({"model": "m", "messages": [
        {"role": "tool", "tool_call_id": "c", "content": [
            {"type": "text", "text": "line 1"}, {"type": "text", "text": "line 2"},
            {"type": "input_audio", "input_audio": {}}]}]})
    msg = req.messages[0]
    assert render_tool_result(msg.tool_call_id, "f", msg.content) == (
        '<tool_result name="f" tool_call_id="c">\nline 1\nline 2\n[input_audio omitted]\n'
        "</tool_result>"
    )


def test_tool_names_by_call_id() -> None:
    req = ChatCompletionRequest.model_validate({"model": "m", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
    ]})
    assert tool_call_names(req.messages) == {"a": "f", "b": "g"}


# ---- request checks ------------------------------------------------------------------------

TOOL_DEFS = [{"type": "function", "function": {"name": "f", "parameters": WEATHER}},
             {"type": "function", "function": {"name": "g"}}]
HISTORY = [
    {"role": "user", "content": "q"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "a", "content": "1"},
]


def req(**kw: Any) -> ChatCompletionRequest:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
    body.update(kw)
    return ChatCompletionRequest.model_validate(body)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"tools": TOOL_DEFS},
        {"tools": []},
        {"tools": TOOL_DEFS, "tool_choice": "auto", "parallel_tool_calls": False},
        {"tools": TOOL_DEFS, "tool_choice": "required"},
        {"tools": TOOL_DEFS, "tool_choice": "none"},
        {"tool_choice": "none"},
        {"tool_choice": "auto"},
        {"tools": TOOL_DEFS, "tool_choice": {"type": "function", "function": {"name": "g"}}},
        {"tools": TOOL_DEFS, "messages": HISTORY},
        {"messages": HISTORY},
    ],
)
def test_accepted_when_emulating(kw: dict[str, Any]) -> None:
    check_tool_request(req(**kw), "emulate")


@pytest.mark.parametrize(
    ("kw", "mode", "param"),
    [
        ({"tools": TOOL_DEFS}, "refuse", "tools"),
        ({"messages": HISTORY}, "refuse", "messages[1]"),
        ({"functions": [{"name": "f"}]}, "emulate", "functions"),
        ({"tools": TOOL_DEFS * 2}, "emulate", "tools[2].function.name"),
        ({"tools": TOOL_DEFS, "tool_choice": "any"}, "emulate", "tool_choice"),
        ({"tool_choice": "required"}, "emulate", "tool_choice"),
        ({"tools": TOOL_DEFS, "tool_choice": {"type": "function", "function": {"name": "h"}}},
         "emulate", "tool_choice"),
        ({"messages": [{"role": "tool", "content": "1"}]}, "emulate", "messages[0].tool_call_id"),
    ],
)
def test_refused(kw: dict[str, Any], mode: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        check_tool_request(req(**kw), mode)
    assert exc.value.param == param and exc.value.status == 400


def test_plain_requests_pass_when_refusing() -> None:
    check_tool_request(req(), "refuse")
    check_tool_request(req(tools=[]), "refuse")
