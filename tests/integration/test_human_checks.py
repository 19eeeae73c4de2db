"""Human checks with scripted tabs: waiting for a person, moving to another tab, timeouts,
naming the tab, and what /health/ready, /metrics and the monitor say meanwhile.

The real userscript's overlay and the emulator's v2 widget are tested in
tests/e2e/test_human_checks.py; here the tab's frames are scripted.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import openai
import pytest
from websockets.asyncio.client import connect

from tests.conftest import wait_for
from tests.support.workers import ScriptedWorker, echo_handler, finish_line, text_lines

MSGS: Any = [{"role": "user", "content": "hello person"}]
CHALLENGE_ERROR = {"message": "HTTP 403", "status": 403, "content_type": "text/html",
                   "body": "<!DOCTYPE html><html><head><title>Just a moment...</title>",
                   "headers": {"cf-mitigated": "challenge"}}


class PersonNeeded:
    """A tab whose v3 tokens are refused: it shows the v2 check (``needs_human``) and waits
    for ``solve`` (then ``human_solved`` and the answer) or ``fail(code)``."""

    def __init__(self) -> None:
        self.shown = asyncio.Event()
        self.outcome: asyncio.Future[str] | None = None
        self.payloads: list[dict[str, Any]] = []

    async def __call__(self, w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)
        self.outcome = asyncio.get_running_loop().create_future()
        await w.send({"request_id": rid, "type": "needs_human", "reason": "recaptcha",
                      "detail": "the visible check is shown"})
        await w.send({"type": "status", "state": "needs_human", "reason": "recaptcha",
                      "page": w.page, "detail": "a request waits"})
        self.shown.set()
        try:
            code = await self.outcome
        finally:
            await w.send({"type": "status", "state": "ready", "page": w.page})
        if code != "solved":
            await w.send({"request_id": rid, "error": {
                "message": "nobody solved it", "status": None, "code": code}})
            return
        await w.send({"request_id": rid, "type": "human_solved", "reason": "recaptcha"})
        for line in text_lines("Solved answer"):
            await w.data(rid, line)
        await w.data(rid, finish_line())
        await w.done(rid)

    def settle(self, code: str = "solved") -> None:
        assert self.outcome is not None
        self.outcome.set_result(code)


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_request_waits_for_the_person_and_gets_its_answer(
    make_bridge, workers
) -> None:
    # First-byte and total timers shorter than the person takes: the wait must not count.
    srv = await make_bridge({"first_byte_timeout_seconds": 0.4, "total_timeout_seconds": 0.9})
    tab = PersonNeeded()
    w = await workers(srv.ws_url, handler=tab)
    pool = srv.app.state.bridge.pool
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0,
                                  timeout=20) as client:
        request = asyncio.create_task(client.chat.completions.create(
            model="echo-model", messages=MSGS, stream=True))
        await asyncio.wait_for(tab.shown.wait(), 5)
        (worker,) = pool.workers.values()
        await wait_for(lambda: worker.health == "needs_human")
        assert worker.human_reason == "recaptcha" and pool.ready_count == 0
        async with httpx.AsyncClient(base_url=srv.url) as http:
            ready = (await http.get("/health/ready")).json()
        assert ready["status"] == "not_ready" and ready["workers_needing_human"] == 1
        (need,) = ready["needs_human"]
        assert need["id"] == w.worker_id and need["reason"] == "recaptcha"
        assert need["action"] == "solve the reCAPTCHA check shown in that tab"
        assert need["page"] == "https://arena.ai/c/test" and need["since"] > 0
        await asyncio.sleep(1.2)  # the person takes a while
        tab.settle("solved")
        stream = await request
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Solved answer"
    # The tab got the v2 timeout with the job, and is usable again.
    assert tab.payloads[0]["recaptcha"]["v2_timeout_seconds"] == 90
    await wait_for(lambda: worker.health == "ready")
    metrics = srv.app.state.bridge.metrics.render().decode()
    assert metric(metrics, "lmarena_bridge_human_check_outcomes_total", outcome="solved",
                  reason="recaptcha") == 1
    assert metric(metrics, "lmarena_bridge_human_checks_total", reason="recaptcha") == 1
    assert metric(metrics, "lmarena_bridge_human_check_resolve_seconds_count",
                  reason="recaptcha") == 1
    assert metric(metrics, "lmarena_bridge_tab_health", state="ready") == 1


async def test_nobody_comes_503_names_the_tab_and_what_to_do(make_bridge, workers) -> None:
    srv = await make_bridge({"human_check_timeout_seconds": 0.5})

    async def never_reports(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        # A tab that shows the check but never says how it ended: the bridge's own timer.
        await w.send({"request_id": rid, "type": "needs_human", "reason": "recaptcha"})
        await asyncio.sleep(30)

    w = await workers(srv.ws_url, handler=never_reports, page="https://arena.ai/c/abc")
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0,
                                  timeout=20) as client:
        t0 = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="echo-model", messages=MSGS)
        assert time.monotonic() - t0 < 5
    err = caught.value
    assert err.status_code == 503 and err.code == "human_check_timeout"
    assert f"tab {w.worker_id} (https://arena.ai/c/abc)" in err.message
    assert "solve the reCAPTCHA check" in err.message
    assert err.response.headers["retry-after"] == "10"
    await wait_for(lambda: len(w.aborts) == 1)  # the tab drops the check and the job
    pool = srv.app.state.bridge.pool
    await wait_for(lambda: pool.ready_count == 1)


@pytest.mark.parametrize(("code", "outcome"), [("human_check_timeout", "timeout"),
                                               ("human_check_cancelled", "cancelled")])
async def test_the_tab_reports_timeout_or_cancel(make_bridge, workers, code, outcome) -> None:
    srv = await make_bridge()
    tab = PersonNeeded()
    w = await workers(srv.ws_url, handler=tab)
    async with openai.AsyncOpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0,
                                  timeout=20) as client:
        request = asyncio.create_task(
            client.chat.completions.create(model="echo-model", messages=MSGS))
        await asyncio.wait_for(tab.shown.wait(), 5)
        tab.settle(code)
        with pytest.raises(openai.APIStatusError) as caught:
            await request
    assert caught.value.status_code == 503 and caught.value.code == code
    assert f"tab {w.worker_id}" in caught.value.message
    metrics = srv.app.state.bridge.metrics.render().decode()
    assert metric(metrics, "lmarena_bridge_human_check_outcomes_total", outcome=outcome,
                  reason="recaptcha") == 1
    await wait_for(lambda: srv.app.state.bridge.pool.ready_count == 1)


async def test_a_waiting_job_moves_when_a_free_tab_exists_at_the_check(
    bridge, workers, client
) -> None:
    tab = PersonNeeded()
    first = await workers(bridge.ws_url, handler=tab)
    second = await workers(bridge.ws_url, handler=echo_handler)
    pool = bridge.app.state.bridge.pool
    busy = pool.workers[second.worker_id]
    busy.reserved += 1  # the less free tab at dispatch: the job goes to `first`
    done = await client.chat.completions.create(model="echo-model", messages=MSGS)
    pool.release(busy)
    assert done.choices[0].message.content == "hello person"
    assert len(first.jobs) == 1 and len(second.jobs) == 1
    assert first.aborts == [first.jobs[0][0]]  # the first tab drops the job and its check
    # New site ids for the new tab (the site refuses ids it has seen).
    assert first.jobs[0][1]["body"]["id"] != second.jobs[0][1]["body"]["id"]
    metrics = bridge.app.state.bridge.metrics.render().decode()
    assert metric(metrics, "lmarena_bridge_human_check_outcomes_total", outcome="moved",
                  reason="recaptcha") == 1


async def test_a_challenged_job_moves_to_a_ready_tab(bridge, workers, client) -> None:
    async def challenged(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.send({"request_id": rid, "error": CHALLENGE_ERROR})

    first = await workers(bridge.ws_url, handler=challenged)
    pool = bridge.app.state.bridge.pool
    second = await workers(bridge.ws_url, handler=echo_handler)
    busy = pool.workers[second.worker_id]
    busy.reserved += 1  # the less free tab at dispatch: the job goes to `first`
    done = await client.chat.completions.create(model="echo-model", messages=MSGS)
    pool.release(busy)
    assert done.choices[0].message.content == "hello person"
    assert len(first.jobs) == 1 and len(second.jobs) == 1
    await wait_for(lambda: first.commands == ["refresh"])  # still reloaded once
    (challenged_tab,) = [w for w in pool.workers.values() if w.id == first.worker_id]
    assert (challenged_tab.health, challenged_tab.human_reason) == ("needs_human", "challenge")


async def test_with_no_other_tab_a_challenge_is_503_naming_the_tab(
    bridge, workers, client
) -> None:
    async def challenged(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.send({"request_id": rid, "error": CHALLENGE_ERROR})

    w = await workers(bridge.ws_url, handler=challenged)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert caught.value.status_code == 503 and caught.value.code == "cloudflare_challenge"
    assert f"tab {w.worker_id} (https://arena.ai/c/test)" in caught.value.message
    # New requests meanwhile: a 503 after the queue wait that says what to do, and where.
    with pytest.raises(openai.APIStatusError) as waiting:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert waiting.value.code == "no_tab_ready"
    assert (f"Tab {w.worker_id} (https://arena.ai/c/test) needs you: complete the "
            "Cloudflare check in that tab.") in waiting.value.message


async def test_new_requests_avoid_a_tab_that_waits_for_a_person(
    bridge, workers, client
) -> None:
    tab = PersonNeeded()
    first = await workers(bridge.ws_url, handler=tab)
    waiting = asyncio.create_task(
        client.chat.completions.create(model="echo-model", messages=MSGS))
    await asyncio.wait_for(tab.shown.wait(), 5)
    second = await workers(bridge.ws_url, handler=echo_handler)
    for i in range(3):
        done = await client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": f"other {i}"}])
        assert done.choices[0].message.content == f"other {i}"
    assert len(first.jobs) == 1 and len(second.jobs) == 3
    tab.settle("solved")
    assert (await waiting).choices[0].message.content == "Solved answer"


async def test_status_reports_old_and_new(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    pool = bridge.app.state.bridge.pool
    (worker,) = pool.workers.values()
    await w.send({"type": "status", "state": "needs_human", "reason": "logged-out"})
    await wait_for(lambda: worker.state == "logged_out")
    assert worker.health == "needs_human" and pool.ready_count == 0
    await w.send({"type": "status", "state": "ready"})
    await wait_for(lambda: worker.health == "ready")
    # A needs_human report without its reason fits no shape: ignored, the tab stays.
    await w.send({"type": "status", "state": "needs_human"})
    await w.send({"type": "status", "state": "wrong_origin", "detail": "on lmarena.ai"})
    await wait_for(lambda: worker.state == "wrong_origin")
    assert worker.describe()["action"] == "open https://arena.ai in that tab"


async def test_monitor_focus_action_reaches_the_tab(bridge, workers) -> None:
    w = await workers(bridge.ws_url)
    async with connect(bridge.url.replace("http", "ws") + "/ws/monitor") as monitor:
        snapshot = json.loads(await monitor.recv())
        (tab,) = snapshot["workers"]
        assert (tab["health"], tab["reason"]) == ("ready", None)
        await monitor.send(json.dumps({"action": "focus_worker", "worker_id": w.worker_id}))
        while True:
            event = json.loads(await monitor.recv())
            if event["type"] == "action_result":
                break
        assert event["ok"] and "front" in event["message"]
        await monitor.send(json.dumps({"action": "focus_worker", "worker_id": "w999"}))
        while True:
            event = json.loads(await monitor.recv())
            if event["type"] == "action_result":
                break
        assert not event["ok"]
    await wait_for(lambda: w.commands == ["focus"])


async def test_a_headless_browser_s_errors_say_how_to_reach_a_person(
    bridge, workers, client
) -> None:
    # The managed browser runs headless (http/app.py sets the hint): the errors that ask a
    # person to act also say how to get a window.
    hint = "The bridge's browser runs headless, so no one can do that there."
    bridge.app.state.bridge.pool.person_hint = lambda: hint

    async def challenged(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
        await w.send({"request_id": rid, "error": CHALLENGE_ERROR})

    await workers(bridge.ws_url, handler=challenged)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert caught.value.code == "cloudflare_challenge" and hint in caught.value.message
    with pytest.raises(openai.APIStatusError) as waiting:
        await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert waiting.value.code == "no_tab_ready" and hint in waiting.value.message
