"""End to end: the OpenAI Responses API through our userscript in Chromium on the emulated
site, with the real clients: the ``openai`` Python SDK's ``responses.create`` (whole and
streamed, a function-call round trip), the OpenAI Agents SDK (``Runner.run`` and
``Runner.run_streamed`` with a function tool) and Codex CLI (``codex exec`` with a custom
provider, its default tools, a shell command through ``exec_command``), the last installed
from tests/e2e/codex_cli by scripts/test.sh."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

from tests.site_emulator import EmulatorState
from tests.support.workers import call_block

from .conftest import Bridge, Tabs, scripted

CODEX = Path(__file__).parent / "codex_cli" / "node_modules" / ".bin" / "codex"
WEATHER: Any = {"type": "function", "name": "get_weather",
                "description": "Current weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}




@pytest.fixture
async def oai(bridge: Bridge) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{bridge.url}/v1", api_key="x", max_retries=0, timeout=30
    ) as c:
        yield c


# -- the openai SDK ----------------------------------------------------------------------------


async def test_create_and_stream(site: EmulatorState, tabs: Tabs, oai: openai.AsyncOpenAI) -> None:
    await tabs.ensure(1)
    resp = await oai.responses.create(model="echo-model", input="ping me",
                                      instructions="Be brief.")
    assert resp.status == "completed" and resp.id.startswith("resp_")
    assert resp.output_text.startswith("Echo: ") and "ping me" in resp.output_text

    site.reasoning = "Thinking it over."
    async with oai.responses.stream(model="echo-model", input="stream me",
                                    reasoning={"summary": "auto"}) as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    reasoning, message = final.output
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text == "Thinking it over."
    assert message.type == "message" and "".join(deltas) == final.output_text
    assert "stream me" in final.output_text and len(deltas) > 1


@pytest.mark.parametrize("stream", [False, True])
async def test_function_call_round_trip(site: EmulatorState, tabs: Tabs,
                                        oai: openai.AsyncOpenAI, stream: bool) -> None:
    await tabs.ensure(1)
    prompts = scripted(site, "Let me check.\n" + call_block("get_weather", {"city": "Paris"}),
                       "It is sunny in Paris.")
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        async with oai.responses.stream(model="echo-model", input=question,
                                        tools=[WEATHER]) as s:
            async for _ in s:
                pass
            first = await s.get_final_response()
    else:
        first = await oai.responses.create(model="echo-model", input=question, tools=[WEATHER])
    call = first.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    history: Any = [*question, *[i.model_dump(exclude_none=True) for i in first.output],
                    {"type": "function_call_output", "call_id": call.call_id,
                     "output": "sunny, 21°C"}]
    final = await oai.responses.create(model="echo-model", input=history, tools=[WEATHER])
    assert final.output_text == "It is sunny in Paris."
    assert "get_weather" in prompts[0]
    assert "sunny, 21°C" in prompts[1] and call.call_id in prompts[1]


async def test_custom_tool_call_and_its_output(site: EmulatorState, tabs: Tabs,
                                               oai: openai.AsyncOpenAI) -> None:
    await tabs.ensure(1)
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
    prompts = scripted(site, call_block("apply_patch", {"input": patch}), "Patched.")
    tools: Any = [{"type": "custom", "name": "apply_patch", "description": "Edit files.",
                   "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}]
    async with oai.responses.stream(model="echo-model", input="Add a.txt", tools=tools) as s:
        kinds = [e.type async for e in s]
        first = await s.get_final_response()
    assert "response.custom_tool_call_input.done" in kinds
    (call,) = first.output
    assert call.type == "custom_tool_call" and call.input == patch
    history: Any = ["Add a.txt", call.model_dump(exclude_none=True),
                    {"type": "custom_tool_call_output", "call_id": call.call_id,
                     "output": "Done: a.txt"}]
    history[0] = {"role": "user", "content": history[0]}
    final = await oai.responses.create(model="echo-model", input=history, tools=tools)
    assert final.output_text == "Patched."
    assert "start: /.+/" in prompts[0] and "Done: a.txt" in prompts[1]


# -- the OpenAI Agents SDK ---------------------------------------------------------------------


def weather_agent(oai: openai.AsyncOpenAI, calls: list[str]) -> Agent[Any]:
    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    set_tracing_disabled(True)
    return Agent(name="weather", instructions="Answer about the weather.", tools=[get_weather],
                 model=OpenAIResponsesModel(model="echo-model", openai_client=oai))


def answer_from_tool_result(site: EmulatorState) -> list[str]:
    """First a call, then an answer quoting the tool's result found in the prompt."""
    prompts: list[str] = []

    def answer_for(body: dict[str, Any]) -> str:
        prompt = str(body.get("userMessage", {}).get("content", ""))
        prompts.append(prompt)
        if len(prompts) == 1:
            return call_block("get_weather", {"city": "Rome"})
        found = re.search(r"sunny in \w+", prompt)
        return f"The tool said: {found.group(0) if found else 'nothing'}."

    site.answer_for = answer_for
    return prompts


@pytest.mark.parametrize("streamed", [False, True])
async def test_agents_sdk_runs_a_function_tool(site: EmulatorState, tabs: Tabs,
                                               oai: openai.AsyncOpenAI, streamed: bool) -> None:
    await tabs.ensure(1)
    answer_from_tool_result(site)
    calls: list[str] = []
    agent = weather_agent(oai, calls)
    if streamed:
        run = Runner.run_streamed(agent, "Weather in Rome?")
        kinds = [e.type async for e in run.stream_events()]
        assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
        output = run.final_output
    else:
        output = (await Runner.run(agent, "Weather in Rome?")).final_output
    assert calls == ["Rome"]
    assert output == "The tool said: sunny in Rome."


# -- Codex CLI ---------------------------------------------------------------------------------


def codex_home(tmp: Path, bridge: Bridge) -> Path:
    home = tmp / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(f"""
model = "echo-model"
model_provider = "bridge"
check_for_update_on_startup = false

[model_providers.bridge]
name = "LMArena Bridge"
base_url = "{bridge.url}/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[feedback]
enabled = false
""")
    return home


async def test_codex_exec_runs_a_shell_command(site: EmulatorState, tabs: Tabs, bridge: Bridge,
                                               tmp_path: Path) -> None:
    assert CODEX.exists(), "run scripts/test.sh (npm ci in tests/e2e/codex_cli) first"
    await tabs.ensure(1)
    prompts: list[str] = []

    def answer_for(body: dict[str, Any]) -> str:
        prompt = str(body.get("userMessage", {}).get("content", ""))
        prompts.append(prompt)
        if len(prompts) == 1:
            return "Running it.\n" + call_block("exec_command", {"cmd": "echo $((6*7))"})
        # The second turn carries the command's real output as a tool result.
        ran = re.search(r"<tool_result[^>]*>(.*?)</tool_result>", prompt, re.S)
        got = "42" if ran and re.search(r"\b42\b", ran.group(1)) else "no output"
        return f"The command printed {got}."

    site.answer_for = answer_for
    site.reasoning = "Planning the command."  # Codex asks for reasoning summaries
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "CODEX_HOME": str(codex_home(tmp_path, bridge)), "NO_COLOR": "1",
           "HOME": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        str(CODEX), "exec", "--skip-git-repo-check", "--sandbox", "danger-full-access",
        "-C", str(work), "Run `echo $((6*7))` in the shell and tell me what it printed.",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    log = err.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "The command printed 42." in out.decode(), log[-3000:]
    assert "Planning the command." in log  # the reasoning summary, as Codex shows it
    assert len(prompts) == 2
    assert "exec_command" in prompts[0]
