"""Who may talk to the bridge from a browser: every Host, Origin and CORS rule, in one place.

The bridge listens on loopback, so the threats are web pages in the user's own browser:

- **DNS rebinding.** A page of ``evil.example`` re-points its name at 127.0.0.1 and then talks
  to the bridge as its own origin; the browser still sends ``Host: evil.example``. Every
  request and WebSocket handshake must therefore name the bridge by a loopback address
  (``127.0.0.1``, ``localhost``, ``[::1]``), the configured listen host, the local address
  the connection arrived at, or a name in ``allowed_hosts`` (Starlette's
  ``TrustedHostMiddleware`` rule, with our error envelope and a live config).
- **Cross-site requests.** Any page may POST to 127.0.0.1 without a preflight (a
  ``no-cors`` fetch, an auto-submitted form). Browsers mark such requests with ``Origin``;
  a web origin the path does not allow is refused with a 403.
- **Browser clients that should get in.** Origins in ``cors_allowed_origins`` get CORS
  answers (Starlette's ``CORSMiddleware``), preflights included.

Origins allowed, by path (no ``Origin`` at all means "not a browser page" and always passes;
neither does an origin of a non-web scheme such as ``app://`` or ``chrome-extension://``,
which no web page can send, except on ``/ws``, which keeps its older stricter rule):

======================  ==================================================================
``/ws``                 the site (lmarena.ai, arena.ai and their subdomains),
                        ``allowed_origins``, or ``?token=<worker_token>``
``/ws/monitor``         the bridge's own pages (the monitor)
``/internal/*``         the site, ``allowed_origins``, the bridge's own pages, ``?token=``
everything else         the bridge's own pages and ``cors_allowed_origins``
======================  ==================================================================

"The bridge's own pages" means an Origin naming the same host and port as the (checked)
``Host``; with ``allowed_hosts: ["*"]`` that check is off, and so is this protection.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from lmarena_bridge.config.model import Settings
from lmarena_bridge.errors import BridgeError, Forbidden
from lmarena_bridge.http.auth import token_matches
from lmarena_bridge.http.responses import error_response_for

log = logging.getLogger(__name__)

SITE_DOMAINS = ("lmarena.ai", "arena.ai")
WEB_SCHEMES = ("http", "https")
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# A Host header: a name or IPv4 address, or a bracketed IPv6 address, and an optional port.
_HOST = re.compile(
    r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+(?:%[0-9A-Za-z._~-]+)?)\]|(?P<name>[0-9A-Za-z._-]+))"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
# Headers a browser client may read from our answers (CORS).
EXPOSED_HEADERS = ("Retry-After", "X-Bridge-Ignored-Params", "X-Request-Id")


# -- Host --------------------------------------------------------------------------------


def host_name(value: str | None) -> str | None:
    """The lower-case name in a ``Host`` value (an IPv6 address without brackets), or None
    when the value is missing or malformed (so it can never be written into a page)."""
    if not value:
        return None
    m = _HOST.fullmatch(value.strip())
    if m is None:
        return None
    name = (m["ip6"] or m["name"]).lower().rstrip(".")
    return name or None


def is_loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _matches(pattern: str, name: str) -> bool:
    """``TrustedHostMiddleware``'s patterns: ``*``, ``*.example.com`` (subdomains), a name."""
    pattern = pattern.strip().lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return host_name(pattern) == name


def host_allowed(
    host: str | None, settings: Settings, local_address: str | None = None
) -> bool:
    """May a request naming ``host`` (the Host header) be served?

    Yes for loopback names, the configured listen host, the local address the connection
    reached (``local_address``: a LAN client of a bridge listening on 0.0.0.0 names it), and
    ``allowed_hosts``.
    """
    name = host_name(host)
    if name is None:
        return False
    if is_loopback(name):
        return True
    listen = host_name(f"[{settings.host}]" if ":" in settings.host else settings.host)
    if name == listen:
        return True
    if local_address and name == local_address.lower():
        return True
    return any(_matches(p, name) for p in settings.allowed_hosts)


# -- Origin ------------------------------------------------------------------------------


def is_web_origin(origin: str) -> bool:
    """An origin a web page can have: http(s), or ``null`` (sandboxed frames, file pages)."""
    origin = origin.strip().lower()
    return origin == "null" or urlsplit(origin).scheme in WEB_SCHEMES


def same_origin(origin: str | None, host: str | None) -> bool:
    """An http(s) Origin naming exactly the host (and port) the bridge was reached at."""
    if not origin or not host:
        return False
    parts = urlsplit(origin.strip())
    return parts.scheme in WEB_SCHEMES and parts.netloc.lower() == host.strip().lower()


def site_origin_allowed(origin: str | None, extra: Iterable[str]) -> bool:
    """No Origin (not a browser) passes; a browser page must be the site's or in ``extra``."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/")
    extra = [o.strip().rstrip("/") for o in extra]
    if origin in extra or "*" in extra:
        return True
    parts = urlsplit(origin)
    name = (parts.hostname or "").lower()
    if parts.scheme not in WEB_SCHEMES:
        return False
    return any(name == d or name.endswith("." + d) for d in SITE_DOMAINS)


def cors_origin_allowed(origin: str, settings: Settings) -> bool:
    allowed = settings.cors_allowed_origins
    return "*" in allowed or origin.strip().rstrip("/").lower() in allowed


def origin_refusal(
    kind: str,
    path: str,
    origin: str | None,
    host: str | None,
    token: Callable[[], str | None],
    settings: Settings,
) -> str | None:
    """Why a request from ``origin`` may not use ``path`` (None: it may); see the table above.

    ``kind`` is the ASGI scope type; ``token`` reads ``?token=`` (only when needed).
    """
    if origin is None:
        return None
    shown = origin[:200]
    if kind == "websocket" and path == "/ws":
        if token_matches(settings.worker_token, token()):
            return None
        if site_origin_allowed(origin, settings.allowed_origins):
            return None
        return (
            f"Browser pages of {shown} may not connect as a worker; add the origin to "
            "allowed_origins in config.jsonc if it is yours."
        )
    if same_origin(origin, host):
        return None
    if kind == "websocket" and path == "/ws/monitor":
        return f"Pages of {shown} may not open the monitor's socket."
    if path.startswith("/internal/") or path == "/internal":
        if token_matches(settings.worker_token, token()):
            return None
        if site_origin_allowed(origin, settings.allowed_origins):
            return None
        return (
            f"Requests from the origin {shown} are not allowed on /internal/*; add it to "
            "allowed_origins in config.jsonc if it is yours."
        )
    if not is_web_origin(origin) or cors_origin_allowed(origin, settings):
        return None
    return (
        f"Requests from the web page origin {shown} are not allowed: a page of another site "
        "must not use your LMArena account. If it is your own web client, add the origin to "
        "cors_allowed_origins in config.jsonc."
    )


# -- the middleware ----------------------------------------------------------------------


class HostNotAllowed(Forbidden):
    code = "host_not_allowed"


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"


class AccessGuard:
    """ASGI middleware applying the rules above to every HTTP request and WebSocket handshake.

    Order: the Host check (403 ``host_not_allowed``), then the Origin rule of the path (403
    ``origin_not_allowed``), then CORS for ``cors_allowed_origins`` outside ``/internal``
    (which answers its own preflights for the site's origins). Refusals are OpenAI error
    envelopes; a refused WebSocket handshake gets the same body as an HTTP 403 where the
    server supports denial responses. Settings are read per request, so edits apply at once.
    """

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings
        self._cors_origins: tuple[str, ...] = ()
        self._cors: ASGIApp = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        host = origin = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.decode("latin-1")
            elif key == b"origin":
                origin = value.decode("latin-1")
        server = scope.get("server")
        if not host_allowed(host, settings, server[0] if server else None):
            shown = (host or "").strip()[:200] or "(none)"
            await self._refuse(
                scope,
                receive,
                send,
                HostNotAllowed(
                    f"The bridge does not answer to the host name {shown!r}: only 127.0.0.1, "
                    "localhost, [::1] and its listen address are served, so that a web page "
                    "cannot reach it through DNS rebinding. If you reach the bridge by this "
                    "name on purpose, add it to allowed_hosts in config.jsonc."
                ),
            )
            return
        path = scope["path"]
        reason = origin_refusal(
            kind, path, origin, host, lambda: _query_param(scope, "token"), settings
        )
        if reason is not None:
            await self._refuse(scope, receive, send, OriginNotAllowed(reason))
            return
        if kind == "http" and settings.cors_allowed_origins and not path.startswith("/internal"):
            await self._with_cors(settings)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _with_cors(self, settings: Settings) -> ASGIApp:
        origins = tuple(settings.cors_allowed_origins)
        if origins != self._cors_origins:
            self._cors = CORSMiddleware(
                self.app,
                allow_origins=origins,
                allow_methods=("GET", "POST", "OPTIONS"),
                # The SDKs send authorization, content-type, x-stainless-*, openai-*, …:
                # mirror whatever the (listed) page asks for.
                allow_headers=("*",),
                expose_headers=EXPOSED_HEADERS,
                # The listed pages may be public sites reaching this loopback server.
                allow_private_network=True,
                max_age=600,
            )
            self._cors_origins = origins
        return self._cors

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: BridgeError) -> None:
        what = "WebSocket" if scope["type"] == "websocket" else scope.get("method", "")
        log.warning("refused %s %s: %s", what, scope["path"], err.message)
        response = error_response_for(
            scope["path"], Headers(scope=scope), err, {"X-Content-Type-Options": "nosniff"}
        )
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
            "extensions", {}
        ):
            await send({"type": "websocket.close", "code": 1008})  # the server answers 403
            return
        await response(scope, receive, send)


def _query_param(scope: Scope, name: str) -> str | None:
    raw = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key == name:
            return value
    return None
