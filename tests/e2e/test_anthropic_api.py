"""End to end: the Anthropic Messages API through our userscript in Chromium on the emulated
site, with the real clients: the ``anthropic`` Python SDK (create, ``messages.stream``, a
tool-use round trip, ``count_tokens``, an image) and ``@anthropic-ai/sdk`` for Node
(streaming with a tool), installed from tests/e2e/anthropic_node by scripts/test.sh."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.site_emulator import EmulatorState
from tests.site_emulator.answers import PNG_1PX
from tests.support.workers import call_block

from .conftest import Bridge, Tabs, scripted

NODE_DIR = Path(__file__).parent / "anthropic_node"
WEATHER: Any = {"name": "get_weather", "description": "Current weather in a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}




@pytest.fixture
async def claude(bridge: Bridge) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=bridge.url, api_key="x", max_retries=0, timeout=30
    ) as c:
        yield c


async def test_create_and_stream(site: EmulatorState, tabs: Tabs,
                                 claude: anthropic.AsyncAnthropic) -> None:
    await tabs.ensure(1)
    msg = await claude.messages.create(
        model="echo-model", max_tokens=200, messages=[{"role": "user", "content": "ping me"}])
    assert msg.stop_reason == "end_turn"
    assert msg.content[0].type == "text" and msg.content[0].text.startswith("Echo: ")
    assert "ping me" in msg.content[0].text

    site.reasoning = "Thinking it over."
    async with claude.messages.stream(
        model="echo-model", max_tokens=200, thinking={"type": "adaptive"},
        messages=[{"role": "user", "content": "stream me"}],
    ) as stream:
        deltas = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Thinking it over."
    assert text.type == "text" and "".join(deltas) == text.text and "stream me" in text.text


async def test_tool_use_round_trip(site: EmulatorState, tabs: Tabs,
                                   claude: anthropic.AsyncAnthropic) -> None:
    await tabs.ensure(1)
    prompts = scripted(site, "Let me check.\n" + call_block("get_weather", {"city": "Paris"}),
                       "It is sunny in Paris.")
    messages: Any = [{"role": "user", "content": "Weather in Paris?"}]
    first = await claude.messages.create(model="echo-model", max_tokens=500,
                                         messages=messages, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    text, use = first.content
    assert text.type == "text" and text.text == "Let me check."
    assert use.type == "tool_use" and (use.name, use.input) == ("get_weather", {"city": "Paris"})
    assert "get_weather" in prompts[0]  # the model was told about the tool

    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": "sunny, 24 C"}]}]
    async with claude.messages.stream(model="echo-model", max_tokens=500, messages=messages,
                                      tools=[WEATHER]) as stream:
        second = await stream.get_final_message()
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "It is sunny in Paris."  # type: ignore[union-attr]
    assert "sunny, 24 C" in prompts[1] and use.id in prompts[1]


async def test_count_tokens_and_an_image(site: EmulatorState, tabs: Tabs,
                                        claude: anthropic.AsyncAnthropic) -> None:
    await tabs.ensure(1)
    content: Any = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": PNG_1PX}},
        {"type": "text", "text": "what is this?"}]
    counted = await claude.messages.count_tokens(
        model="echo-model", messages=[{"role": "user", "content": "what is this?"}])
    msg = await claude.messages.create(model="echo-model", max_tokens=100,
                                       messages=[{"role": "user", "content": content}])
    assert counted.input_tokens > 0
    assert "what is this?" in msg.content[0].text  # type: ignore[union-attr]
    (req,) = site.create_requests
    (attachment,) = req.body["userMessage"]["experimental_attachments"]
    assert attachment["contentType"] == "image/png"
    assert attachment["url"] == f"data:image/png;base64,{PNG_1PX}"


async def node(*args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "node", *args, cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return dict(json.loads(out))


async def test_node_sdk_streams_a_tool_call(site: EmulatorState, tabs: Tabs,
                                            bridge: Bridge) -> None:
    assert shutil.which("node"), "node is needed (scripts/test.sh installs the clients)"
    assert (NODE_DIR / "node_modules/@anthropic-ai/sdk").is_dir(), (
        "run: npm ci --prefix tests/e2e/anthropic_node")
    await tabs.ensure(1)
    scripted(site, "Checking the weather.\n" + call_block("get_weather", {"city": "Paris"}))
    result = await node("stream_tools.mjs", bridge.url, "echo-model")
    assert "".join(result["texts"]) == "Checking the weather."
    assert result["inputs"] == [{"city": "Paris"}]
    final = result["final"]
    assert final["stop_reason"] == "tool_use"
    assert [b["type"] for b in final["content"]] == ["text", "tool_use"]
    assert final["content"][1]["id"].startswith("toolu_")


CLAUDE = NODE_DIR / "node_modules/@anthropic-ai/claude-code-linux-x64/claude"
SECRET = "periwinkle-42"


async def test_claude_code_reads_a_file_with_one_tool_call(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, settings: Any, tmp_path: Path
) -> None:
    """``claude -p`` (Claude Code 2.1.332, its native binary from the pinned package) with
    ANTHROPIC_BASE_URL on the bridge and every non-essential request off: the model (the
    emulator) calls Read once, Claude Code runs it and sends the result back, the answer
    quotes the file."""
    assert CLAUDE.is_file(), "run: npm ci --prefix tests/e2e/anthropic_node"
    await tabs.ensure(1)
    settings(model_aliases={"claude-*": "echo-model"})
    work = tmp_path / "project"
    work.mkdir()
    note = work / "note.txt"
    note.write_text(f"The secret word is {SECRET}.\n", "utf-8")
    prompts: list[str] = []

    def answer_for(body: dict[str, Any]) -> str:
        prompt = str(body.get("userMessage", {}).get("content", ""))
        prompts.append(prompt)
        if "<tool_result" in prompt and SECRET in prompt:
            return f"The file says the secret word is {SECRET}."
        return call_block("Read", {"file_path": str(note)})

    site.answer_for = answer_for
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(home), "ANTHROPIC_BASE_URL": bridge.url,
        "ANTHROPIC_API_KEY": "x", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        str(CLAUDE), "-p", "What is the secret word in note.txt? Read the file.",
        "--allowedTools", "Read", "--max-turns", "3", "--output-format", "json",
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, (out + err).decode()
    result = json.loads(out)
    assert result["is_error"] is False, result
    assert result["result"] == f"The file says the secret word is {SECRET}."
    assert result["num_turns"] == 2
    assert any("<tool_result" in p and SECRET in p for p in prompts)
