"""The site's limits through the real parts: openai SDK → bridge → userscript in Chromium →
emulator. Two browser contexts are two accounts (each its own login cookie).

Windows and cooldowns are a few seconds long so the module stays fast.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import openai
import pytest

from tests.site_emulator import EmulatorState, wait_for
from tests.site_emulator.evaluation import uuid7_ms
from tests.site_emulator.state import AUTH_COOKIE

from .conftest import CONNECTED, SITE, Bridge, Tabs, userscript_for

Messages = list[dict[str, str]]


def hello(text: str = "hi") -> Any:
    return [{"role": "user", "content": text}]


async def ask(client: openai.AsyncOpenAI, text: str = "hi") -> str:
    done = await client.chat.completions.create(model="echo-model", messages=hello(text))
    return done.choices[0].message.content or ""


@pytest.fixture
async def second_account(browser: Any, bridge: Bridge, emulator: Any,
                         tabs: Tabs) -> AsyncIterator[Any]:
    """One tab of the shared context (the default user), and a tab in its own browser
    context signed in as another user of the emulator."""
    await tabs.ensure(1)
    state: EmulatorState = emulator.state
    ctx = await browser.new_context(ignore_https_errors=True)
    cookie = state.auth_cookie_for(state.other_user.id)
    await ctx.add_cookies([{"name": AUTH_COOKIE, "value": cookie, "domain": "arena.ai",
                            "path": "/", "secure": True}])
    await ctx.add_init_script(script=userscript_for(bridge.url))
    page = await ctx.new_page()
    await page.goto(f"{SITE}/?tab=b")
    await page.wait_for_function(f"document.title.includes({json.dumps(CONNECTED)})",
                                 timeout=10_000)
    yield page
    await ctx.close()


async def two_accounts(tabs: Tabs, bridge: Bridge, second_account: Any) -> None:
    pool = bridge.app.state.bridge.pool
    await wait_for(lambda: pool.ready_count == 2 and len(
        {w.account.key for w in pool.workers.values()}) == 2, 10, what="two accounts")


def users(site: EmulatorState) -> list[str | None]:
    return [r.user_id for r in site.evaluation_requests]


async def fresh_window(site: EmulatorState, window: float) -> float:
    """Wait for a new quota window to start (on the site's clock); its end."""
    now = site.limits.now()
    if now % window > 0.5:
        await asyncio.sleep(window - now % window + 0.05)
    now = site.limits.now()
    return now - now % window + window


async def test_quota_moves_work_to_the_other_account_then_429_then_waits(
    site: EmulatorState, bridge: Bridge, tabs: Tabs, second_account: Any,
    client: openai.AsyncOpenAI, settings: Callable[..., None],
) -> None:
    await two_accounts(tabs, bridge, second_account)
    a, b = site.default_user.id, site.other_user.id
    window = 7.0
    site.limits.set_quota("text", 2, window)
    end = await fresh_window(site, window)

    for i in range(4):
        assert await ask(client, f"q{i}") == f"Echo: q{i}"
    # A's budget ran out with its second answer: the next ones went to B.
    assert users(site) == [a, a, b, b]

    with pytest.raises(openai.RateLimitError) as exc:
        await ask(client, "both out")
    left = end - site.limits.now()
    assert left > 2  # further than the queue timeout: refused at once
    retry_after = int(exc.value.response.headers["retry-after"])
    assert abs(retry_after - left) <= 1.5
    body = exc.value.response.json()["error"]
    assert body["code"] == "rate_limit_exceeded" and "Reset times" in body["message"]
    assert len(site.evaluation_requests) == 4  # the site never saw it

    # 1 s before the reset (within the 2 s queue timeout): it waits, then goes.
    await asyncio.sleep(max(0.0, end - site.limits.now() - 1.0))
    assert await ask(client, "after reset") == "Echo: after reset"
    last = site.evaluation_requests[-1]
    assert last.time + site.limits.clock_offset >= end - 0.05
    # Never a request from a cooling account: the site answered every one.
    assert [r.status for r in site.evaluation_requests] == [200] * 5


async def test_flag_mode_cools_down_shows_and_comes_back(
    site: EmulatorState, bridge: Bridge, tabs: Tabs, client: openai.AsyncOpenAI,
) -> None:
    await tabs.ensure(1)
    site.limits.flag_after(2, 30, 3)
    await ask(client, "one")
    await ask(client, "two")
    with pytest.raises(openai.APIStatusError):
        await ask(client, "three")  # the site flags the account: 403, retry-after 3
    sent = len(site.evaluation_requests)

    async with httpx.AsyncClient(base_url=bridge.url) as http:
        ready = (await http.get("/health/ready")).json()
        assert ready["workers_cooling"] == 1
        cooling = ready["cooling"][0]
        assert cooling["reason"] == "flagged" and cooling["until"] > time.time() + 1
        accounts = bridge.app.state.bridge.monitor.accounts_view()
        assert [c["reason"] for c in accounts[0]["cooldowns"]] == ["flagged"]
        worker = bridge.app.state.bridge.monitor.snapshot()["workers"][0]
        assert worker["health"] == "cooling_down"
        with pytest.raises(openai.RateLimitError):
            await ask(client, "while flagged")
        assert len(site.evaluation_requests) == sent

        await asyncio.sleep(max(0.0, cooling["until"] - time.time()) + 0.2)
        ready = (await http.get("/health/ready")).json()
        assert ready["workers_cooling"] == 0 and ready["status"] == "ready"
    site.limits.flag = None
    assert await ask(client, "back") == "Echo: back"


async def test_a_refused_request_moves_to_the_other_account(
    site: EmulatorState, bridge: Bridge, tabs: Tabs, second_account: Any,
    client: openai.AsyncOpenAI,
) -> None:
    # The site flags an account the bridge had no reason to rest yet: the request it
    # refused (before any answer) goes to the other account, and the client never sees it.
    await two_accounts(tabs, bridge, second_account)
    pool = bridge.app.state.bridge.pool
    b_tab = next(w for w in pool.workers.values() if "tab=b" in w.page)
    b_tab.limit = 0  # first, everything goes to account A
    site.limits.flag_after(1, 30, 20)
    assert await ask(client, "one") == "Echo: one"
    b_tab.limit = 6
    a, b = site.default_user.id, site.other_user.id
    a_tab = next(w for w in pool.workers.values() if w is not b_tab)
    a_tab.limit = 6
    # A is picked (least busy, first) and refused with 403 + retry-after; B answers.
    assert await ask(client, "two") == "Echo: two"
    assert users(site) == [a, a, b]
    assert [r.status for r in site.evaluation_requests] == [200, 403, 200]
    site.limits.flag = None


async def test_image_quota_out_text_still_flows(
    site: EmulatorState, bridge: Bridge, tabs: Tabs, client: openai.AsyncOpenAI,
) -> None:
    await tabs.ensure(1)
    site.limits.set_quota("image", 1, 60)
    await client.images.generate(model="image-model", prompt="a dot")
    with pytest.raises(openai.RateLimitError) as exc:
        await client.images.generate(model="image-model", prompt="another dot")
    assert exc.value.response.json()["error"]["code"] == "rate_limit_exceeded"
    assert "image requests" in exc.value.response.json()["error"]["message"]
    assert await ask(client, "text") == "Echo: text"
    assert [r.status for r in site.evaluation_requests] == [200, 200]


async def test_pacing_keeps_requests_apart_and_spreads_them(
    site: EmulatorState, bridge: Bridge, tabs: Tabs, second_account: Any,
    client: openai.AsyncOpenAI, settings: Callable[..., None],
) -> None:
    settings(pace_min_interval_seconds=2, queue_timeout_seconds=12)
    pool = bridge.app.state.bridge.pool
    await two_accounts(tabs, bridge, second_account)
    # One account first: the second context's tab is set aside (no free slot).
    aside = next(w for w in pool.workers.values() if "tab=b" in w.page)
    aside.limit = 0
    await asyncio.gather(*(ask(client, f"p{i}") for i in range(5)))
    times = [r.time for r in site.evaluation_requests]
    assert len(times) == 5 and len(set(users(site))) == 1
    assert all(b - a >= 1.7 for a, b in itertools.pairwise(times))
    hist = bridge.app.state.bridge.metrics.registry.get_sample_value(
        "lmarena_bridge_pacing_wait_seconds_count")
    assert hist is not None and hist >= 4

    aside.limit = 6
    site.requests.clear()
    pool.clear_accounts()
    await asyncio.gather(*(ask(client, f"s{i}") for i in range(5)))
    by_user: dict[str | None, list[float]] = {}
    for r in site.evaluation_requests:
        by_user.setdefault(r.user_id, []).append(r.time)
    assert len(by_user) == 2
    for stamps in by_user.values():
        # The tab mints a token first: its latency varies by a few hundred ms.
            assert all(b - a >= 1.7 for a, b in itertools.pairwise(stamps))


async def test_site_clock_two_hours_ahead(
    site: EmulatorState, bridge: Bridge, tabs: Tabs, client: openai.AsyncOpenAI,
) -> None:
    site.limits.clock_offset = 7200
    [page] = await tabs.ensure(1)
    await page.reload()  # a new connection reads the site's clock
    await tabs.wait_ready()
    pool = bridge.app.state.bridge.pool
    await wait_for(lambda: pool.clock.offset is not None and pool.clock.offset > 7000, 5,
                   what="the site's clock learnt")
    assert await ask(client, "late") == "Echo: late"
    [create] = site.create_requests
    minted = uuid7_ms(create.body["id"])
    assert minted is not None and abs(minted / 1000 - (time.time() + 7200)) < 60
