"""Anthropic Messages requests -> the neutral chat request: content blocks, tool history,
tools and tool_choice, what is dropped and reported, and the 400s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmarena_bridge.apis.anthropic.translate import translate
from lmarena_bridge.apis.anthropic.wire import MessagesRequest
from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import ImagePart, NamedToolChoice, TextPart

SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
READ = {"name": "Read", "description": "Read a file.", "input_schema": SCHEMA,
        "cache_control": {"type": "ephemeral"}}
WEB = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
PNG = "iVBORw0KGgo="


def request(**over: Any) -> MessagesRequest:
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 1024,
                            "messages": [{"role": "user", "content": "hi"}]}
    body.update(over)
    return MessagesRequest.model_validate(body)


def test_claude_code_shape_is_accepted_and_extras_reported() -> None:
    req = request(
        stream=True, max_tokens=32000,
        system=[{"type": "text", "text": "You are Claude Code.",
                 "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Be brief."}],
        messages=[{"role": "system", "content": "Reminder: be nice."},
                  {"role": "user", "content": [
                      {"type": "text", "text": "<system-reminder>x</system-reminder>"},
                      {"type": "text", "text": "read a.txt",
                       "cache_control": {"type": "ephemeral"}}]}],
        tools=[READ, WEB], thinking={"type": "adaptive"},
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        output_config={"effort": "high"}, metadata={"user_id": "u"}, temperature=1,
    )
    out = translate(req)
    neutral = out.request
    assert neutral.stream is True and neutral.max_tokens == 32000
    assert [m.role for m in neutral.messages] == ["system", "system", "user"]
    assert neutral.messages[0].content == "You are Claude Code.\n\nBe brief."
    assert neutral.messages[2].content == "<system-reminder>x</system-reminder>\n\nread a.txt"
    assert [t.function.name for t in neutral.tools or []] == ["Read"]
    assert neutral.tools and neutral.tools[0].function.parameters == SCHEMA
    assert out.thinking is True
    assert out.ignored == ["context_management", "output_config", "temperature",
                           "tools:web_search"]


def test_tool_history_becomes_calls_and_tool_messages() -> None:
    req = request(messages=[
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "file body"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
             "content": [{"type": "text", "text": "no such file"},
                         {"type": "image", "source": {"type": "base64",
                                                      "media_type": "image/png", "data": PNG}}]},
            {"type": "text", "text": "go on"}]},
    ], tools=[READ])
    msgs = translate(req).request.messages
    assert [m.role for m in msgs] == ["user", "assistant", "tool", "tool", "user", "user"]
    assistant = msgs[1]
    assert assistant.content == "Reading."
    assert assistant.tool_calls and assistant.tool_calls[0].id == "toolu_1"
    assert assistant.tool_calls[0].function.arguments == '{"path":"a"}'
    assert (msgs[2].tool_call_id, msgs[2].content) == ("toolu_1", "file body")
    assert (msgs[3].tool_call_id, msgs[3].content) == ("toolu_2", "Error: no such file")
    images = msgs[4].content
    assert isinstance(images, list) and isinstance(images[1], ImagePart)
    assert images[1].image_url.url == f"data:image/png;base64,{PNG}"
    assert msgs[5].content == "go on"


def test_images_base64_and_url() -> None:
    req = request(messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "text", "text": "what?"}]}])
    content = translate(req).request.messages[0].content
    assert isinstance(content, list)
    assert [p.image_url.url for p in content if isinstance(p, ImagePart)] == [
        "data:image/jpeg;base64,AA", "https://x.test/a.png"]
    assert [p.text for p in content if isinstance(p, TextPart)] == ["what?"]


@pytest.mark.parametrize(("choice", "tool_choice", "parallel"), [
    ({"type": "auto"}, "auto", None),
    ({"type": "any"}, "required", None),
    ({"type": "none"}, "none", None),
    ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
])
def test_tool_choice(choice: dict[str, Any], tool_choice: str, parallel: bool | None) -> None:
    neutral = translate(request(tools=[READ], tool_choice=choice)).request
    assert neutral.tool_choice == tool_choice
    assert neutral.parallel_tool_calls is parallel


def test_named_tool_choice() -> None:
    neutral = translate(request(tools=[READ], tool_choice={"type": "tool", "name": "Read"})).request
    assert isinstance(neutral.tool_choice, NamedToolChoice)
    assert neutral.tool_choice.function.name == "Read"


@pytest.mark.parametrize("choice", [{"type": "tool", "name": "web_search"}, {"type": "any"}])
def test_forcing_a_server_tool_is_a_400_naming_it(choice: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match="web_search"):
        translate(request(tools=[WEB], tool_choice=choice))


def test_server_tool_blocks_in_history_are_dropped_and_reported() -> None:
    req = request(messages=[
        {"role": "user", "content": "search"},
        {"role": "assistant", "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
             "input": {"query": "q"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "text", "text": "Found it."}]},
        {"role": "user", "content": "thanks"}])
    out = translate(req)
    assert out.request.messages[1].content == "Found it."
    assert out.ignored == ["content:server_tool_use", "content:web_search_tool_result"]


def test_stop_sequences_and_no_thinking() -> None:
    out = translate(request(stop_sequences=["END", ""], thinking={"type": "disabled"}))
    assert out.request.stop_sequences() == ["END"]
    assert out.thinking is False
    assert translate(request()).thinking is False


@pytest.mark.parametrize("source", [
    {"type": "file", "file_id": "file_1"},
    {"type": "base64", "media_type": "application/pdf"},
])
def test_unsendable_sources_are_400s(source: dict[str, Any]) -> None:
    kind = "document" if source.get("media_type") == "application/pdf" else "image"
    req = request(messages=[{"role": "user", "content": [{"type": kind, "source": source}]}])
    with pytest.raises(InvalidRequest) as err:
        translate(req)
    assert err.value.param == "messages[0].content[0].source"


def test_plain_text_document_is_text() -> None:
    req = request(messages=[{"role": "user", "content": [
        {"type": "document", "title": "Notes",
         "source": {"type": "text", "media_type": "text/plain", "data": "line"}}]}])
    assert translate(req).request.messages[0].content == "Notes\n\nline"


def test_claude_code_2_1_332_request_as_captured() -> None:
    """The first request ``claude -p`` 2.1.332 sends (captured, ids zeroed)."""
    path = Path(__file__).parent / "claude_code_2.1.332_request.json"
    body = json.loads(path.read_text("utf-8"))
    out = translate(MessagesRequest.model_validate(body))
    neutral = out.request
    assert neutral.stream is True and neutral.max_tokens == body["max_tokens"]
    assert [m.role for m in neutral.messages] == ["system", "user", "system"]
    system = neutral.messages[0].content
    assert isinstance(system, str) and "Claude Agent SDK" in system
    assert [t.function.name for t in neutral.tools or []] == [t["name"] for t in body["tools"]]
    assert out.ignored == ["context_management", "output_config"]
    assert out.thinking is False  # "display": "omitted": the client shows no thinking
