"""End to end against the 2026 site's rules, with the default "create" strategy:

real openai SDK (AsyncOpenAI) -> real bridge (uvicorn) -> our userscript in headless
Chromium on https://arena.ai -> the strict site emulator (fresh in-page reCAPTCHA v3 token
per request, server-side history, heartbeats, stop endpoint, lmarena.ai redirects).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from tests.site_emulator import Chunking, EmulatorState, wait_for

from .conftest import LEGACY_SITE, SITE, Bridge, Tabs, userscript_for


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def stream_text(client: openai.AsyncOpenAI, model: str, messages: list[dict[str, Any]]
                      ) -> tuple[str, str | None]:
    stream = await client.chat.completions.create(model=model, messages=messages, stream=True)
    text, finish = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    return text, finish


@pytest.fixture
async def reload_after(tabs: Tabs, site: EmulatorState) -> AsyncIterator[None]:
    """For tests that change what the page itself loads: the tabs reload afterwards, on the
    emulator's default page."""
    yield
    site.reset()
    for page in tabs.pages:
        if not page.is_closed():
            await page.reload()
    await tabs.wait_ready()


async def test_answer_text_streamed_and_not(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    prompt = 'The "2026" site: ünïcödé, 😀, 你好 \\ and a\nnewline'
    text, finish = await stream_text(client, "echo-model", user(prompt))
    assert (text, finish) == ("Echo: " + prompt, "stop")
    done = await client.chat.completions.create(model="echo-model", messages=user(prompt))
    assert done.choices[0].message.content == "Echo: " + prompt
    assert done.choices[0].finish_reason == "stop"
    assert [r.status for r in site.create_requests] == [200, 200]
    assert all(c.ok and c.action == "chat_submit" for c in site.recaptcha_checks)


async def test_multi_turn_transcript_reaches_the_site(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    turns = [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "What is the capital of Italy?"},
        {"role": "assistant", "content": "Rome."},
        {"role": "user", "content": "And of Spain? 🇪🇸"},
    ]
    done = await client.chat.completions.create(model="echo-model", messages=turns)
    (req,) = site.create_requests
    content = req.user_content
    assert content is not None
    # The server keeps no history of ours: every turn travels in the one user message,
    # system first, then the conversation in order.
    positions = [content.find(t["content"]) for t in turns]
    assert all(p >= 0 for p in positions), content
    assert positions == sorted(positions)
    assert done.choices[0].message.content == "Echo: " + content


async def test_session_reuse_posts_follow_ups_and_falls_back_when_refused(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, settings: Any
) -> None:
    await tabs.ensure(1)
    settings(reuse_site_sessions=True)
    site.direct_battle_turns = 1  # the second follow-up meets "expected a BATTLE turn"
    messages: list[dict[str, Any]] = []
    answers = []
    for i in range(3):
        messages.append({"role": "user", "content": f"turn {i}"})
        done = await client.chat.completions.create(model="echo-model", messages=messages)
        answers.append(done.choices[0].message.content)
        messages.append({"role": "assistant", "content": answers[-1]})
    # Turn 1 continued the site's conversation with only the new text; turn 2 was refused
    # there and went out whole as a new conversation, unseen by the client.
    assert answers[:2] == ["Echo: turn 0", "Echo: turn 1"]
    assert answers[2] == ("Echo: User: turn 0\n\nAssistant: Echo: turn 0\n\nUser: turn 1"
                          "\n\nAssistant: Echo: turn 1\n\nUser: turn 2")
    first = site.create_requests[0].body["id"]
    assert [(r.path.split("/")[3], r.status) for r in site.evaluation_requests] == [
        ("create-evaluation", 200), ("post-to-evaluation", 200), ("post-to-evaluation", 400),
        ("create-evaluation", 200)]
    assert all(r.body["id"] == first for r in site.post_requests)
    assert all(c.ok for c in site.recaptcha_checks)


@pytest.mark.parametrize("side", ["A", "B"])
async def test_battle_pseudo_model_answers_with_the_configured_side(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, settings: Any, side: str
) -> None:
    await tabs.ensure(1)
    settings(battle_side=side)
    text, finish = await stream_text(client, "battle", user("who are you?"))
    assert (text, finish) == (f"{side}: Echo: who are you?", "stop")
    (req,) = site.create_requests
    assert req.status == 200 and req.body["mode"] == "battle"
    assert "modelAId" not in req.body and "modelBMessageId" in req.body


async def test_concurrent_requests_each_mint_their_own_token(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    site.chunking = Chunking(delay=0.01)
    prompts = [f"parallel {i} ✓" for i in range(5)]
    results = await asyncio.gather(*(stream_text(client, "echo-model", user(p))
                                     for p in prompts))
    assert [text for text, _ in results] == [f"Echo: {p}" for p in prompts]
    reqs = site.create_requests
    assert sorted(r.user_content or "" for r in reqs) == sorted(prompts)
    tokens = [r.body["recaptchaV3Token"] for r in reqs]
    assert len(set(tokens)) == 5
    assert len(site.recaptcha_checks) == 5 and all(c.ok for c in site.recaptcha_checks)
    assert len({r.body["id"] for r in reqs}) == 5


async def test_client_hang_up_aborts_the_fetch_and_stops_the_model(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    site.chunking = Chunking(delay=0.1)
    stream = await client.chat.completions.create(
        model="echo-model", messages=user("long " * 60), stream=True)
    seen = 0
    async for chunk in stream:
        seen += bool(chunk.choices and chunk.choices[0].delta.content)
        if seen >= 2:
            break
    await stream.close()
    closed_at = asyncio.get_running_loop().time()
    (req,) = site.create_requests
    await wait_for(lambda: bool(site.stop_requests), 2, what="the stop request")
    await wait_for(lambda: req.ended_at is not None, 2, what="the site connection to close")
    assert asyncio.get_running_loop().time() - closed_at < 2
    # Whichever reaches the site first ends the answer: the aborted fetch or the stop call.
    assert req.disconnected or req.stopped
    (stop,) = site.stop_requests
    assert stop.method == "POST" and stop.status == 200
    assert stop.path == (f"/nextjs-api/stream/stop/{req.body['id']}"
                         f"/messages/{req.body['userMessageId']}")

    site.chunking = Chunking()
    text, _ = await stream_text(client, "echo-model", user("next one"))
    assert text == "Echo: next one"


async def test_heartbeats_keep_a_slow_answer_alive_and_add_no_text(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, settings: Any
) -> None:
    await tabs.ensure(1)
    # Longer gaps between text than the bridge allows between chunks: only the site's
    # heartbeat lines (every 0.2 s) keep the answer alive.
    settings(stream_response_timeout_seconds=0.6)
    site.heartbeat_interval = 0.2
    site.chunking = Chunking(delay=0.8)
    site.chars_per_delta = 9
    text, finish = await stream_text(client, "echo-model", user("slow thinker"))
    assert (text, finish) == ("Echo: slow thinker", "stop")
    assert site.create_requests[-1].completed


async def test_rejected_token_is_retried_then_reported(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, settings: Any
) -> None:
    await tabs.ensure(1)
    site.fail_recaptcha(1)
    done = await client.chat.completions.create(model="echo-model", messages=user("retry me"))
    assert done.choices[0].message.content == "Echo: retry me"
    assert [r.status for r in site.create_requests] == [403, 200]
    assert [c.reason for c in site.recaptcha_checks] == ["forced failure", "ok"]

    site.requests.clear()
    site.fail_recaptcha(2)
    # Without the visible v2 check (0 turns it off; tests/e2e/test_human_checks.py has it)
    # the tab reports the rejection at once.
    settings(human_check_timeout_seconds=0)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=user("fail me"))
    assert caught.value.status_code == 503
    assert caught.value.code == "recaptcha_failed"
    assert [r.status for r in site.create_requests] == [403, 403]


async def test_no_recaptcha_in_the_page_gives_recaptcha_unavailable(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, reload_after: None
) -> None:
    (page,) = await tabs.ensure(1)
    site.recaptcha_mode = "unavailable"  # e.g. a blocker keeps Google's script out
    await page.reload()
    await tabs.wait_ready()
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=user("hi"))
    assert caught.value.status_code in (502, 503)
    assert caught.value.code == "recaptcha_unavailable"
    assert site.evaluation_requests == []  # no token, no site request


async def test_page_without_the_script_gets_it_injected(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, reload_after: None
) -> None:
    (page,) = await tabs.ensure(1)
    site.page_has_recaptcha_script = False
    await page.reload()
    await tabs.wait_ready()
    selector = 'script[src*="recaptcha/enterprise.js"]'
    assert await page.locator(selector).count() == 0
    done = await client.chat.completions.create(model="echo-model", messages=user("inject"))
    assert done.choices[0].message.content == "Echo: inject"
    src = await page.get_attribute(selector, "src")
    assert src == f"https://www.google.com/recaptcha/enterprise.js?render={site.recaptcha_sitekey}"
    assert site.recaptcha_checks[-1].ok


async def test_tab_on_lmarena_reports_wrong_origin_and_gets_no_job(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, context: Any, client: openai.AsyncOpenAI
) -> None:
    (ready,) = await tabs.ensure(1)
    other = await context.browser.new_context(ignore_https_errors=True)
    try:
        await other.add_init_script(script=userscript_for(bridge.url))
        # lmarena.ai only redirects now; a tab can still show a page from before the move.
        await other.route(f"{LEGACY_SITE}/**", lambda route: route.fulfill(
            status=200, content_type="text/html",
            body="<!DOCTYPE html><title>LMArena</title><main>old page</main>"))
        # Served that way the page is not on loopback: the user allows the local connection.
        await other.grant_permissions(["local-network-access"], origin=LEGACY_SITE)
        page = await other.new_page()
        await page.goto(f"{LEGACY_SITE}/?tab=old-origin")
        pool = bridge.app.state.bridge.pool
        await wait_for(lambda: any(w.state == "wrong_origin" for w in pool.workers.values()), 10,
                       what="a wrong_origin worker")
        (worker,) = [w for w in pool.workers.values() if w.state == "wrong_origin"]
        assert worker.page.startswith(LEGACY_SITE)
        for i in range(3):
            done = await client.chat.completions.create(model="echo-model",
                                                        messages=user(f"where {i}"))
            assert done.choices[0].message.content == f"Echo: where {i}"
        assert {tabs.tab_of(r.headers.get("referer")) for r in site.create_requests} == {
            tabs.name_of(ready)}
        assert all(r.headers["origin"] == SITE for r in site.requests if r.method == "POST")
    finally:
        await other.close()
    await tabs.wait_ready()


async def test_an_empty_answer_is_tried_once_more_then_a_502(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    # The site's known failure: HTTP 200, a stream with no text. One more evaluation is sent
    # (fresh ids); two empty answers in a row end in 502 empty_response, whose advice fits
    # the create strategy (no ids to capture).
    await tabs.ensure(1)
    site.empty_answers(1)
    done = await client.chat.completions.create(model="echo-model", messages=user("again"))
    assert done.choices[0].message.content == "Echo: again"
    first, second = site.create_requests[-2:]
    assert first.body["id"] != second.body["id"]
    site.empty_answers(2)
    with pytest.raises(openai.InternalServerError) as err:
        await client.chat.completions.create(model="echo-model", messages=user("never"))
    assert err.value.status_code == 502 and err.value.code == "empty_response"
    assert "capture" not in err.value.message and "known site failure" in err.value.message
    assert site.limits.empty == 0
