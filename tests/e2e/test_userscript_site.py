"""End to end: openai SDK -> bridge -> WebSocket -> userscript in Chromium -> emulated site.

The tests run in file order and share one browser; each leaves its tabs connected.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import json5
import openai
import pytest

from tests.site_emulator import IMAGE_MODEL_ID, TEXT_MODEL_ID, Chunking, EmulatorState, wait_for

from .conftest import HEARTBEAT_SECONDS, SITE, Bridge, Tabs, userscript_for

# Everything a text path can break: quotes, backslashes (and a literal "\n"), real
# newlines, emoji (4-byte UTF-8, a ZWJ/skin-tone sequence), CJK, U+2028, combining marks.
TRICKY = (
    'He said "hi" \\ and \\n is not a newline\nreal newline, emoji 😀👍🏽👩‍💻, '
    "CJK 你好世界, line sep\u2028para sep\u2029end, é ß 𝄞 a\u0301"
)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

CHUNKINGS = {
    "line-per-write": Chunking(),
    "utf8-split": Chunking(split_utf8=True, split_lines=True, delay=0.003),
    "coalesced": Chunking(lines_per_write=4, split_utf8=True, delay=0.003),
}


async def stream_text(client: openai.AsyncOpenAI, model: str, messages: list[dict[str, Any]],
                      **kw: Any) -> tuple[str, str | None]:
    stream = await client.chat.completions.create(model=model, messages=messages, stream=True,
                                                  **kw)
    text, finish = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    return text, finish


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def request_with(site: EmulatorState, marker: str) -> Any:
    """The logged retry request whose messages contain ``marker``."""
    found = [r for r in site.retry_requests
             if any(marker in (m.get("content") or "") for m in r.messages)]
    assert found, f"no site request carried {marker!r}"
    return found[-1]


async def test_bridge_serves_the_userscript_with_its_address(bridge: Bridge) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{bridge.url}/userscript.user.js")
    assert r.status_code == 200
    assert f'const BRIDGE_URL = "{bridge.url}";' in r.text
    assert f"@downloadURL  {bridge.url}/userscript.user.js" in r.text
    assert "127.0.0.1:5102" not in r.text


async def test_tab_answers_heartbeats_and_stays_connected(tabs: Tabs, bridge: Bridge) -> None:
    await tabs.ensure(1)
    pool = bridge.app.state.bridge.pool
    before = set(pool.workers)
    # The bridge drops a worker after three missed pongs; the tab reconnects after three
    # silent intervals. Either would change the worker ids.
    await asyncio.sleep(4 * HEARTBEAT_SECONDS)
    assert set(pool.workers) == before


@pytest.mark.parametrize("chunking", list(CHUNKINGS), ids=list(CHUNKINGS))
async def test_answer_text_is_exact(
    chunking: str, site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    site.chunking = CHUNKINGS[chunking]
    expected = "Echo: " + TRICKY

    text, finish = await stream_text(client, "echo-model", user(TRICKY))
    assert text == expected
    assert finish == "stop"

    done = await client.chat.completions.create(model="echo-model", messages=user(TRICKY))
    assert done.choices[0].message.content == expected
    assert done.choices[0].finish_reason == "stop"
    assert all(r.completed for r in site.retry_requests)


async def test_site_request_carries_the_conversation(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": TRICKY},
    ]
    done = await client.chat.completions.create(model="echo-model", messages=messages)
    assert done.choices[0].message.content == "Echo: " + TRICKY

    (req,) = site.retry_requests
    direct = site.direct_session
    assert req.method == "PUT"
    assert req.path == (f"/nextjs-api/stream/retry-evaluation-session-message/{direct.id}"
                        f"/messages/{direct.assistant('a').id}")
    # Sent like the site's own fetch: no headers set, the page's cookies, same origin.
    assert req.headers["content-type"] == "text/plain;charset=UTF-8"
    assert req.headers["origin"] == "https://lmarena.ai"
    assert "arena-auth-prod-v1" in req.cookies
    assert req.body["modelId"] == TEXT_MODEL_ID

    sent = req.messages
    # Tavern mode merged the system prompts in front; bypass appended a blank user turn.
    assert [(m["role"], m["content"]) for m in sent] == [
        ("system", "Be terse.\n\nBe kind."),
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", TRICKY),
        ("user", " "),
    ]
    assert [m["participantPosition"] for m in sent] == ["b", "a", "a", "a", "a"]
    assert [m["status"] for m in sent] == ["success"] * 4 + ["pending"]
    ids = [m["id"] for m in sent]
    assert all(UUID.match(i) for i in ids) and len(set(ids)) == len(ids)
    assert [m["parentMessageIds"] for m in sent] == [[], *([i] for i in ids[:-1])]
    assert {m["evaluationSessionId"] for m in sent} == {direct.id}
    assert all(m["experimental_attachments"] == [] for m in sent)

    # The next request gets fresh ids.
    await client.chat.completions.create(model="echo-model", messages=user("again"))
    assert not set(ids) & {m["id"] for m in site.retry_requests[-1].messages}


async def test_image_model_request_and_answer(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    done = await client.chat.completions.create(model="image-model", messages=user("a cat"))
    assert "https://images.emulator.test/" in (done.choices[0].message.content or "")
    req = site.retry_requests[-1]
    assert req.body["modelId"] == IMAGE_MODEL_ID
    # Image requests: every message done, no bypass turn.
    assert [(m["content"], m["status"]) for m in req.messages] == [("a cat", "success")]


async def test_battle_mode_target_b(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    messages = [{"role": "system", "content": "sys"}, *user("who are you?")]
    text, finish = await stream_text(client, "battle-model", messages)
    assert text == "B: Echo: who are you?"  # side b only, though the stream interleaves a/b
    assert finish == "stop"
    req = site.retry_requests[-1]
    battle = site.battle_session
    assert req.path.endswith(f"/{battle.id}/messages/{battle.assistant('b').id}")
    assert {m["participantPosition"] for m in req.messages} == {"b"}


async def test_two_tabs_share_requests_and_survive_one_closing(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    first, second = await tabs.ensure(2)
    site.chunking = Chunking(delay=0.01)
    prompts = [f"concurrent {i} 😀" for i in range(6)]
    results = await asyncio.gather(*(stream_text(client, "echo-model", user(p)) for p in prompts))
    assert [text for text, _ in results] == [f"Echo: {p}" for p in prompts]
    used = {tabs.tab_of(request_with(site, p).headers.get("referer")) for p in prompts}
    assert used == {tabs.name_of(first), tabs.name_of(second)}

    # Four slow answers spread over both tabs; the second tab closes mid-answer.
    site.requests.clear()
    site.chunking = Chunking(delay=0.05)
    long = [f"slow {i} " + "word " * 30 for i in range(4)]
    progress: dict[str, str] = {}

    async def consume(prompt: str) -> str | Exception:
        try:
            stream = await client.chat.completions.create(
                model="echo-model", messages=user(prompt), stream=True)
            async for chunk in stream:
                if chunk.choices:
                    progress[prompt] = progress.get(prompt, "") + (
                        chunk.choices[0].delta.content or "")
            return progress.get(prompt, "")
        except openai.APIError as exc:
            return exc

    tasks = [asyncio.create_task(consume(p)) for p in long]
    await wait_for(lambda: len(progress) == len(long), 10, what="all answers streaming")
    await second.close()
    outcome = dict(zip(long, await asyncio.gather(*tasks), strict=True))

    by_tab = {p: tabs.tab_of(request_with(site, p).headers.get("referer")) for p in long}
    survivors = [p for p in long if by_tab[p] == tabs.name_of(first)]
    assert survivors and len(survivors) < len(long)
    for prompt in long:
        if prompt in survivors:
            assert outcome[prompt] == f"Echo: {prompt}"
        else:  # the closed tab's answers end with an error, not a silent cut
            assert isinstance(outcome[prompt], openai.APIError), outcome[prompt]
    # The remaining tab keeps serving.
    text, _ = await stream_text(client, "echo-model", user("still here"))
    assert text == "Echo: still here"


async def test_client_hang_up_aborts_the_tab_fetch(
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
    req = site.retry_requests[-1]
    await wait_for(lambda: req.ended_at is not None, 5, what="the site connection to close")
    assert req.disconnected and not req.completed

    site.chunking = Chunking()
    text, _ = await stream_text(client, "echo-model", user("next one"))
    assert text == "Echo: next one"


async def test_cloudflare_challenge_gives_503_refreshes_once_and_recovers(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    (page,) = await tabs.ensure(1)
    loads_before = len(site.page_loads)
    site.challenge_active = True

    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=user("hi"))
    assert caught.value.status_code == 503
    assert caught.value.code == "cloudflare_challenge"

    # The bridge reloads the tab once; the reload shows the challenge page.
    await wait_for(lambda: len(site.page_loads) > loads_before, 5, what="the refresh")
    await page.wait_for_function("document.title.includes('Just a moment')", timeout=5000)
    # While challenged, no tab is usable: a clear 503 (after the short queue wait).
    with pytest.raises(openai.APIStatusError) as waiting:
        await client.chat.completions.create(model="echo-model", messages=user("hi"))
    assert waiting.value.status_code == 503
    assert len(site.page_loads) == loads_before + 1  # refreshed once, not in a loop

    site.solve_challenge()  # the challenge page reloads itself, like Turnstile
    await tabs.wait_ready()
    text, _ = await stream_text(client, "echo-model", user("after the check"))
    assert text == "Echo: after the check"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("too_large", 413, "attachment_too_large"),
        ("content_policy", 400, "content_policy_violation"),
        ("rate_limit", 429, "rate_limit_exceeded"),
        ("unauthorized", 403, "site_session_rejected"),
    ],
)
async def test_site_errors_become_openai_errors(
    case: str, status: int, code: str,
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI,
) -> None:
    await tabs.ensure(1)
    model, prompt = "echo-model", "hello"
    if case == "too_large":
        site.max_body_bytes = 4000  # the real size check, not an injected failure
        prompt = "x" * 5000
    elif case == "rate_limit":
        site.fail_next("rate_limit", retry_after=17)
    elif case == "content_policy":
        site.fail_next("content_policy")
    else:
        model = "foreign-model"  # a session of another account: the site's real 401

    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model=model, messages=user(prompt))
    assert caught.value.status_code == status
    assert caught.value.code == code
    if case == "rate_limit":
        assert caught.value.response.headers.get("retry-after") == "17"
    assert site.retry_requests[-1].status == {"too_large": 413, "content_policy": 422,
                                              "rate_limit": 429, "unauthorized": 401}[case]
    # A failed request leaves the tab usable.
    assert (await client.chat.completions.create(
        model="echo-model", messages=user("ok"))).choices[0].message.content == "Echo: ok"


async def test_tab_reload_mid_answer_fails_it_and_tab_comes_back(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    (page,) = await tabs.ensure(1)
    site.chunking = Chunking(delay=0.05)
    stream = await client.chat.completions.create(
        model="echo-model", messages=user("reload " * 60), stream=True)
    received = ""
    reload: asyncio.Task[Any] | None = None
    with pytest.raises(openai.APIError):  # ends with an error, not a silent "stop"
        async for chunk in stream:
            if chunk.choices:
                received += chunk.choices[0].delta.content or ""
            if reload is None and len(received) > 16:
                reload = asyncio.create_task(page.reload())
    assert reload is not None
    await reload
    assert received.startswith("Echo: reload")
    req = site.retry_requests[-1]
    await wait_for(lambda: req.ended_at is not None, 5, what="the site connection to close")
    assert req.disconnected

    site.chunking = Chunking()
    await tabs.wait_ready()
    text, _ = await stream_text(client, "echo-model", user("after reload"))
    assert text == "Echo: after reload"


async def test_logged_out_tab_gets_no_jobs(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, context: Any, client: openai.AsyncOpenAI
) -> None:
    (ready,) = await tabs.ensure(1)
    site.auto_login = False  # a fresh browser profile without the auth cookie stays logged out
    other = await context.browser.new_context(ignore_https_errors=True)
    try:
        await other.add_init_script(script=userscript_for(bridge.url))
        page = await other.new_page()
        await page.goto(f"{SITE}/?tab=logged-out")
        pool = bridge.app.state.bridge.pool
        await wait_for(lambda: any(w.state == "logged_out" for w in pool.workers.values()), 5,
                       what="a logged_out worker")
        for i in range(3):
            done = await client.chat.completions.create(model="echo-model", messages=user(f"{i}"))
            assert done.choices[0].message.content == f"Echo: {i}"
        assert {tabs.tab_of(r.headers.get("referer")) for r in site.retry_requests} == {
            tabs.name_of(ready)}
    finally:
        await other.close()
    await tabs.wait_ready()


async def internal_post(bridge: Bridge, path: str) -> httpx.Response:
    # Same-origin rules of the bridge: a local tool sends no Origin header.
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{bridge.url}{path}")
    if r.status_code in (404, 405):
        pytest.skip(f"the bridge has no {path} yet")
    return r


async def test_id_capture_reports_the_clicked_message(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI
) -> None:
    (page,) = await tabs.ensure(1)
    home = page.url
    battle = site.battle_session
    await page.goto(f"{SITE}/c/{battle.id}?tab={tabs.name_of(page)}")
    await tabs.wait_ready()
    started = (await internal_post(bridge, "/internal/start_id_capture")).json()
    await page.wait_for_function("document.title.includes('🎯')", timeout=5000)
    # The bridge's own requests never trigger the capture, even while it is armed.
    done = await client.chat.completions.create(model="echo-model", messages=user("armed"))
    assert done.choices[0].message.content == "Echo: armed"
    assert "🎯" in await page.title()

    await page.click("#retry-btn-b")  # what the user does: Retry on side B's answer
    await page.wait_for_function("!document.title.includes('🎯')", timeout=5000)
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{bridge.url}/internal/id_capture/{started['capture_id']}",
                           params={"wait": 5})
    assert r.json()["status"] == "captured"
    assert (r.json()["session_id"], r.json()["message_id"]) == (
        battle.id, battle.assistant("b").id)
    # The page's own retry went through untouched.
    own = site.retry_requests[-1]
    assert own.path.endswith(f"/{battle.id}/messages/{battle.assistant('b').id}")
    assert own.body["modelId"] is None
    await page.wait_for_function("document.querySelector('#retry-btn-b').dataset.done === 'ok'")
    shown = await page.text_content(".message.assistant[data-position='b'] .content")
    assert shown == "B: Echo: " + battle.messages[0].content
    await page.goto(home)
    await tabs.wait_ready()


@pytest.mark.parametrize("variant", ["initialModels", "initialState"])
async def test_model_update_reads_the_page(
    variant: str, site: EmulatorState, tabs: Tabs, bridge: Bridge
) -> None:
    (page,) = await tabs.ensure(1)
    site.page_variant = variant  # type: ignore[assignment]
    await page.reload()
    await tabs.wait_ready()
    target = bridge.config_dir / "available_models.json"
    target.write_text("[]", encoding="utf-8")
    r = await internal_post(bridge, "/internal/request_model_update")
    assert r.status_code == 200, r.text

    def ids() -> set[str]:
        try:
            data = json5.loads(target.read_text(encoding="utf-8"))
        except ValueError:
            return set()  # caught mid-write
        models = data.get("models", data) if isinstance(data, dict) else data
        return {m.get("id") for m in models if isinstance(m, dict)}

    await wait_for(lambda: {m["id"] for m in site.models} <= ids(), 5,
                   what="available_models.json with the page's models")
