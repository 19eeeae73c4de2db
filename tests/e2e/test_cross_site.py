"""End to end: pages of other sites in real Chromium cannot use the bridge; listed ones can.

The "attacker" pages are served by a small server of their own under names that Chromium
resolves to 127.0.0.1 (``evil.test``, ``client.test``, ``rebind.test``). Being loopback
pages themselves, nothing in the browser (local network access) stops their requests to
the bridge: only the bridge's own Host and Origin rules do. A ScriptedWorker stands in for
the site tab and records every job the bridge hands out. Fixtures are local to this file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.support.servers import RunningServer, start_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
NAMES = ("evil.test", "client.test", "rebind.test")
CHAT = {"model": "echo-model", "messages": [{"role": "user", "content": "spend my quota"}]}


class Pages:
    """HTML by path, set by each test before the browser asks for it."""

    def __init__(self) -> None:
        self.html: dict[str, str] = {}

    async def serve(self, request: Request) -> Response:
        return HTMLResponse(self.html.get(request.path_params["name"], "<p>nothing</p>"))


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    rules = ", ".join(f"MAP {name} 127.0.0.1" for name in NAMES)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"],
        )
        yield browser
        await browser.close()


@pytest.fixture(scope="module")
async def pages() -> AsyncIterator[tuple[Pages, RunningServer]]:
    content = Pages()
    server = await start_server(Starlette(routes=[Route("/{name}", content.serve)]), lifespan="off")
    yield content, server
    await server.stop()


@pytest.fixture
async def page(chromium: Any) -> AsyncIterator[Any]:
    ctx = await chromium.new_context()
    yield await ctx.new_page()
    await ctx.close()


@pytest.fixture
async def setup(make_bridge, workers, pages) -> tuple[RunningServer, Any, Pages, int]:
    content, server = pages
    bridge = await make_bridge({"cors_allowed_origins": [f"http://client.test:{server.port}"]})
    worker = await workers(bridge.ws_url, origin="https://lmarena.ai")
    return bridge, worker, content, server.port


def bridge_answers(page: Any, bridge: RunningServer, path: str) -> Any:
    """Expect the browser to receive the bridge's answer to ``path`` (opaque ones too)."""
    prefix = f"http://127.0.0.1:{bridge.port}{path}"
    return page.expect_response(lambda r: r.url.startswith(prefix), timeout=10_000)


async def test_no_cors_fetch_from_another_site_never_reaches_the_tab(setup, page) -> None:
    bridge, worker, content, port = setup
    url = f"{bridge.url}/v1/chat/completions"
    content.html["attack"] = f"""<script>
      const body = {json.dumps(json.dumps(CHAT))};
      window.attack = (kind) => fetch({json.dumps(url)}, kind === "text"
        ? {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}}
        : {{method: "POST", mode: "no-cors", body: new Blob([body])}})  // no Content-Type
        .then(r => r.type, e => "failed: " + e);
    </script>"""
    await page.goto(f"http://evil.test:{port}/attack")
    for kind in ("text", "blob"):
        async with bridge_answers(page, bridge, "/v1/chat/completions") as answer:
            assert await page.evaluate("(k) => window.attack(k)", kind) == "opaque"
        response = await answer.value
        assert response.status == 403, kind
    assert worker.jobs == []


async def test_auto_submitted_text_plain_form_never_reaches_the_tab(setup, page) -> None:
    bridge, worker, content, port = setup
    # enctype=text/plain sends "name=value": with this name and value the body is valid JSON.
    name, _, value = json.dumps({**CHAT, "pad": "="})[:-2].rpartition("=")
    content.html["form"] = f"""
      <form method="POST" enctype="text/plain" action="{bridge.url}/v1/chat/completions">
        <input type="hidden" name='{name}' value='{value}"}}'>
      </form>
      <script>document.forms[0].submit();</script>"""
    async with bridge_answers(page, bridge, "/v1/chat/completions") as answer:
        await page.goto(f"http://evil.test:{port}/form")
    response = await answer.value
    assert response.status == 403
    assert response.request.headers.get("origin") == f"http://evil.test:{port}"
    body = json.loads(await response.text())
    assert body["error"]["code"] == "origin_not_allowed"
    assert worker.jobs == []


async def test_dns_rebound_name_gets_nothing(setup, page) -> None:
    bridge, worker, _, _ = setup
    # The attacker's name now points at 127.0.0.1: its page is served by the bridge itself.
    rebound = f"http://rebind.test:{bridge.port}"
    response = await page.goto(f"{rebound}/monitor")
    assert response is not None and response.status == 403
    assert json.loads(await response.text())["error"]["code"] == "host_not_allowed"
    # Same-origin now, so the page could read answers: every one is a refusal.
    seen = await page.evaluate(
        """async (chat) => {
          const out = {};
          for (const path of ["/v1/models", "/internal/workers", "/metrics",
                              "/userscript.user.js"]) {
            const r = await fetch(path);
            out[path] = [r.status, (await r.json()).error.code];
          }
          const r = await fetch("/v1/chat/completions", {method: "POST",
            headers: {"Content-Type": "application/json"}, body: JSON.stringify(chat)});
          out.chat = [r.status, (await r.json()).error.code];
          out.socket = await new Promise((resolve) => {
            const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws/monitor");
            ws.onopen = () => resolve("open");
            ws.onerror = () => resolve("refused");
          });
          return out;
        }""",
        CHAT,
    )
    for path in ("/v1/models", "/internal/workers", "/metrics", "/userscript.user.js", "chat"):
        assert seen[path] == [403, "host_not_allowed"], (path, seen)
    assert seen["socket"] == "refused"
    assert worker.jobs == []


async def test_listed_browser_client_gets_cors_answers(setup, page) -> None:
    bridge, worker, content, port = setup
    content.html["client"] = "<p>a browser-based chat client</p>"
    await page.goto(f"http://client.test:{port}/client")
    result = await page.evaluate(
        """async ([url, chat]) => {
          const r = await fetch(url, {method: "POST", body: JSON.stringify(chat), headers: {
            "Content-Type": "application/json", "Authorization": "Bearer anything",
            "X-Stainless-OS": "Linux", "X-Stainless-Retry-Count": "0"}});
          return [r.status, (await r.json()).choices[0].message.content];
        }""",
        [f"{bridge.url}/v1/chat/completions", CHAT],
    )
    assert result == [200, "spend my quota"]
    assert len(worker.jobs) == 1
    # The same request from an unlisted page fails its preflight: nothing is sent.
    await page.goto(f"http://evil.test:{port}/client")
    failed = await page.evaluate(
        """async ([url, chat]) => {
          try {
            await fetch(url, {method: "POST", body: JSON.stringify(chat),
                              headers: {"Content-Type": "application/json"}});
            return "answered";
          } catch (e) { return "blocked"; }
        }""",
        [f"{bridge.url}/v1/chat/completions", CHAT],
    )
    assert failed == "blocked"
    assert len(worker.jobs) == 1
