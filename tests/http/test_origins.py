"""The Host and Origin rules of ``http.origins`` as tables (the middleware is tested against
a real server in tests/integration/test_access.py and in Chromium in tests/e2e)."""

from __future__ import annotations

from typing import Any

import pytest

from lmarena_bridge.config.model import Settings
from lmarena_bridge.http.origins import host_allowed, host_name, origin_refusal


@pytest.mark.parametrize(("value", "name"), [
    ("127.0.0.1:5102", "127.0.0.1"),
    ("LocalHost", "localhost"),
    ("localhost.:80", "localhost"),
    ("[::1]:5102", "::1"),
    ("[fe80::1%eth0]", "fe80::1%eth0"),
    ("bridge.lan", "bridge.lan"),
    ("", None),
    (None, None),
    ("::1", None),  # IPv6 needs brackets in Host
    ("a b", None),
    ("host:port", None),
    ("host:5102/path", None),
    ('host"<x>', None),
    ("host:123456", None),
])
def test_host_name(value: str | None, name: str | None) -> None:
    assert host_name(value) == name


@pytest.mark.parametrize(("host", "settings", "local", "allowed"), [
    ("127.0.0.1:5102", {}, None, True),
    ("127.5.6.7", {}, None, True),
    ("[::1]:1", {}, None, True),
    ("localhost:5102", {}, None, True),
    ("evil.example:5102", {}, None, False),
    ("localhost.evil.example", {}, None, False),
    ("192.168.1.5:5102", {}, "192.168.1.5", True),  # a LAN client of a bridge on 0.0.0.0
    ("192.168.1.6:5102", {}, "192.168.1.5", False),
    ("0.0.0.0:5102", {"host": "0.0.0.0"}, "127.0.0.1", True),
    ("[::]:5102", {"host": "::"}, None, True),
    ("mybox.local:5102", {"host": "mybox.local"}, None, True),
    ("bridge.lan", {"allowed_hosts": ["Bridge.LAN"]}, None, True),
    ("bridge.lan:80", {"allowed_hosts": ["bridge.lan:5102"]}, None, True),
    ("a.b.example.org", {"allowed_hosts": ["*.example.org"]}, None, True),
    ("example.org", {"allowed_hosts": ["*.example.org"]}, None, False),
    ("anything.example", {"allowed_hosts": ["*"]}, None, True),
    ("bad host", {"allowed_hosts": ["*"]}, None, False),  # never a malformed value
    (None, {"allowed_hosts": ["*"]}, None, False),
])
def test_host_allowed(host: str | None, settings: dict[str, Any], local: str | None,
                      allowed: bool) -> None:
    assert host_allowed(host, Settings(**settings), local) is allowed


OWN = "http://127.0.0.1:5102"
HOST = "127.0.0.1:5102"


@pytest.mark.parametrize(("kind", "path", "origin", "settings", "token", "allowed"), [
    # Not a browser page, or the bridge's own page: everywhere.
    ("http", "/v1/chat/completions", None, {}, None, True),
    ("http", "/v1/chat/completions", OWN, {}, None, True),
    ("http", "/internal/workers", OWN, {}, None, True),
    ("websocket", "/ws/monitor", OWN, {}, None, True),
    ("websocket", "/ws/monitor", None, {}, None, True),
    # Pages of other sites.
    ("http", "/v1/chat/completions", "https://evil.example", {}, None, False),
    ("http", "/v1/chat/completions", "null", {}, None, False),
    ("http", "/v1/chat/completions", "http://127.0.0.1:5103", {}, None, False),
    ("http", "/v1/chat/completions", "https://lmarena.ai", {}, None, False),
    ("http", "/metrics", "https://evil.example", {}, None, False),
    ("websocket", "/ws/monitor", "https://evil.example", {}, None, False),
    ("websocket", "/ws/monitor", "https://lmarena.ai", {}, None, False),
    # Non-web schemes (desktop apps, extensions) are not pages of a site.
    ("http", "/v1/chat/completions", "app://chatbox", {}, None, True),
    ("http", "/v1/chat/completions", "chrome-extension://abc", {}, None, True),
    # CORS-listed origins, on the API only.
    ("http", "/v1/chat/completions", "http://localhost:3210",
     {"cors_allowed_origins": ["http://localhost:3210"]}, None, True),
    ("http", "/v1/models", "https://x.example", {"cors_allowed_origins": ["*"]}, None, True),
    ("http", "/internal/workers", "http://localhost:3210",
     {"cors_allowed_origins": ["http://localhost:3210"]}, None, False),
    # /internal/*: the site, allowed_origins, ?token=.
    ("http", "/internal/workers", "https://lmarena.ai", {}, None, True),
    ("http", "/internal/workers", "https://beta.arena.ai", {}, None, True),
    ("http", "/internal/workers", "https://lmarena.ai.evil.example", {}, None, False),
    ("http", "/internal/workers", "http://localhost:3000",
     {"allowed_origins": ["http://localhost:3000"]}, None, True),
    ("http", "/internal/workers", "https://x.example", {"worker_token": "t"}, "t", True),
    ("http", "/internal/workers", "https://x.example", {"worker_token": "t"}, "u", False),
    # /ws: the site, allowed_origins, ?token= (and not the bridge's own pages).
    ("websocket", "/ws", "https://arena.ai", {}, None, True),
    ("websocket", "/ws", OWN, {}, None, False),
    ("websocket", "/ws", "app://x", {}, None, False),
    ("websocket", "/ws", "https://x.example", {"worker_token": "t"}, "t", True),
    ("websocket", "/ws", "https://x.example", {"allowed_origins": ["*"]}, None, True),
])
def test_origin_rules(kind: str, path: str, origin: str | None, settings: dict[str, Any],
                      token: str | None, allowed: bool) -> None:
    reason = origin_refusal(kind, path, origin, HOST, lambda: token, Settings(**settings))
    assert (reason is None) is allowed, reason
