"""End to end: when the site needs a person (README "When the site needs you").

real openai SDK -> real bridge -> our userscript in headless Chromium on https://arena.ai ->
the site emulator in a low reCAPTCHA score mode, where only a v2 token from the visible
widget passes. Playwright plays the person: it clicks the fake widget
(``#emulator-recaptcha-v2-checkbox``) in the overlay the userscript shows. The monitor is
opened in a context of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.site_emulator import V2_CHECKBOX_ID, EmulatorState, wait_for

from .conftest import SITE, Bridge, Tabs

OVERLAY = "#lmarena-bridge-human-check"
CHECKBOX = f"{OVERLAY} #{V2_CHECKBOX_ID}"
CANCEL = "#lmarena-bridge-human-cancel"
HUMAN_BADGE = "🙋"
MIN_SCREENSHOT_BYTES = 10 * 1024


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def stream_text(client: openai.AsyncOpenAI, text: str) -> str:
    stream = await client.chat.completions.create(
        model="echo-model", messages=user(text), stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


def pool_of(bridge: Bridge) -> Any:
    return bridge.app.state.bridge.pool


def worker_for(bridge: Bridge, page: Any) -> Any:
    (worker,) = [w for w in pool_of(bridge).workers.values() if w.page == page.url]
    return worker


def metric(bridge: Bridge, name: str, **labels: str) -> float:
    text = bridge.app.state.bridge.metrics.render().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
async def monitor(browser: Any, bridge: Bridge) -> AsyncIterator[Any]:
    """The bridge's /monitor, live, in a browser context without the userscript."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await page.goto(f"{bridge.url}/monitor")
    await page.wait_for_selector('[data-testid="connection"]:has-text("live")')
    yield page
    await ctx.close()


async def test_low_score_the_person_clicks_and_the_client_gets_its_answer(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI,
    settings: Any,
) -> None:
    (page,) = await tabs.ensure(1)
    # The person takes longer than the first-byte timer allows: the wait must not count.
    settings(first_byte_timeout_seconds=1.5)
    site.recaptcha_mode = "low_score"
    solved_before = metric(bridge, "lmarena_bridge_human_check_outcomes_total",
                           outcome="solved", reason="recaptcha")
    prompt = "needs a person ✓"
    request = asyncio.create_task(stream_text(client, prompt))

    await page.locator(OVERLAY).wait_for(state="visible", timeout=10_000)
    assert "reCAPTCHA" in await page.locator(OVERLAY).inner_text() or \
        "check" in await page.locator(OVERLAY).inner_text()
    worker = worker_for(bridge, page)
    await wait_for(lambda: worker.human_reason == "recaptcha", 5, what="needs_human")
    assert worker.health == "needs_human" and pool_of(bridge).ready_count == 0
    await page.wait_for_function(f"document.title.includes({HUMAN_BADGE!r})")
    await asyncio.sleep(2.0)
    await page.click(CHECKBOX)

    assert await asyncio.wait_for(request, 15) == "Echo: " + prompt
    first, again, resent = site.create_requests
    assert [r.status for r in (first, again, resent)] == [403, 403, 200]
    # The same body and ids, the v2 token instead of a v3 one (as the site's page does).
    assert "recaptchaV3Token" not in resent.body and resent.body["recaptchaV2Token"]
    assert {r.body["id"] for r in (first, again, resent)} == {first.body["id"]}
    assert [(c.kind, c.reason) for c in site.recaptcha_checks] == [
        ("v3", "low score"), ("v3", "low score"), ("v2", "ok")]
    await page.locator(OVERLAY).wait_for(state="detached", timeout=5_000)
    await tabs.wait_ready()
    assert HUMAN_BADGE not in await page.title()
    assert metric(bridge, "lmarena_bridge_human_check_outcomes_total", outcome="solved",
                  reason="recaptcha") == solved_before + 1


async def test_the_v2_token_refused_too_is_recaptcha_failed(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI
) -> None:
    (page,) = await tabs.ensure(1)
    site.recaptcha_mode = "v2_fails"
    request = asyncio.create_task(
        client.chat.completions.create(model="echo-model", messages=user("no luck")))
    await page.click(CHECKBOX, timeout=10_000)
    with pytest.raises(openai.APIStatusError) as caught:
        await request
    assert caught.value.status_code == 503 and caught.value.code == "recaptcha_failed"
    assert f"tab {worker_for(bridge, page).id}" in caught.value.message
    assert [r.status for r in site.create_requests] == [403, 403, 403]  # one v2 resend only
    await page.locator(OVERLAY).wait_for(state="detached")
    await tabs.wait_ready()


async def test_nobody_comes_503_names_the_tab_and_the_overlay_goes(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI,
    settings: Any,
) -> None:
    (page,) = await tabs.ensure(1)
    settings(human_check_timeout_seconds=2)
    site.recaptcha_mode = "low_score"
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=user("anyone?"))
    err = caught.value
    assert err.status_code == 503 and err.code == "human_check_timeout"
    worker = worker_for(bridge, page)
    assert f"tab {worker.id} ({page.url})" in err.message
    assert "solve the reCAPTCHA check" in err.message
    await page.locator(OVERLAY).wait_for(state="detached", timeout=5_000)
    await tabs.wait_ready()
    assert len(site.create_requests) == 2  # nothing went out without a person


async def test_cancel_in_the_page_fails_the_request_cleanly(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI
) -> None:
    (page,) = await tabs.ensure(1)
    site.recaptcha_mode = "low_score"
    request = asyncio.create_task(
        client.chat.completions.create(model="echo-model", messages=user("not now")))
    await page.click(CANCEL, timeout=10_000)
    with pytest.raises(openai.APIStatusError) as caught:
        await request
    assert caught.value.status_code == 503 and caught.value.code == "human_check_cancelled"
    await page.locator(OVERLAY).wait_for(state="detached")
    await tabs.wait_ready()
    site.reset()
    assert await stream_text(client, "after cancel") == "Echo: after cancel"


async def test_a_job_that_meets_a_check_moves_to_the_other_tab(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI
) -> None:
    pages = await tabs.ensure(2)
    moved_before = metric(bridge, "lmarena_bridge_human_check_outcomes_total",
                          outcome="moved", reason="recaptcha")
    site.fail_recaptcha(2)  # the first tab's two v3 tokens; the other tab's pass
    assert await stream_text(client, "move me") == "Echo: move me"
    reqs = site.create_requests
    assert [r.status for r in reqs] == [403, 403, 200]
    first_tab = tabs.tab_of(reqs[0].headers.get("referer"))
    assert tabs.tab_of(reqs[1].headers.get("referer")) == first_tab
    assert tabs.tab_of(reqs[2].headers.get("referer")) != first_tab
    assert reqs[2].body["id"] != reqs[0].body["id"]  # a new attempt gets new ids
    assert metric(bridge, "lmarena_bridge_human_check_outcomes_total", outcome="moved",
                  reason="recaptcha") == moved_before + 1
    for page in pages:
        assert await page.locator(OVERLAY).count() == 0
    await tabs.wait_ready()


async def test_two_tabs_new_requests_go_to_the_other_the_waiting_one_resumes(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI,
    context: Any,
) -> None:
    (waiting_page,) = await tabs.ensure(1)
    site.fail_recaptcha(2)
    waiting = asyncio.create_task(stream_text(client, "I wait for a person"))
    await waiting_page.locator(OVERLAY).wait_for(state="visible", timeout=10_000)

    # Another tab opens meanwhile (nothing could take the job when the check came).
    other = await context.new_page()
    tabs.pages.append(other)
    await other.goto(f"{SITE}/?tab=other-{id(other)}")
    await wait_for(lambda: pool_of(bridge).ready_count == 1, 10, what="the other tab")
    for i in range(2):
        assert await stream_text(client, f"meanwhile {i}") == f"Echo: meanwhile {i}"
    later = [r for r in site.create_requests if (r.user_content or "").startswith("meanwhile")]
    assert {tabs.tab_of(r.headers.get("referer")) for r in later} == {tabs.name_of(other)}
    assert not waiting.done()

    await waiting_page.click(CHECKBOX)
    assert await asyncio.wait_for(waiting, 15) == "Echo: I wait for a person"
    resent = site.create_requests[-1]
    assert tabs.tab_of(resent.headers.get("referer")) == tabs.name_of(waiting_page)
    await tabs.wait_ready()


async def test_monitor_banner_names_the_tab_and_brings_it_forward(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI,
    monitor: Any, tmp_path: Path,
) -> None:
    (page,) = await tabs.ensure(1)
    site.recaptcha_mode = "low_score"
    request = asyncio.create_task(stream_text(client, "show me on the monitor"))
    await page.locator(OVERLAY).wait_for(state="visible", timeout=10_000)

    banner = monitor.locator('[data-testid="human-banner"]')
    await banner.wait_for(state="visible", timeout=5_000)
    worker = worker_for(bridge, page)
    text = await banner.inner_text()
    assert f"Tab {worker.id} needs you: solve the reCAPTCHA check shown in that tab" in text
    assert page.url in text
    shot = tmp_path / "monitor-human-banner.png"
    await monitor.screenshot(path=str(shot))
    assert shot.stat().st_size > MIN_SCREENSHOT_BYTES
    assert await banner.is_visible()
    print(f"monitor screenshot: {shot}")

    await monitor.locator('[data-testid="focus-tab"]').click()
    await page.wait_for_function(
        "document.documentElement.dataset.lmarenaBridgeAttention === 'on'", timeout=5_000)
    tab_shot = tmp_path / "tab-overlay.png"
    await page.screenshot(path=str(tab_shot))
    print(f"tab screenshot: {tab_shot}")

    await page.click(CHECKBOX)
    assert await asyncio.wait_for(request, 15) == "Echo: show me on the monitor"
    await banner.wait_for(state="hidden", timeout=5_000)
    await tabs.wait_ready()


async def test_challenge_shows_in_the_banner_and_recovers_by_itself(
    site: EmulatorState, tabs: Tabs, bridge: Bridge, client: openai.AsyncOpenAI,
    monitor: Any, tmp_path: Path,
) -> None:
    (page,) = await tabs.ensure(1)
    site.challenge_active = True
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=user("hi"))
    assert caught.value.status_code == 503 and caught.value.code == "cloudflare_challenge"
    await page.wait_for_function("document.title.includes('Just a moment')", timeout=5_000)

    banner = monitor.locator('[data-testid="human-banner"]')
    await banner.wait_for(state="visible", timeout=5_000)
    assert "complete the Cloudflare check in that tab" in await banner.inner_text()
    await page.wait_for_function(f"document.title.includes({HUMAN_BADGE!r})")
    await monitor.screenshot(path=str(tmp_path / "monitor-challenge.png"))

    site.solve_challenge()  # the challenge page reloads itself, like Turnstile
    await tabs.wait_ready()
    await banner.wait_for(state="hidden", timeout=5_000)
    assert await stream_text(client, "after the check") == "Echo: after the check"
    assert metric(bridge, "lmarena_bridge_human_check_resolve_seconds_count",
                  reason="challenge") >= 1


async def test_the_v2_sitekey_comes_from_the_page_else_from_config(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI, settings: Any
) -> None:
    (page,) = await tabs.ensure(1)
    site.recaptcha_mode = "low_score"
    try:
        # From config (sent in hello_ack, so the tab reloads to get it).
        settings(recaptcha_v2_sitekey="6Lc-configured-v2-key")
        site.recaptcha_v2_sitekey = "6Lc-configured-v2-key"
        await page.reload()
        await tabs.wait_ready()
        request = asyncio.create_task(stream_text(client, "configured key"))
        await page.click(CHECKBOX, timeout=10_000)
        assert await asyncio.wait_for(request, 15) == "Echo: configured key"
        assert site.recaptcha_mints[-1].sitekey == "6Lc-configured-v2-key"

        # From the page's own v2 markup, before config (the fake grecaptcha knows the key
        # it was loaded with, so the page loads again).
        site.recaptcha_v2_sitekey = "6Lc-page-v2-key"
        await page.reload()
        await tabs.wait_ready()
        await page.evaluate("""() => {
            const el = document.createElement('div');
            el.className = 'g-recaptcha';
            el.dataset.sitekey = '6Lc-page-v2-key';
            document.body.appendChild(el);
        }""")
        request = asyncio.create_task(stream_text(client, "page key"))
        await page.click(CHECKBOX, timeout=10_000)
        assert await asyncio.wait_for(request, 15) == "Echo: page key"
        assert site.recaptcha_mints[-1].sitekey == "6Lc-page-v2-key"
    finally:
        settings(recaptcha_v2_sitekey="")
        site.reset()
        await page.reload()
        await tabs.wait_ready()
