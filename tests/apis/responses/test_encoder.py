"""The Responses API event sequences, table-driven: what a client sees for text, tool
calls, reasoning, cuts and failures, whatever the chunk split; every event and body is
checked against the openai SDK's models."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lmarena_bridge.site.events import Event, Finish, ReasoningDelta, StreamError
from tests.apis.responses.stream_support import body, builder, squash, stream, text_events

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}
PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files.",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}
AGENTS = {"type": "namespace", "name": "mcp__fs__", "description": "Files.",
          "tools": [{"type": "function", "name": "read", "parameters": {
              "type": "object", "properties": {"path": {"type": "string"}}}}]}
TOOLS = [WEATHER, PATCH, AGENTS, {"type": "web_search"}]
BASE: dict[str, Any] = {"model": "m", "input": "hi", "tools": TOOLS}


def block(name: str, args: dict[str, Any]) -> str:
    return "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"


PARIS = block("get_weather", {"city": "Paris"})
ROME = block("get_weather", {"city": "Rome"})
PATCH_TEXT = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"

START = ["response.created", "response.in_progress"]
MESSAGE = ["response.output_item.added", "response.content_part.added",
           "response.output_text.delta", "response.output_text.done",
           "response.content_part.done", "response.output_item.done"]
FUNCTION = ["response.output_item.added", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done"]
CUSTOM = ["response.output_item.added", "response.custom_tool_call_input.delta",
          "response.custom_tool_call_input.done", "response.output_item.done"]
SUMMARY = ["response.output_item.added", "response.reasoning_summary_part.added",
           "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
           "response.reasoning_summary_part.done", "response.output_item.done"]
RAW_REASONING = ["response.output_item.added", "response.content_part.added",
                 "response.reasoning_text.delta", "response.reasoning_text.done",
                 "response.content_part.done", "response.output_item.done"]
DONE = ["response.completed"]
REASONING_EVENTS: list[Event] = [ReasoningDelta("Think"), ReasoningDelta("ing.")]

CASES: list[tuple[str, dict[str, Any], str, list[Event], list[str], list[tuple[str, str]]]] = [
    # (name, request fields, answer text, events before the text, event types, output items)
    ("text only", {}, "Hello, world.", [], START + MESSAGE + DONE,
     [("message", "Hello, world.")]),
    ("text then tool", {}, "Let me check.\n" + PARIS, [], START + MESSAGE + FUNCTION + DONE,
     [("message", "Let me check."), ("function_call", '{"city":"Paris"}')]),
    ("tool only, blank line before it", {}, "\n\n" + PARIS, [], START + FUNCTION + DONE,
     [("function_call", '{"city":"Paris"}')]),
    ("two tools", {}, PARIS + "\n" + ROME, [], START + FUNCTION + FUNCTION + DONE,
     [("function_call", '{"city":"Paris"}'), ("function_call", '{"city":"Rome"}')]),
    ("one tool without parallel calls", {"parallel_tool_calls": False}, PARIS + ROME, [],
     START + FUNCTION + DONE, [("function_call", '{"city":"Paris"}')]),
    ("custom tool", {}, "Patching.\n" + block("apply_patch", {"input": PATCH_TEXT}), [],
     START + MESSAGE + CUSTOM + DONE,
     [("message", "Patching."), ("custom_tool_call", PATCH_TEXT)]),
    ("namespace tool", {}, block("mcp__fs__read", {"path": "/a"}), [],
     START + FUNCTION + DONE, [("function_call", '{"path":"/a"}')]),
    ("reasoning as summary", {"reasoning": {"summary": "auto"}}, "Yes.", REASONING_EVENTS,
     START + SUMMARY + MESSAGE + DONE, [("reasoning", "Thinking."), ("message", "Yes.")]),
    ("reasoning as text", {"reasoning": {"effort": "high"}}, "Yes.", REASONING_EVENTS,
     START + RAW_REASONING + MESSAGE + DONE, [("reasoning", "Thinking."), ("message", "Yes.")]),
    ("reasoning not asked for", {}, "Yes.", REASONING_EVENTS, START + MESSAGE + DONE,
     [("message", "Yes.")]),
    ("cut for length", {"max_output_tokens": 2}, "Hello, world.", [],
     START + MESSAGE + ["response.incomplete"], [("message", "Hello, w")]),
]


def item_value(item: dict[str, Any]) -> str:
    if item["type"] == "message":
        return "".join(p["text"] for p in item["content"])
    if item["type"] == "reasoning":
        parts = item["summary"] or item.get("content") or []
        return "".join(p["text"] for p in parts)
    return str(item.get("arguments", item.get("input")))


@pytest.mark.parametrize("open_late", [False, True])
@pytest.mark.parametrize("size", [1, 4, 1000])
@pytest.mark.parametrize(("name", "fields", "text", "before", "types", "items"), CASES,
                         ids=[c[0] for c in CASES])
def test_event_sequence(name: str, fields: dict[str, Any], text: str, before: list[Event],
                        types: list[str], items: list[tuple[str, str]], size: int,
                        open_late: bool) -> None:
    events = stream({**BASE, **fields}, [*before, *text_events(text, size), Finish("stop")],
                    open_late=open_late)
    assert squash([e["type"] for e in events]) == types
    final = events[-1]["response"]
    assert [(i["type"], item_value(i)) for i in final["output"]] == items
    # Every item's .done event carries what its deltas said, and the final response too.
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done == final["output"]
    deltas: dict[str, str] = {}
    for e in events:
        if e["type"].endswith(".delta"):
            deltas[e["item_id"]] = deltas.get(e["item_id"], "") + e["delta"]
    assert deltas == {i["id"]: item_value(i) for i in final["output"]}
    # The non-stream body holds the same items.
    whole = body({**BASE, **fields}, [*before, *text_events(text, size), Finish("stop")])
    assert [(i["type"], item_value(i)) for i in whole["output"]] == items
    assert whole["status"] == final["status"]


def test_calls_carry_ids_names_and_namespaces() -> None:
    text = PARIS + block("apply_patch", {"input": "x"}) + block("mcp__fs__read", {"path": "/"})
    out = stream(BASE, [*text_events(text, 9), Finish("stop")])[-1]["response"]["output"]
    fn, custom, ns = out
    assert fn["type"] == "function_call" and fn["name"] == "get_weather"
    assert fn["call_id"].startswith("call_") and fn["id"].startswith("fc_")
    assert "namespace" not in fn
    assert custom == {"id": custom["id"], "type": "custom_tool_call",
                      "call_id": custom["call_id"], "name": "apply_patch", "input": "x"}
    assert ns["name"] == "read" and ns["namespace"] == "mcp__fs__"
    assert len({fn["call_id"], custom["call_id"], ns["call_id"]}) == 3


@pytest.mark.parametrize("open_late", [False, True])
def test_an_error_mid_stream_ends_with_error_and_response_failed(open_late: bool) -> None:
    events = stream(BASE, [*text_events("Partial", 3), StreamError("boom")],
                    open_late=open_late)
    types = squash([e["type"] for e in events])
    assert types == [*START, "response.output_item.added", "response.content_part.added",
                     "response.output_text.delta", "error", "response.failed"]
    err, failed = events[-2], events[-1]["response"]
    assert err["code"] and err["message"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error"
    assert failed["error"]["message"] == err["message"]


def test_an_error_after_a_call_keeps_the_call_in_the_failed_response() -> None:
    events = stream(BASE, [*text_events(PARIS, 5), StreamError("boom")])
    failed = events[-1]["response"]
    assert [i["type"] for i in failed["output"]] == ["function_call"]


def test_a_hang_up_leaves_a_valid_prefix() -> None:
    # The lifecycle stops calling the encoder when the client hangs up: whatever it sent
    # until then is a well-formed prefix (every event parses, numbers in order).
    full = stream(BASE, [*text_events("Hello there. " + PARIS, 4), Finish("stop")])
    cut = stream(BASE, text_events("Hello there.", 4))  # the body ended early
    assert squash([e["type"] for e in cut]) == START + MESSAGE + DONE
    assert len(cut) < len(full)


def test_usage_and_the_request_echo() -> None:
    req = {**BASE, "instructions": "Be brief.", "metadata": {"k": "v"},
           "reasoning": {"summary": "auto"}, "max_output_tokens": 100}
    resp = body(req, [ReasoningDelta("abcd" * 3), *text_events("Hi", 1),
                      Finish("stop", {"promptTokens": 7, "completionTokens": 5})])
    assert resp["id"].startswith("resp_") and resp["object"] == "response"
    assert resp["model"] == "m" and resp["status"] == "completed"
    assert resp["instructions"] == "Be brief." and resp["metadata"] == {"k": "v"}
    assert resp["max_output_tokens"] == 100 and resp["tools"] == TOOLS
    assert resp["usage"]["input_tokens"] == 7 and resp["usage"]["output_tokens"] == 5
    assert resp["usage"]["total_tokens"] == 12
    assert resp["usage"]["output_tokens_details"]["reasoning_tokens"] == 3


def test_keepalive_is_an_sse_comment() -> None:
    call, _ = builder(BASE, keep_text=False)
    assert call.encoder.keepalive().startswith(b":")
