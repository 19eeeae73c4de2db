"""Responses API requests -> the neutral chat request: items, tools, choices, refusals,
and a request exactly as Codex CLI 0.169.1 sent it (codex_0.169.1_request.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmarena_bridge.apis.responses.translate import Translated, translate
from lmarena_bridge.apis.responses.wire import ResponsesRequest
from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import ImagePart, NamedToolChoice, TextPart
from lmarena_bridge.site.tool_prompt import check_tool_request

CODEX = Path(__file__).parent / "codex_0.169.1_request.json"
FN = {"type": "function", "name": "f", "parameters": {"type": "object"}}


def run(**fields: Any) -> Translated:
    return translate(ResponsesRequest.model_validate({"model": "m", **fields}))


def test_a_string_input_and_instructions() -> None:
    t = run(input="Hi", instructions="Be brief.", max_output_tokens=50, stream=True)
    assert [(m.role, m.content) for m in t.request.messages] == [
        ("system", "Be brief."), ("user", "Hi")]
    assert t.request.max_tokens == 50 and t.request.stream
    assert t.request.tools is None and t.ignored == []


def test_message_items_with_and_without_type() -> None:
    t = run(input=[
        {"role": "developer", "content": "Rules."},
        {"type": "message", "id": "msg_1", "status": "completed", "role": "system",
         "content": [{"type": "input_text", "text": "More."}]},
        {"role": "user", "content": [
            {"type": "input_text", "text": "Look:"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "A cat.", "annotations": []}]},
    ])
    msgs = t.request.messages
    assert [m.role for m in msgs] == ["developer", "system", "user", "assistant"]
    assert msgs[1].content == "More." and msgs[3].content == "A cat."
    parts = msgs[2].content
    assert isinstance(parts, list) and isinstance(parts[0], TextPart)
    assert isinstance(parts[1], ImagePart) and parts[1].image_url.detail == "low"


def test_calls_and_outputs_become_tool_calls_and_tool_messages() -> None:
    t = run(tools=[FN, {"type": "custom", "name": "apply_patch"},
                   {"type": "namespace", "name": "ns", "description": "",
                    "tools": [{"type": "function", "name": "g"}]}],
            input=[
        {"role": "user", "content": "Go"},
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Calling."}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
        {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "P"},
        {"type": "function_call", "call_id": "c3", "name": "g", "namespace": "ns",
         "arguments": "{}"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": None},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "custom_tool_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "patched"}]},
        {"type": "function_call_output", "call_id": "c3", "output": "three"},
    ])
    msgs = t.request.messages
    assert [m.role for m in msgs] == ["user", "assistant", "tool", "tool", "tool"]
    calls = msgs[1].tool_calls or []
    assert msgs[1].content == "Calling."
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("c1", "f", '{"a":1}'), ("c2", "apply_patch", '{"input": "P"}'), ("c3", "ns.g", "{}")]
    assert [m.tool_call_id for m in msgs[2:]] == ["c1", "c2", "c3"]
    assert isinstance(msgs[3].content, list)
    check_tool_request(t.request, "emulate")  # what the job builder checks next


def test_tools_are_flattened_and_built_ins_dropped() -> None:
    t = run(input="x", tools=[
        FN,
        {"type": "custom", "name": "apply_patch", "description": "Patch.",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
        {"type": "namespace", "name": "mcp__fs__", "description": "Files.",
         "tools": [{"type": "function", "name": "read"}]},
        {"type": "web_search", "external_web_access": False},
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": []},
    ])
    tools = t.request.tools or []
    assert [x.function.name for x in tools] == ["f", "apply_patch", "mcp__fs__read"]
    patch = tools[1].function
    assert patch.parameters and patch.parameters["required"] == ["input"]
    assert "start: x" in patch.parameters["properties"]["input"]["description"]
    assert t.table.refs["mcp__fs__read"].namespace == "mcp__fs__"
    assert t.ignored == ["tools:web_search", "tools:file_search"]


def test_additional_tools_items_add_tools() -> None:
    t = run(input=[{"type": "additional_tools", "role": "developer", "tools": [FN]},
                   {"role": "user", "content": "x"}])
    assert [x.function.name for x in t.request.tools or []] == ["f"]
    assert [m.role for m in t.request.messages] == ["user"]


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", "auto"), ("required", "required"), ("none", "none"),
    ({"type": "function", "name": "f"}, "f"),
    ({"type": "custom", "name": "apply_patch"}, "apply_patch"),
    ({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]},
     "required"),
])
def test_tool_choice(choice: Any, expected: str) -> None:
    t = run(input="x", tools=[FN, {"type": "custom", "name": "apply_patch"},
                              {"type": "web_search"}], tool_choice=choice)
    got = t.request.tool_choice
    assert (got.function.name if isinstance(got, NamedToolChoice) else got) == expected
    if isinstance(choice, dict) and choice["type"] == "allowed_tools":
        assert [x.function.name for x in t.request.tools or []] == ["f"]


@pytest.mark.parametrize(("fields", "code", "param"), [
    ({"tool_choice": {"type": "web_search"}}, "unsupported_tool", "tool_choice"),
    ({"tool_choice": {"type": "function", "name": "nope"}}, "invalid_request", "tool_choice"),
    ({"tool_choice": "sometimes"}, "invalid_request", "tool_choice"),
    ({"previous_response_id": "resp_1"}, "previous_response_not_supported",
     "previous_response_id"),
    ({"conversation": "conv_1"}, "previous_response_not_supported", "conversation"),
    ({"background": True}, "background_not_supported", "background"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "previous_response_not_supported",
     "input[0]"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
     "invalid_request", "input[0].content[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
     "invalid_request", "input[0].content[0].image_url"),
    ({"input": [{"role": "robot", "content": "x"}]}, "invalid_request", "input[0].role"),
    ({"input": [{"type": "function_call", "name": "f"}]}, "invalid_request",
     "input[0].call_id"),
    ({"tools": [{"type": "function"}]}, "invalid_request", "tools[0].name"),
])
def test_refusals_name_the_parameter(fields: dict[str, Any], code: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        run(**{"input": "x", "tools": [FN, {"type": "web_search"}], **fields})
    assert err.value.code == code and err.value.param == param


def test_unknown_fields_and_items_are_reported_not_refused() -> None:
    t = run(input=[{"role": "user", "content": "x"},
                   {"type": "web_search_call", "id": "ws_1", "status": "completed"}],
            prompt_cache_key="k", client_metadata={"a": "b"}, temperature=0.2,
            include=["reasoning.encrypted_content"], store=False,
            text={"format": {"type": "json_schema", "name": "x", "schema": {}}})
    assert t.ignored == ["client_metadata", "include", "prompt_cache_key", "temperature",
                         "text.format", "input:web_search_call"]


def test_codex_request_translates_whole() -> None:
    raw = json.loads(CODEX.read_text())
    req = ResponsesRequest.model_validate(raw)
    t = translate(req)
    names = [x.function.name for x in t.request.tools or []]
    assert "exec_command" in names and "multi_agent_v1.close_agent" in names
    assert t.table.refs["multi_agent_v1.close_agent"].namespace == "multi_agent_v1"
    assert "tools:web_search" in t.ignored and "prompt_cache_key" in t.ignored
    assert [m.role for m in t.request.messages] == ["developer", "developer", "user", "user"]
    assert t.request.stream and t.request.parallel_tool_calls
    assert req.reasoning_asked() and req.reasoning_as_summary()
    check_tool_request(t.request, "emulate")
