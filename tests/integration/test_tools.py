"""Emulated function calling against the real server: the openai SDK, LangChain, and the
request shapes Cline, Roo Code and Continue send (tests/integration/client_requests).

The scripted worker answers with ``<tool_call>`` text whatever the prompt says, so the
answer side is tested on its own; the tests named ``..._prompt...`` check what the model
is told (the tool section, earlier calls and their results).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.support.workers import ScriptedWorker, call_block, finish_line, text_lines

CLIENT_REQUESTS = Path(__file__).parent / "client_requests"

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city"],
}
WEATHER: Any = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": WEATHER_SCHEMA}}
CLOCK: Any = {"type": "function", "function": {"name": "clock", "description": "Time now."}}
TOOLS: Any = [WEATHER, CLOCK]
QUESTION: Any = [{"role": "user", "content": "Weather in Paris?"}]



PARIS = call_block("get_weather", {"city": "Paris"})


class Site:
    """A worker handler answering each job with the next scripted answer (in 7-character
    text lines), and keeping every job's prompt text."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    async def __call__(self, w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        self.prompts.append(prompt_text(payload))
        for line in text_lines(self.answers.pop(0), size=7):
            await w.data(rid, line)
        await w.data(rid, finish_line())
        await w.done(rid)


def prompt_text(payload: Any) -> str:
    """Every string of a job payload, wherever the request builder puts the prompt."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, dict):
        return "\n".join(prompt_text(v) for v in payload.values())
    if isinstance(payload, list):
        return "\n".join(prompt_text(v) for v in payload)
    return ""


Workers = Callable[..., Awaitable[ScriptedWorker]]


async def start(bridge: Any, workers: Workers, site: Site) -> ScriptedWorker:
    w = await workers(bridge.ws_url, handler=site)
    await wait_for(lambda: bridge.app.state.bridge.pool.ready_count >= 1)
    return w


async def stream_deltas(client: openai.AsyncOpenAI, **kw: Any) -> list[Any]:
    stream = await client.chat.completions.create(stream=True, **kw)
    return [c async for c in stream]


# ---- the openai SDK ------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_round_trip_call_result_answer(bridge, workers, client, stream: bool) -> None:
    site = Site("Let me check.\n" + PARIS, "It is 18°C in Paris.")
    await start(bridge, workers, site)
    if stream:
        async with client.chat.completions.stream(
            model="echo-model", messages=QUESTION, tools=TOOLS
        ) as s:
            async for _ in s:
                pass
            first = await s.get_final_completion()
    else:
        first = await client.chat.completions.create(
            model="echo-model", messages=QUESTION, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather", {"city": "Paris"})

    history: Any = [
        *QUESTION,
        choice.message.model_dump(exclude_none=True, exclude_unset=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18°C, sunny"},
    ]
    final = await client.chat.completions.create(
        model="echo-model", messages=history, tools=TOOLS, stream=False)
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content == "It is 18°C in Paris."
    assert final.choices[0].message.tool_calls is None


async def test_round_trip_prompt_carries_tools_calls_and_results(bridge, workers, client) -> None:
    site = Site(PARIS, "It is 18°C in Paris.")
    await start(bridge, workers, site)
    first = await client.chat.completions.create(model="echo-model", messages=QUESTION,
                                                 tools=TOOLS)
    msg = first.choices[0].message
    call_id = (msg.tool_calls or [])[0].id
    await client.chat.completions.create(model="echo-model", tools=TOOLS, messages=[
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "18°C, sunny"},
    ])
    told, replay = site.prompts
    assert "Weather in Paris?" in told
    assert '<tool_call>{"name": "TOOL_NAME"' in told
    assert "## get_weather\nCurrent weather in a city." in told
    assert json.dumps(WEATHER_SCHEMA) in told and "## clock" in told
    assert PARIS in replay
    assert f'<tool_result name="get_weather" tool_call_id="{call_id}">\n18°C, sunny' in replay


async def test_stream_deltas_are_exactly_openai_s(bridge, workers, client) -> None:
    rome = call_block("get_weather", {"city": "Rome", "unit": "c"})
    await start(bridge, workers, Site("Checking both.\n" + PARIS + "\n" + rome))
    chunks = await stream_deltas(client, model="echo-model", messages=QUESTION, tools=TOOLS,
                                 stream_options={"include_usage": True})
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "Checking both."
    deltas = [tc.model_dump(exclude_none=True) for c in chunks if c.choices
              for tc in c.choices[0].delta.tool_calls or []]
    assert [d.get("id", "").startswith("call_") for d in deltas] == [True, False, True, False]
    assert [{k: v for k, v in d.items() if k != "id"} for d in deltas] == [
        {"index": 0, "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"city":"Paris"}'}},
        {"index": 1, "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        {"index": 1, "function": {"arguments": '{"city":"Rome","unit":"c"}'}},
    ]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


@pytest.mark.parametrize("stream", [False, True])
async def test_invalid_blocks_are_text_and_counted(bridge, workers, client, stream: bool) -> None:
    bad = (call_block("format_disk", {}) + "\n" + call_block("get_weather", {"town": "X"})
           + "\n<tool_call>{city: </tool_call>")
    await start(bridge, workers, Site("Sure.\n" + bad))
    if stream:
        chunks = await stream_deltas(client, model="echo-model", messages=QUESTION, tools=TOOLS)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
        reason = chunks[-1].choices[0].finish_reason
    else:
        resp = await client.chat.completions.create(model="echo-model", messages=QUESTION,
                                                    tools=TOOLS)
        text, reason = resp.choices[0].message.content, resp.choices[0].finish_reason
        assert resp.choices[0].message.tool_calls is None
    assert text == "Sure.\n" + bad
    assert reason == "stop"
    metrics = bridge.app.state.bridge.metrics.registry
    for why in ("unknown_tool", "schema", "invalid_json"):
        await wait_for(lambda why=why: metrics.get_sample_value(
            "lmarena_bridge_tool_calls_rejected_total",
            {"reason": why, "model": "echo-model"}) == 1)
    errors = list(bridge.app.state.bridge.monitor.errors)
    assert [e["code"] for e in errors] == ["tool_call_rejected"]
    assert "'format_disk'" in errors[0]["message"]


async def test_accepted_calls_are_counted(bridge, workers, client) -> None:
    await start(bridge, workers, Site(PARIS))
    await client.chat.completions.create(model="echo-model", messages=QUESTION, tools=TOOLS)
    metrics = bridge.app.state.bridge.metrics.registry
    await wait_for(lambda: metrics.get_sample_value(
        "lmarena_bridge_tool_calls_total", {"model": "echo-model"}) == 1)
    assert not bridge.app.state.bridge.monitor.errors


# ---- tool_choice and parallel_tool_calls -----------------------------------------------


CLOCK_CALL = call_block("clock", {})


@pytest.mark.parametrize(
    ("tool_choice", "answer", "calls", "content"),
    [
        ("none", PARIS, [], PARIS),  # no tools offered: a block is just text
        ("auto", "No tool needed.", [], "No tool needed."),
        ("auto", PARIS, ["get_weather"], None),
        ("required", PARIS + CLOCK_CALL, ["get_weather", "clock"], None),
        ({"type": "function", "function": {"name": "clock"}}, CLOCK_CALL, ["clock"], None),
        # a named choice allows that tool only: another one is text
        ({"type": "function", "function": {"name": "clock"}}, PARIS, [], PARIS),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_choice(bridge, workers, client, tool_choice: Any, answer: str,
                           calls: list[str], content: str | None, stream: bool) -> None:
    await start(bridge, workers, Site(answer))
    kw: Any = {"model": "echo-model", "messages": QUESTION, "tools": TOOLS,
               "tool_choice": tool_choice}
    if stream:
        async with client.chat.completions.stream(**kw) as s:
            async for _ in s:
                pass
            resp = await s.get_final_completion()
    else:
        resp = await client.chat.completions.create(**kw)
    msg = resp.choices[0].message
    assert [tc.function.name for tc in msg.tool_calls or []] == calls
    assert resp.choices[0].finish_reason == ("tool_calls" if calls else "stop")
    assert (msg.content or None) == content


@pytest.mark.parametrize(
    ("tool_choice", "said", "unsaid"),
    [
        ("auto", ["answer normally"], ["must call"]),
        ("required", ["must call at least one tool"], ["answer normally"]),
        ({"type": "function", "function": {"name": "clock"}},
         ['must call the tool "clock"'], ["## get_weather"]),
    ],
)
async def test_tool_choice_prompt(bridge, workers, client, tool_choice: Any, said: list[str],
                                  unsaid: list[str]) -> None:
    site = Site("ok")
    await start(bridge, workers, site)
    await client.chat.completions.create(model="echo-model", messages=QUESTION, tools=TOOLS,
                                         tool_choice=tool_choice)
    (prompt,) = site.prompts
    assert "<tool_call>" in prompt
    for words in said:
        assert words in prompt
    for words in unsaid:
        assert words not in prompt


async def test_tool_choice_none_prompt_has_no_tool_section(bridge, workers, client) -> None:
    site = Site("ok")
    await start(bridge, workers, site)
    await client.chat.completions.create(model="echo-model", messages=QUESTION, tools=TOOLS,
                                         tool_choice="none")
    assert "<tool_call>" not in site.prompts[0] and "get_weather" not in site.prompts[0]


async def test_one_call_without_parallel_calls_ends_the_answer(bridge, workers, client) -> None:
    release = asyncio.Event()

    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        for line in text_lines(PARIS + "\n" + CLOCK_CALL, size=9):
            await w.data(rid, line)
        await release.wait()  # the model would go on; the bridge must stop it

    w = await workers(bridge.ws_url, handler=handler)
    chunks = await stream_deltas(client, model="echo-model", messages=QUESTION, tools=TOOLS,
                                 parallel_tool_calls=False)
    names = [tc.function.name for c in chunks if c.choices
             for tc in c.choices[0].delta.tool_calls or [] if tc.function and tc.function.name]
    assert names == ["get_weather"]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    await wait_for(lambda: len(w.aborts) == 1)
    release.set()


async def test_parallel_false_prompt(bridge, workers, client) -> None:
    site = Site("ok")
    await start(bridge, workers, site)
    await client.chat.completions.create(model="echo-model", messages=QUESTION, tools=TOOLS,
                                         parallel_tool_calls=False)
    assert "at most one tool" in site.prompts[0]


async def test_keepalives_while_a_block_is_held(make_bridge, workers) -> None:
    srv = await make_bridge({"keepalive_interval_seconds": 0.2})

    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        for line in text_lines(PARIS, size=4):  # the site keeps sending, the client waits
            await w.data(rid, line)
            await asyncio.sleep(0.05)
        await w.data(rid, finish_line())
        await w.done(rid)

    await workers(srv.ws_url, handler=handler)
    body = {"model": "echo-model", "stream": True, "messages": QUESTION, "tools": TOOLS}
    async with httpx.AsyncClient(timeout=20) as http:
        r = await http.post(f"{srv.url}/v1/chat/completions", json=body)
    assert r.text.count(": keep-alive") >= 2
    assert r.text.index(": keep-alive") < r.text.index('"tool_calls"')
    assert read_like_agents(sse_chunks(r.text))[1][0]["name"] == "get_weather"


async def test_refuse_mode_answers_400(make_bridge, workers) -> None:
    srv = await make_bridge({"tool_calling": "refuse"})
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="t", max_retries=0) as c:
        with pytest.raises(openai.BadRequestError) as exc:
            await c.chat.completions.create(model="echo-model", messages=QUESTION, tools=TOOLS)
    assert exc.value.code == "invalid_request"
    assert (exc.value.body or {}).get("param") == "tools"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tool_choice": "any"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
    ],
)
async def test_bad_tool_requests_are_400(bridge, extra: dict[str, Any], param: str) -> None:
    body = {"model": "echo-model", "messages": QUESTION, "tools": TOOLS, **extra}
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{bridge.url}/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


# ---- LangChain ---------------------------------------------------------------------------


def _langchain_model(url: str) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="echo-model", base_url=f"{url}/v1", api_key="test",
                      max_retries=0, timeout=20)


def _weather_tool() -> Any:
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"18°C in {city}"

    return get_weather


@pytest.mark.parametrize("stream", [False, True])
async def test_langchain_bind_tools(bridge, workers, stream: bool) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage

    await start(bridge, workers, Site("Looking.\n" + PARIS, "It is 18°C in Paris."))
    weather = _weather_tool()
    llm = _langchain_model(bridge.url).bind_tools([weather])
    question = [HumanMessage("Weather in Paris?")]
    if stream:
        ai: Any = None
        async for chunk in llm.astream(question):
            ai = chunk if ai is None else ai + chunk
    else:
        ai = await llm.ainvoke(question)
    assert ai.content == "Looking."
    (call,) = ai.tool_calls
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Paris"})
    assert call["id"].startswith("call_")
    result = ToolMessage(content=await weather.ainvoke(call["args"]), tool_call_id=call["id"])
    final = await llm.ainvoke([*question, ai, result])
    assert final.content == "It is 18°C in Paris." and final.tool_calls == []


async def test_langchain_forced_tool(bridge, workers) -> None:
    from langchain_core.messages import HumanMessage

    site = Site(PARIS)
    await start(bridge, workers, site)
    llm = _langchain_model(bridge.url).bind_tools([_weather_tool()], tool_choice="get_weather")
    ai = await llm.ainvoke([HumanMessage("Weather in Paris?")])
    assert [c["name"] for c in ai.tool_calls] == ["get_weather"]


# ---- request shapes of coding agents -----------------------------------------------------


def client_requests(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    recorded = json.loads((CLIENT_REQUESTS / f"{name}.json").read_text(encoding="utf-8"))
    first, second = recorded["requests"]
    return first, second


def second_turn(first: dict[str, Any], second: dict[str, Any], call_id: str) -> dict[str, Any]:
    body = json.loads(json.dumps(second).replace("$CALL_ID", call_id))
    body["tools"] = copy.deepcopy(first["tools"])
    return body


def sse_chunks(text: str) -> list[dict[str, Any]]:
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def read_like_agents(chunks: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], str]:
    """Text, calls and finish reason, read the way Cline, Roo Code and Continue read
    ``delta.tool_calls``: by index, id and name first, arguments appended; each delta must
    carry ``function`` (Continue reads ``tool_call.function.name`` on every chunk)."""
    text, calls, finish = "", {}, ""
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            for tc in delta.get("tool_calls") or []:
                assert isinstance(tc["function"], dict)
                slot = calls.setdefault(tc["index"], {"id": None, "name": "", "arguments": ""})
                if tc.get("id"):
                    assert slot["id"] is None and tc["type"] == "function"
                    slot["id"] = tc["id"]
                slot["name"] += tc["function"].get("name") or ""
                slot["arguments"] += tc["function"].get("arguments") or ""
            finish = choice["finish_reason"] or finish
    return text, [calls[i] for i in sorted(calls)], finish


DONE = call_block("attempt_completion", {"result": "It prints hello."})
AGENTS = {
    "cline": ({"path": "README.md"}, DONE),
    "roo_code": ({"path": "README.md"}, DONE),
    "continue": ({"filepath": "README.md"}, "README.md says the project prints hello."),
}


@pytest.mark.parametrize("agent", sorted(AGENTS))
async def test_coding_agent_request_shapes(bridge, workers, agent: str) -> None:
    args, second_answer = AGENTS[agent]
    first, second = client_requests(agent)
    site = Site("I will read it.\n" + call_block("read_file", args), second_answer)
    await start(bridge, workers, site)
    async with httpx.AsyncClient(timeout=20) as http:
        r = await http.post(f"{bridge.url}/v1/chat/completions", json=first)
        assert r.status_code == 200, r.text
        chunks = sse_chunks(r.text)
        text, calls, finish = read_like_agents(chunks)
        assert text == "I will read it." and finish == "tool_calls"
        (call,) = calls
        assert call["name"] == "read_file" and json.loads(call["arguments"]) == args
        if first.get("stream_options", {}).get("include_usage"):
            assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0

        r = await http.post(f"{bridge.url}/v1/chat/completions",
                            json=second_turn(first, second, call["id"]))
        assert r.status_code == 200, r.text
        text, calls, finish = read_like_agents(sse_chunks(r.text))
    if second_answer.startswith("<tool_call>"):
        assert text == "" and finish == "tool_calls"
        assert [c["name"] for c in calls] == ["attempt_completion"]
    else:
        assert text == second_answer and calls == [] and finish == "stop"


@pytest.mark.parametrize("agent", sorted(AGENTS))
async def test_coding_agent_prompts(bridge, workers, agent: str) -> None:
    args, second_answer = AGENTS[agent]
    first, second = client_requests(agent)
    site = Site(call_block("read_file", args), second_answer)
    await start(bridge, workers, site)
    async with httpx.AsyncClient(timeout=20) as http:
        r = await http.post(f"{bridge.url}/v1/chat/completions", json=first)
        (call,) = read_like_agents(sse_chunks(r.text))[1]
        await http.post(f"{bridge.url}/v1/chat/completions",
                        json=second_turn(first, second, call["id"]))
    told, replay = site.prompts
    for tool in first["tools"]:
        assert f"## {tool['function']['name']}" in told
    assert "<tool_call>" in told
    assert call_block("read_file", args) in replay
    assert f'<tool_result name="read_file" tool_call_id="{call["id"]}">' in replay
    assert "Prints hello." in replay
