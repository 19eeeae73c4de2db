"""End to end: openai SDK -> bridge -> WebSocket -> userscript in Chromium -> emulated site.

The bridge runs its default strategy ("create": a new site conversation per request, a
fresh reCAPTCHA token minted in the tab); test_legacy_retry.py covers the "retry" strategy
and test_site_2026.py the 2026 site's own rules. The tests run in file order and share one
browser; each leaves its tabs connected.
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
from tests.site_emulator import evaluation as emulator_evaluation

from .conftest import HEARTBEAT_SECONDS, SITE, Bridge, Tabs, userscript_for

# Everything a text path can break: quotes, backslashes (and a literal "\n"), real
# newlines, emoji (4-byte UTF-8, a ZWJ/skin-tone sequence), CJK, U+2028, combining marks.
TRICKY = (
    'He said "hi" \\ and \\n is not a newline\nreal newline, emoji 😀👍🏽👩‍💻, '
    "CJK 你好世界, line sep\u2028para sep\u2029end, é ß 𝄞 a\u0301"
)
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

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
    """The logged create request whose user message contains ``marker``."""
    found = [r for r in site.create_requests if marker in (r.user_content or "")]
    assert found, f"no site request carried {marker!r}"
    return found[-1]


async def test_bridge_serves_the_userscript_with_its_address(bridge: Bridge) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{bridge.url}/userscript.user.js")
    assert r.status_code == 200
    assert f'const BRIDGE_URL = "{bridge.url}";' in r.text
    assert f"@downloadURL  {bridge.url}/userscript.user.js" in r.text
    assert "127.0.0.1:5102" not in r.text
    assert "// @version      2.0.0" in r.text and 'const VERSION = "2.0.0";' in r.text
    assert "// @match        https://arena.ai/*" in r.text


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
    reqs = site.create_requests
    assert len(reqs) == 2 and all(r.completed and r.status == 200 for r in reqs)
    assert all(r.user_content == TRICKY for r in reqs)


async def test_site_request_is_built_like_the_site_does(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    done = await client.chat.completions.create(model="echo-model", messages=user(TRICKY))
    assert done.choices[0].message.content == "Echo: " + TRICKY

    (req,) = site.create_requests
    assert req.method == "POST" and req.path == "/nextjs-api/stream/create-evaluation"
    # Sent like the site's own fetch: no headers set, the page's cookies, same origin.
    assert req.host == "arena.ai" and req.headers["origin"] == SITE
    assert req.headers["content-type"] == "text/plain;charset=UTF-8"
    assert "arena-auth-prod-v1" in req.cookies
    body = dict(req.body)
    token = body.pop("recaptchaV3Token")
    ids = {k: body.pop(k) for k in ("id", "userMessageId", "modelAMessageId")}
    assert all(UUID7.match(i) for i in ids.values()) and len(set(ids.values())) == 3
    assert body == {"mode": "direct-battle", "modelAId": TEXT_MODEL_ID, "modality": "chat",
                    "userMessage": {"content": TRICKY, "experimental_attachments": [],
                                    "metadata": {}}}
    # A token minted in the page for this request, accepted once.
    (check,) = site.recaptcha_checks
    assert (check.token, check.action, check.ok) == (token, "chat_submit", True)
    assert [m.origin for m in site.recaptcha_mints] == [SITE]

    # The next request is a new site conversation with new ids and a new token.
    await client.chat.completions.create(model="echo-model", messages=user("again"))
    nxt = site.create_requests[-1]
    assert not set(ids.values()) & {nxt.body[k] for k in ids}
    assert nxt.body["recaptchaV3Token"] != token


async def test_image_model_request_and_answer(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    done = await client.chat.completions.create(model="image-model", messages=user("a cat"))
    assert "https://images.emulator.test/" in (done.choices[0].message.content or "")
    req = site.create_requests[-1]
    assert (req.body["modelAId"], req.body["modality"]) == (IMAGE_MODEL_ID, "image")
    assert req.user_content == "a cat"


async def test_battle_pseudo_model_answers_side_a(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    text, finish = await stream_text(client, "battle", user("who are you?"))
    assert text == "A: Echo: who are you?"  # side a only, though the stream interleaves a/b
    assert finish == "stop"
    body = site.create_requests[-1].body
    assert body["mode"] == "battle" and "modelAId" not in body
    assert UUID7.match(body["modelBMessageId"])


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
        ("logged_out", 503, "logged_out"),
        ("no_access", 403, "site_session_rejected"),
        ("prompt_failed", 400, "prompt_too_large"),
        ("schema_changed", 502, "site_schema_changed"),
        ("method_not_allowed", 503, "wrong_origin"),
    ],
)
async def test_site_errors_become_openai_errors(
    case: str, status: int, code: str, monkeypatch: pytest.MonkeyPatch,
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, bridge: Bridge,
) -> None:
    await tabs.ensure(1)
    prompt = "hello"
    site_status = {"too_large": 413, "content_policy": 422, "rate_limit": 429,
                   "logged_out": 401, "no_access": 401, "prompt_failed": 429,
                   "schema_changed": 400, "method_not_allowed": 405}[case]
    if case == "too_large":
        site.max_body_bytes = 4000  # the real size check, not an injected failure
        prompt = "x" * 5000
    elif case == "rate_limit":
        site.fail_next("rate_limit", retry_after=17)
    elif case == "content_policy":
        site.fail_next("content_policy")
    elif case == "logged_out":  # the site's answer once the tab's session cookie expired
        site.fail_next("unauthorized", message="Unauthorized: token expired")
    elif case == "no_access":
        site.fail_next("unauthorized")
    elif case == "prompt_failed":
        site.max_prompt_chars = 100  # the real check: 429 {"error":"prompt failed"}
        prompt = "y" * 101
    elif case == "schema_changed":
        # The site starts to require a field the bridge does not know: its Zod check fails.
        real = emulator_evaluation.evaluation_issues

        def stricter(body: Any, *args: Any, **kw: Any) -> list[dict[str, Any]]:
            issues = real(body, *args, **kw)
            if isinstance(body, dict) and "arenaVersion" not in body:
                issues.append({"code": "invalid_type", "expected": "string",
                               "received": "undefined", "path": ["arenaVersion"],
                               "message": "Required"})
            return issues

        monkeypatch.setattr(emulator_evaluation, "evaluation_issues", stricter)
    else:  # what a redirected POST turns into (the site moved once already)
        site.fail_next("server_error", status=405)

    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=user(prompt))
    assert caught.value.status_code == status
    assert caught.value.code == code
    if case == "schema_changed":
        assert "arenaVersion" in caught.value.message
    assert site.create_requests[-1].status == site_status
    monkeypatch.undo()
    if case == "rate_limit":
        assert caught.value.response.headers.get("retry-after") == "17"
        # The account rests for the site's retry-after: the next request is refused at once
        # without reaching the site; then the account is declared fine again.
        sent = len(site.create_requests)
        with pytest.raises(openai.RateLimitError) as resting:
            await client.chat.completions.create(model="echo-model", messages=user("ok"))
        assert int(resting.value.response.headers["retry-after"]) in (16, 17)
        assert len(site.create_requests) == sent
        bridge.app.state.bridge.pool.clear_accounts()
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
    req = site.create_requests[-1]
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
        assert {tabs.tab_of(r.headers.get("referer")) for r in site.create_requests} == {
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
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI,
    legacy_retry: None,
) -> None:
    # Captured ids serve the legacy retry strategy, whose own retry requests must not be
    # mistaken for the user's click.
    (page,) = await tabs.ensure(1)
    home = page.url
    battle = site.battle_session
    await page.goto(f"{SITE}/c/{battle.id}?tab={tabs.name_of(page)}")
    await tabs.wait_ready()
    started = (await internal_post(bridge, "/internal/start_id_capture")).json()
    await page.wait_for_function("document.title.includes('🎯')", timeout=5000)
    # The bridge's own requests never trigger the capture, even while it is armed.
    done = await client.chat.completions.create(model="echo-model", messages=user("armed"))
    assert done.choices[0].message.content  # the site answers its stored turn (legacy)
    assert len(site.retry_requests) == 1
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
    assert len(site.retry_requests) == 2
    assert own.path.endswith(f"/{battle.id}/messages/{battle.assistant('b').id}")
    assert own.body["modelId"] is None
    assert own.recaptcha is not None and own.recaptcha.ok
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
