"""reuse_site_sessions: follow-ups in conversations the bridge started, and the silent
fallback to a whole new conversation when the site refuses one."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.support.workers import ScriptedWorker, finish_line, site_line

BATTLE_TURN = ("Bad next turn request in Battles in Direct mode. DIRECT was requested, "
               "but expected a BATTLE turn")


def answering(refuse_posts: bool = False):  # type: ignore[no-untyped-def]
    async def handler(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        if refuse_posts and "/post-to-evaluation/" in payload["path"]:
            await w.send({"request_id": rid, "error": {
                "message": "HTTP 400", "status": 400, "content_type": "application/json",
                "body": json.dumps({"error": BATTLE_TURN}), "headers": {}}})
            return
        content = payload["body"]["userMessage"]["content"]
        await w.data(rid, site_line("2", [{"type": "heartbeat"}]))
        await w.data(rid, site_line("0", f"Echo: {content}") + finish_line())
        await w.done(rid)
    return handler


async def conversation(srv: Any, turns: int, stream: bool) -> list[str]:
    messages: list[dict[str, Any]] = []
    answers = []
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0) as c:
        for i in range(turns):
            messages.append({"role": "user", "content": f"q{i}"})
            if stream:
                chunks = [ch async for ch in await c.chat.completions.create(
                    model="echo-model", messages=messages, stream=True)]
                text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
            else:
                resp = await c.chat.completions.create(model="echo-model", messages=messages)
                text = resp.choices[0].message.content or ""
            answers.append(text)
            messages.append({"role": "assistant", "content": text})
    return answers


@pytest.mark.parametrize("stream", [False, True])
async def test_follow_ups_continue_the_site_conversation(make_bridge, workers, stream) -> None:
    srv = await make_bridge({"reuse_site_sessions": True})
    w = await workers(srv.ws_url, handler=answering())
    answers = await conversation(srv, 3, stream)
    assert answers == ["Echo: q0", "Echo: q1", "Echo: q2"]  # only the new turn was sent
    paths = [p["path"] for _, p in w.jobs]
    session = w.jobs[0][1]["body"]["id"]
    assert paths == ["/nextjs-api/stream/create-evaluation",
                     f"/nextjs-api/stream/post-to-evaluation/{session}",
                     f"/nextjs-api/stream/post-to-evaluation/{session}"]
    message_ids = [p["body"]["userMessageId"] for _, p in w.jobs]
    assert len(set(message_ids)) == 3


async def test_a_changed_history_starts_a_new_conversation(make_bridge, workers) -> None:
    srv = await make_bridge({"reuse_site_sessions": True})
    w = await workers(srv.ws_url, handler=answering())
    await conversation(srv, 1, False)
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0) as c:
        await c.chat.completions.create(model="echo-model", messages=[
            {"role": "user", "content": "q0"}, {"role": "assistant", "content": "edited"},
            {"role": "user", "content": "q1"}])
    assert [p["path"] for _, p in w.jobs] == ["/nextjs-api/stream/create-evaluation"] * 2
    assert w.jobs[1][1]["body"]["userMessage"]["content"] == (
        "User: q0\n\nAssistant: edited\n\nUser: q1")


async def test_refused_follow_up_falls_back_to_the_whole_transcript(make_bridge, workers):
    srv = await make_bridge({"reuse_site_sessions": True})
    w = await workers(srv.ws_url, handler=answering(refuse_posts=True))
    answers = await conversation(srv, 2, True)
    assert answers[1] == "Echo: User: q0\n\nAssistant: Echo: q0\n\nUser: q1"
    paths = [p["path"].rsplit("/", 1)[0] for _, p in w.jobs]
    assert paths == ["/nextjs-api/stream", "/nextjs-api/stream/post-to-evaluation",
                     "/nextjs-api/stream"]
    assert not srv.app.state.bridge.monitor.snapshot()["errors"]


async def test_off_by_default(bridge, workers) -> None:
    w = await workers(bridge.ws_url, handler=answering())
    await conversation(bridge, 2, False)
    assert [p["path"] for _, p in w.jobs] == ["/nextjs-api/stream/create-evaluation"] * 2
