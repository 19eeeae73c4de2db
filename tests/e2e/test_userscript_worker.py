"""The userscript's side of docs/worker-protocol.md, driven frame by frame.

A scripted stand-in for the bridge (a bare WebSocket endpoint) sends jobs to the real
userscript in Chromium on the emulated arena.ai, so every rule of the ``site_request``
contract is checked on the frames the tab sends, with no bridge logic in between (the
other e2e modules run the real bridge).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.site_emulator import TEXT_MODEL_ID, Chunking, EmulatorState, uuid7, wait_for
from tests.support.servers import RunningServer, start_server

from .conftest import LEGACY_SITE, SITE, userscript_for

CAPABILITIES = {"abort", "heartbeat", "status", "structured_errors", "ids_captured",
                "page_source", "site_request", "create", "recaptcha_v3", "stop"}
CUSTOM_SITEKEY = "6LcUSTOMxAAAAAcustomcustomcustomcustomcust"
CREATE = "/nextjs-api/stream/create-evaluation"


class Connection:
    """One tab's socket as the stand-in bridge sees it."""

    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self.frames: list[dict[str, Any]] = []
        self.closed = False

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send_text(json.dumps(frame))

    async def job(self, payload: dict[str, Any]) -> str:
        request_id = uuid.uuid4().hex
        await self.send({"request_id": request_id, "payload": payload})
        return request_id

    def of(self, request_id: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("request_id") == request_id]

    def statuses(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "status"]

    def ended(self, request_id: str) -> bool:
        return any(f.get("data") == "[DONE]" or "error" in f for f in self.of(request_id))

    async def outcome(self, request_id: str, timeout: float = 10) -> tuple[str, dict | None]:
        """(the body text, the structured error or None) once the job ended."""
        await wait_for(lambda: self.ended(request_id), timeout, what=f"job {request_id} to end")
        frames = self.of(request_id)
        error = next((f["error"] for f in frames if "error" in f), None)
        text = "".join(f["data"] for f in frames
                       if isinstance(f.get("data"), str) and f["data"] != "[DONE]")
        return text, error


class StandInBridge:
    """``/ws`` that acknowledges hellos (with ``sitekey``) and records every frame."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.sitekey = ""
        self.error_headers: list[str] | None = None  # None: the ack leaves the field out
        self.app = Starlette(routes=[WebSocketRoute("/ws", self.ws)])

    async def ws(self, socket: WebSocket) -> None:
        await socket.accept()
        conn = Connection(socket)
        self.connections.append(conn)
        try:
            while True:
                frame = json.loads(await socket.receive_text())
                conn.frames.append(frame)
                if frame.get("type") == "hello":
                    # No heartbeats: this stand-in never pings, so the tab must not expect any.
                    ack = {"type": "hello_ack", "worker_id": "w-test", "protocol": 2,
                           "heartbeat_interval": 0, "recaptcha_sitekey": self.sitekey}
                    if self.error_headers is not None:
                        ack["error_headers"] = self.error_headers
                    await conn.send(ack)
        except WebSocketDisconnect:
            conn.closed = True

    async def connection_for(self, page: Any, timeout: float = 10) -> Connection:
        """The open connection whose hello names ``page``'s URL."""

        def find() -> Connection | None:
            for conn in reversed(self.connections):
                hello = next((f for f in conn.frames if f.get("type") == "hello"), None)
                if not conn.closed and hello and hello.get("page") == page.url:
                    return conn
            return None

        await wait_for(lambda: find() is not None, timeout, what=f"a hello from {page.url}")
        conn = find()
        assert conn is not None
        await wait_for(lambda: bool(conn.statuses()), timeout, what="the first status report")
        return conn


@pytest.fixture(scope="module")
async def stand_in() -> AsyncIterator[tuple[StandInBridge, RunningServer]]:
    bridge = StandInBridge()
    server = await start_server(bridge.app, lifespan="off")
    yield bridge, server
    await server.stop()


@pytest.fixture(scope="module")
async def worker_context(browser: Any, stand_in: tuple[StandInBridge, RunningServer]
                         ) -> AsyncIterator[Any]:
    _, server = stand_in
    ctx = await browser.new_context(ignore_https_errors=True)
    await ctx.add_init_script(script=userscript_for(server.url))
    yield ctx
    await ctx.close()


@pytest.fixture
async def fake(stand_in: tuple[StandInBridge, RunningServer]) -> AsyncIterator[StandInBridge]:
    bridge, _ = stand_in
    bridge.sitekey = ""
    bridge.error_headers = None
    yield bridge
    bridge.sitekey = ""
    bridge.error_headers = None


@pytest.fixture
async def tab(worker_context: Any, site: EmulatorState) -> AsyncIterator[Any]:
    """A fresh page per test (opened by the test with ``open_tab``), closed afterwards."""
    pages: list[Any] = []

    async def open_tab(url: str = f"{SITE}/?tab=worker") -> Any:
        page = await worker_context.new_page()
        pages.append(page)
        await page.goto(url)
        return page

    yield open_tab
    for page in pages:
        await page.close()


def create_job(text: str, *, retries: int = 1, stop: bool = True) -> dict[str, Any]:
    """A create-evaluation site_request as the bridge builds it (docs/worker-protocol.md)."""
    body = {"id": uuid7(), "mode": "direct-battle", "modelAId": TEXT_MODEL_ID,
            "userMessageId": uuid7(), "modelAMessageId": uuid7(),
            "userMessage": {"content": text, "experimental_attachments": [], "metadata": {}},
            "modality": "chat"}
    stop_path = f"/nextjs-api/stream/stop/{body['id']}/messages/{body['userMessageId']}"
    return {"type": "site_request", "method": "POST", "path": CREATE, "body": body,
            "recaptcha": {"action": "chat_submit", "v3_retries": retries},
            "stop_path": stop_path if stop else None}


def answer_text(raw: str, side: str = "a") -> str:
    """The text deltas (``<side>0:``) of a raw site stream."""
    return "".join(json.loads(line[3:]) for line in raw.splitlines()
                   if line.startswith(f"{side}0:"))


async def test_hello_announces_the_2026_capabilities(tab: Any, fake: StandInBridge) -> None:
    page = await tab()
    conn = await fake.connection_for(page)
    hello = conn.frames[0]
    assert hello["type"] == "hello" and hello["protocol"] == 2
    assert hello["version"] == "2.0.0"
    assert set(hello["capabilities"]) >= CAPABILITIES
    assert hello["page"].startswith(f"{SITE}/")
    assert conn.statuses()[-1]["state"] == "ready"


async def test_fresh_token_per_attempt_and_the_same_body_again(
    tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    conn = await fake.connection_for(await tab())
    site.fail_recaptcha(1)  # a good token rejected once (a low score, say)
    job = create_job("token please")
    text, error = await conn.outcome(await conn.job(job))
    assert error is None
    assert answer_text(text) == "Echo: token please"

    first, second = site.create_requests
    assert (first.status, second.status) == (403, 200)
    tokens = [r.body.pop("recaptchaV3Token") for r in (first, second)]
    assert all(isinstance(t, str) and t for t in tokens) and tokens[0] != tokens[1]
    assert first.body == second.body == job["body"]  # ids and all: only the token is new
    assert [c.reason for c in site.recaptcha_checks] == ["forced failure", "ok"]
    assert [m.action for m in site.recaptcha_mints] == ["chat_submit", "chat_submit"]
    assert {m.origin for m in site.recaptcha_mints} == {SITE}  # minted in the page
    # Sent like the site's own fetch: relative URL, no headers of ours, the page's cookies.
    assert first.host == "arena.ai" and first.headers["origin"] == SITE
    assert first.headers["content-type"] == "text/plain;charset=UTF-8"
    assert "arena-auth-prod-v1" in first.cookies


async def test_rejected_tokens_beyond_the_retries_are_reported_as_the_403(
    tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    conn = await fake.connection_for(await tab())
    site.fail_recaptcha(2)
    _, error = await conn.outcome(await conn.job(create_job("no luck", retries=1)))
    assert error is not None
    assert error["status"] == 403 and not error.get("code")
    assert json.loads(error["body"]) == {"error": "recaptcha validation failed"}
    assert error["content_type"].startswith("application/json")
    # The 2026 rate-limit headers travel with every error.
    for name in ("ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining",
                 "ratelimit-reset"):
        assert name in error["headers"], name
    assert len(site.create_requests) == 2  # one try and one retry, no more

    site.fail_recaptcha(1)
    _, error = await conn.outcome(await conn.job(create_job("no retries", retries=0)))
    assert error is not None and error["status"] == 403
    assert len(site.create_requests) == 3


async def test_error_headers_are_the_ones_the_bridge_lists(
    tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    fake.error_headers = ["ratelimit-limit", "content-type"]
    conn = await fake.connection_for(await tab())
    site.fail_next("rate_limit")
    _, error = await conn.outcome(await conn.job(create_job("limited")))
    assert error is not None and error["status"] == 429
    assert set(error["headers"]) == {"ratelimit-limit", "content-type"}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"path": "/api/v1/chat"}, "not under /nextjs-api/"),
        ({"path": "https://evil.test/nextjs-api/stream/create-evaluation"}, "absolute URL"),
        ({"path": "//evil.test/nextjs-api/stream/create-evaluation"}, "protocol-relative"),
        ({"path": "/nextjs-api/../c/new"}, "dots leave /nextjs-api/"),
        ({"stop_path": "/c/new"}, "stop_path outside /nextjs-api/"),
        ({"method": "GET"}, "method"),
        ({"body": "a string"}, "body not an object"),
        ({"recaptcha": {"v3_retries": 1}}, "recaptcha without action"),
        ({"type": "upload"}, "unknown job type"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_jobs_outside_the_contract_are_refused(
    change: dict[str, Any], why: str, tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    conn = await fake.connection_for(await tab())
    loads = len(site.requests)
    _, error = await conn.outcome(await conn.job({**create_job("refuse me"), **change}))
    assert error is not None, why
    assert error["code"] == "bad_job" and error["status"] is None, error
    await asyncio.sleep(0.2)
    assert site.requests[loads:] == [] and site.recaptcha_mints == []


async def test_no_token_no_site_request(
    tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    site.recaptcha_mode = "unavailable"  # enterprise.js loads but defines no grecaptcha
    conn = await fake.connection_for(await tab())
    started = asyncio.get_running_loop().time()
    _, error = await conn.outcome(await conn.job(create_job("blocked")), timeout=25)
    assert error is not None
    assert error["code"] == "recaptcha_unavailable" and error["status"] is None, error
    # The script did load: the tab gives up soon rather than after its 20 s bound.
    assert asyncio.get_running_loop().time() - started < 10
    assert site.evaluation_requests == []

    # Seed payloads (the legacy retry) need a token too.
    seed = {"message_templates": [{"role": "user", "content": "hi"}],
            "target_model_id": TEXT_MODEL_ID, "session_id": site.direct_session.id,
            "message_id": site.direct_session.assistant("a").id, "is_image_request": False}
    _, error = await conn.outcome(await conn.job(seed), timeout=25)
    assert error is not None and error["code"] == "recaptcha_unavailable"
    assert site.evaluation_requests == []


async def test_sitekey_from_the_page_else_from_the_bridge(
    tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    # The page names its key: it wins over a (stale) configured one.
    fake.sitekey = CUSTOM_SITEKEY
    conn = await fake.connection_for(await tab())
    text, error = await conn.outcome(await conn.job(create_job("page key")))
    assert error is None and answer_text(text) == "Echo: page key"
    assert [m.sitekey for m in site.recaptcha_mints] == [site.recaptcha_sitekey]

    # No script in the page: the tab loads enterprise.js itself, with the bridge's key.
    site.recaptcha_mints.clear()
    site.recaptcha_sitekey = CUSTOM_SITEKEY
    site.page_has_recaptcha_script = False
    page = await tab(f"{SITE}/?tab=no-script")
    conn = await fake.connection_for(page)
    assert await page.locator('script[src*="recaptcha/enterprise.js"]').count() == 0
    for prompt in ("first", "second"):
        text, error = await conn.outcome(await conn.job(create_job(prompt)))
        assert error is None and answer_text(text) == f"Echo: {prompt}"
    srcs = await page.eval_on_selector_all('script[src*="recaptcha/enterprise.js"]',
                                           "els => els.map(e => e.src)")
    assert srcs == [f"https://www.google.com/recaptcha/enterprise.js?render={CUSTOM_SITEKEY}"]
    assert [m.sitekey for m in site.recaptcha_mints] == [CUSTOM_SITEKEY] * 2


async def test_abort_cancels_the_fetch_and_stops_the_model(
    tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    conn = await fake.connection_for(await tab())
    site.chunking = Chunking(delay=0.1)
    job = create_job("long " * 60)
    rid = await conn.job(job)
    await wait_for(lambda: bool(conn.of(rid)), 10, what="the first data frame")
    await conn.send({"type": "abort", "request_id": rid})
    aborted_at = asyncio.get_running_loop().time()
    await wait_for(lambda: bool(site.stop_requests), 2, what="the stop request")
    (stop,) = site.stop_requests
    assert stop.method == "POST" and stop.path == job["stop_path"] and stop.status == 200
    assert stop.body is None and stop.headers["origin"] == SITE
    (req,) = site.create_requests
    await wait_for(lambda: req.ended_at is not None, 2, what="the answer stream to end")
    # Whichever reaches the site first ends the answer: the aborted fetch or the stop call.
    assert req.disconnected or req.stopped
    assert asyncio.get_running_loop().time() - aborted_at < 2
    seen = len(conn.of(rid))
    await asyncio.sleep(0.4)
    assert len(conn.of(rid)) == seen and not conn.ended(rid)  # nothing more for that job


async def test_tab_on_lmarena_reports_wrong_origin_and_refuses_jobs(
    tab: Any, fake: StandInBridge, site: EmulatorState, worker_context: Any
) -> None:
    # lmarena.ai redirects to arena.ai today; a tab can still sit on a page it loaded before
    # the move (or from the cache). Serve such a page.
    async def old_page(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html",
                            body="<!DOCTYPE html><title>LMArena</title><main>old page</main>")

    await worker_context.route(f"{LEGACY_SITE}/**", old_page)
    # A page served this way is not on loopback for Chromium: the user allows the local
    # connection, as they would in the browser's permission prompt.
    await worker_context.grant_permissions(["local-network-access"], origin=LEGACY_SITE)
    try:
        page = await tab(f"{LEGACY_SITE}/c/old?tab=legacy")
        conn = await fake.connection_for(page)
        assert conn.statuses()[-1] == {
            "type": "status", "state": "wrong_origin", "page": page.url,
            "detail": "this tab is on lmarena.ai; open https://arena.ai"}
        _, error = await conn.outcome(await conn.job(create_job("nope")))
        assert error is not None and error["code"] == "wrong_origin" and error["status"] is None
        assert site.evaluation_requests == [] and site.recaptcha_mints == []
        # The user is told in the page too, with the way to the same page on arena.ai.
        link = page.locator("#lmarena-bridge-wrong-origin a")
        assert await link.get_attribute("href") == f"{SITE}/c/old?tab=legacy"
        assert "⛔" in await page.title()
    finally:
        await worker_context.unroute(f"{LEGACY_SITE}/**", old_page)


async def test_a_redirect_is_reported_not_followed(
    tab: Any, fake: StandInBridge, site: EmulatorState
) -> None:
    page = await tab()
    conn = await fake.connection_for(page)

    # Should the site move again, its API answers 301; following it would turn the POST
    # into a GET somewhere else.
    async def moved(route: Any) -> None:
        await route.fulfill(status=301, headers={"location": "https://elsewhere.test/"}, body="")

    await page.route(f"{SITE}{CREATE}", moved)
    _, error = await conn.outcome(await conn.job(create_job("moved?")))
    assert error is not None
    assert error["code"] == "wrong_origin" and error["status"] is None, error
    await page.unroute(f"{SITE}{CREATE}", moved)
