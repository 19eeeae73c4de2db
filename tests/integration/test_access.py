"""Who may use the bridge: Host names (DNS rebinding), browser Origins, JSON bodies and CORS.

Real server on a loopback port; requests from httpx, the openai SDK, curl and raw sockets
(a WebSocket handshake with a foreign Host). The browser itself is in
tests/e2e/test_cross_site.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import httpx
import openai
import pytest

from lmarena_bridge.config.defaults import CONFIG_JSONC
from tests.support.servers import RunningServer

MSGS: Any = [{"role": "user", "content": "hello there"}]
CHAT = {"model": "echo-model", "messages": MSGS}
# Every kind of route: the API, the tools' endpoints, observability, the pages.
ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/chat/completions"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/echo-model"),
    ("POST", "/v1/images/generations"),
    ("GET", "/internal/workers"),
    ("POST", "/internal/start_id_capture"),
    ("POST", "/internal/update_available_models"),
    ("GET", "/metrics"),
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/monitor"),
    ("GET", "/userscript.user.js"),
    ("GET", "/no/such/path"),
]
FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "localhost.evil.example:{port}",
    "192.0.2.7:{port}",
    "127.0.0.1:{port}/x",
    'localhost:{port}"<script>',
]


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    return err


async def ws_handshake(
    srv: RunningServer, path: str, host: str, origin: str | None = None
) -> tuple[int, bytes]:
    """Status and body of a WebSocket handshake sent with exactly these headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
    writer.close()
    return status, body


# -- 1. Host ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
async def test_foreign_host_is_refused_on_every_route(bridge, workers, host: str) -> None:
    w = await workers(bridge.ws_url)
    host = host.format(port=bridge.port)
    async with httpx.AsyncClient() as http:
        for method, path in ROUTES:
            body = json.dumps(CHAT).encode() if method == "POST" else None
            r = await http.request(method, bridge.url + path, content=body,
                                   headers={"Host": host, "Content-Type": "application/json"})
            err = error_of(r, 403)
            assert err["code"] == "host_not_allowed", (path, err)
            assert "allowed_hosts" in err["message"]
            assert "==UserScript==" not in r.text
    for path in ("/ws", "/ws/monitor", "/ws?token=x"):
        status, body = await ws_handshake(bridge, path, host)
        assert status == 403, path
        assert json.loads(body)["error"]["code"] == "host_not_allowed"
    assert w.jobs == []  # nothing reached the tab


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}",
                                  "127.0.0.1", "localhost", "LocalHost:{port}", "[::1]",
                                  "127.0.0.2:{port}", "localhost.:{port}"])
async def test_loopback_hosts_are_served(bridge, host: str) -> None:
    host = host.format(port=bridge.port)
    async with httpx.AsyncClient() as http:
        r = await http.get(bridge.url + "/v1/models", headers={"Host": host})
        assert r.status_code == 200, r.text
    status, _ = await ws_handshake(bridge, "/ws/monitor", host)
    assert status == 101


async def test_allowed_hosts_and_listen_host_are_served(make_bridge) -> None:
    srv = await make_bridge({"host": "mybox.local",
                             "allowed_hosts": ["bridge.lan", "*.example.org"]})
    async with httpx.AsyncClient() as http:
        for host in ("mybox.local", "bridge.lan", f"bridge.lan:{srv.port}", "a.example.org"):
            r = await http.get(srv.url + "/health", headers={"Host": host})
            assert r.status_code == 200, host
        for host in ("example.org", "bridge.lan.evil.example", "other.lan"):
            r = await http.get(srv.url + "/health", headers={"Host": host})
            assert error_of(r, 403)["code"] == "host_not_allowed", host
        # The userscript gets the name the user reached the bridge by, and only such a name.
        script = await http.get(srv.url + "/userscript.user.js",
                                headers={"Host": f"bridge.lan:{srv.port}"})
        assert script.status_code == 200
        assert f'const BRIDGE_URL = "http://bridge.lan:{srv.port}"' in script.text
        # An edit of allowed_hosts applies without a restart.
        store = srv.app.state.bridge.config_store
        await store.update(CONFIG_JSONC, {("allowed_hosts",): ["late.example"]})
        r = await http.get(srv.url + "/health", headers={"Host": "late.example"})
        assert r.status_code == 200
        r = await http.get(srv.url + "/health", headers={"Host": "bridge.lan"})
        assert r.status_code == 403


async def test_userscript_is_served_with_the_loopback_address(bridge) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(bridge.url + "/userscript.user.js")
    assert r.status_code == 200
    assert f'const BRIDGE_URL = "http://127.0.0.1:{bridge.port}"' in r.text


# -- 2. Origin and JSON bodies ---------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://evil.example", "http://evil.example:8080", "null",
                                    "https://lmarena.ai", "http://localhost:3000",
                                    "http://127.0.0.1:1"])
async def test_foreign_page_origins_are_refused(bridge, workers, origin: str) -> None:
    w = await workers(bridge.ws_url)
    async with httpx.AsyncClient() as http:
        for content_type in ("application/json", "text/plain;charset=UTF-8"):
            r = await http.post(bridge.url + "/v1/chat/completions", content=json.dumps(CHAT),
                                headers={"Origin": origin, "Content-Type": content_type})
            err = error_of(r, 403)
            assert err["code"] == "origin_not_allowed"
            assert "cors_allowed_origins" in err["message"]
            assert "access-control-allow-origin" not in r.headers
        for path in ("/v1/models", "/metrics", "/health", "/userscript.user.js"):
            r = await http.get(bridge.url + path, headers={"Origin": origin})
            assert error_of(r, 403)["code"] == "origin_not_allowed", path
    assert w.jobs == []


@pytest.mark.parametrize("origin", [None, "same", "chrome-extension://abcdefghijklmnop",
                                    "app://chatbox", "vscode-webview://x"])
async def test_non_page_and_own_origins_pass(bridge, workers, origin: str | None) -> None:
    await workers(bridge.ws_url)
    headers = {"Content-Type": "application/json"}
    if origin:
        headers["Origin"] = bridge.url if origin == "same" else origin
    async with httpx.AsyncClient() as http:
        r = await http.post(bridge.url + "/v1/chat/completions", content=json.dumps(CHAT),
                            headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "hello there"


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "text/html"])
async def test_json_routes_refuse_other_bodies(bridge, workers, content_type: str) -> None:
    w = await workers(bridge.ws_url)
    async with httpx.AsyncClient() as http:
        for path in ("/v1/chat/completions", "/chat/completions", "/v1/images/generations",
                     "/internal/start_id_capture", "/internal/page_source"):
            body = {**CHAT, "prompt": "x"} if "images" in path else CHAT
            r = await http.post(bridge.url + path, content=json.dumps(body),
                                headers={"Content-Type": content_type})
            err = error_of(r, 415)
            assert err["code"] == "unsupported_media_type", path
            assert "application/json" in err["message"]
    assert w.jobs == [] and "activate_id_capture" not in w.commands


@pytest.mark.parametrize("content_type", [None, "application/json",
                                          "application/json; charset=utf-8",
                                          "Application/JSON", "application/vnd.api+json"])
async def test_json_content_types_pass(bridge, workers, content_type: str | None) -> None:
    await workers(bridge.ws_url)
    headers = {"Content-Type": content_type} if content_type else {}
    async with httpx.AsyncClient() as http:
        r = await http.post(bridge.url + "/v1/chat/completions", content=json.dumps(CHAT),
                            headers=headers)
    assert r.status_code == 200, r.text


async def test_sdk_and_curl_still_work(bridge, workers, client) -> None:
    await workers(bridge.ws_url)
    resp = await client.chat.completions.create(model="echo-model", messages=MSGS)
    assert resp.choices[0].message.content == "hello there"
    stream = await client.chat.completions.create(model="echo-model", messages=MSGS, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == (
        "hello there")
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")

    async def curl(*args: str) -> tuple[int, dict[str, Any]]:
        proc = await asyncio.create_subprocess_exec(
            "curl", "-s", "-w", "\n%{http_code}", *args, bridge.url + "/v1/chat/completions",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        body, _, code = out.decode().rpartition("\n")
        return int(code), json.loads(body)

    code, body = await curl("-H", "Content-Type: application/json", "-d", json.dumps(CHAT))
    assert code == 200 and body["choices"][0]["message"]["content"] == "hello there"
    # curl -d alone sends a form content type: told how to fix it.
    code, body = await curl("-d", json.dumps(CHAT))
    assert code == 415 and "-H 'Content-Type: application/json'" in body["error"]["message"]


# -- 3. CORS -----------------------------------------------------------------------------

SDK_HEADERS = ("authorization, content-type, x-stainless-arch, x-stainless-lang, "
               "x-stainless-os, x-stainless-package-version, x-stainless-retry-count, "
               "x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout")


def preflight_headers(origin: str, **extra: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": SDK_HEADERS, **extra}


async def test_cors_for_listed_origins(make_bridge, workers) -> None:
    page = "http://localhost:3210"
    srv = await make_bridge({"cors_allowed_origins": [page + "/", "https://Chat.Example.com"],
                             "api_key": "k"})
    await workers(srv.ws_url)
    async with httpx.AsyncClient() as http:
        for path in ("/v1/chat/completions", "/api/v1/chat/completions", "/v1/models",
                     "/v1/images/generations"):
            pre = await http.options(srv.url + path, headers=preflight_headers(
                page, **{"Access-Control-Request-Private-Network": "true"}))
            assert pre.status_code == 200, (path, pre.text)
            assert pre.headers["access-control-allow-origin"] == page
            assert "POST" in pre.headers["access-control-allow-methods"]
            assert pre.headers["access-control-allow-headers"] == SDK_HEADERS
            assert pre.headers["access-control-allow-private-network"] == "true"
        r = await http.post(srv.url + "/v1/chat/completions",
                            json={**CHAT, "temperature": 0.3},
                            headers={"Origin": page, "Authorization": "Bearer k"})
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == page
        assert "X-Bridge-Ignored-Params" in r.headers["access-control-expose-headers"]
        # An error reaches the page too (it can read the envelope).
        bad = await http.post(srv.url + "/v1/chat/completions", json=CHAT,
                              headers={"Origin": page})
        assert error_of(bad, 401) and bad.headers["access-control-allow-origin"] == page
        other = await http.get(srv.url + "/v1/models", headers={
            "Origin": "https://chat.example.com", "Authorization": "Bearer k"})
        assert other.headers["access-control-allow-origin"] == "https://chat.example.com"
        # Unlisted pages: refused, preflight included, and never told "*".
        for origin in ("https://evil.example", "http://localhost:3211"):
            pre = await http.options(srv.url + "/v1/chat/completions",
                                     headers=preflight_headers(origin))
            assert error_of(pre, 403)["code"] == "origin_not_allowed"
            assert "access-control-allow-origin" not in pre.headers


async def test_no_cors_by_default(bridge) -> None:
    async with httpx.AsyncClient() as http:
        pre = await http.options(bridge.url + "/v1/chat/completions",
                                 headers=preflight_headers("http://localhost:3210"))
        assert error_of(pre, 403)["code"] == "origin_not_allowed"
        r = await http.get(bridge.url + "/v1/models")
        assert "access-control-allow-origin" not in r.headers


async def test_cors_star_when_asked_for(make_bridge) -> None:
    srv = await make_bridge({"cors_allowed_origins": ["*"]})
    async with httpx.AsyncClient() as http:
        pre = await http.options(srv.url + "/v1/chat/completions",
                                 headers=preflight_headers("https://anything.example"))
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
        r = await http.get(srv.url + "/v1/models", headers={"Origin": "https://x.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"


async def test_internal_keeps_its_own_cors_for_the_site(bridge) -> None:
    async with httpx.AsyncClient() as http:
        pre = await http.options(bridge.url + "/internal/update_available_models",
                                 headers=preflight_headers("https://lmarena.ai"))
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "https://lmarena.ai"
        refused = await http.options(bridge.url + "/internal/update_available_models",
                                     headers=preflight_headers("https://evil.example"))
        assert error_of(refused, 403)["code"] == "origin_not_allowed"


@pytest.mark.parametrize(("settings", "key"), [
    ({"cors_allowed_origins": ["localhost:3000"]}, "cors_allowed_origins"),
    ({"cors_allowed_origins": ["http://x.example/path"]}, "cors_allowed_origins"),
    ({"cors_allowed_origins": ["null"]}, "cors_allowed_origins"),
    ({"allowed_hosts": ["http://bridge.lan"]}, "allowed_hosts"),
    ({"allowed_hosts": ["a b"]}, "allowed_hosts"),
])
async def test_bad_access_settings_are_named(make_bridge, settings: dict[str, Any],
                                             key: str) -> None:
    from lmarena_bridge.config.problems import ConfigFileError

    with pytest.raises(ConfigFileError) as exc:
        await make_bridge(settings)
    assert any(p.key is not None and p.key.startswith(key) for p in exc.value.problems)


async def test_openai_sdk_gets_the_refusal_as_an_error(make_bridge) -> None:
    srv = await make_bridge()
    async with openai.AsyncOpenAI(base_url=f"http://localhost:{srv.port}/v1", api_key="x",
                                  max_retries=0,
                                  default_headers={"Origin": "https://evil.example"}) as c:
        with pytest.raises(openai.PermissionDeniedError) as exc:
            await c.models.list()
    assert exc.value.code == "origin_not_allowed"


async def test_a_refused_websocket_is_not_logged_as_an_error(
    bridge, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO"):
        status, _ = await ws_handshake(bridge, "/ws", "evil.example")
        await asyncio.sleep(0.1)  # the server finishes the connection after answering
    assert status == 403
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
