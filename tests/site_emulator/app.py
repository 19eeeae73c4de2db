"""The emulator's ASGI app: one port, routed by the Host header.

- ``arena.ai`` (and any host not listed below, e.g. ``127.0.0.1`` in in-process tests): the
  site: chat pages, the stream endpoints (evaluation.py), test-only ``/__emulator/*``.
- ``lmarena.ai``, ``*.lmarena.ai``: every request → 301 to ``https://arena.ai`` + same path
  and query (logged in ``state.redirects``), as the renamed site does.
- ``www.google.com``, ``www.recaptcha.net``: the fake reCAPTCHA (recaptcha.py).
- ``uploads.emulator.test``: the file store's presigned URLs (uploads.py, store.py).

``create_emulator(state)`` returns a Starlette app whose only state is ``state``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Host, Mount, Route
from starlette.types import Receive, Scope, Send

from .evaluation import RETRY_PATH, stream_routes
from .hosts import ARENA_ORIGIN, LEGACY_HOST, RECAPTCHA_HOSTS, UPLOADS_HOST
from .page import chat_page
from .recaptcha import create_recaptcha_app
from .records import record
from .responses import challenge_response
from .state import AUTH_COOKIE, EmulatorState
from .uploads import arena_routes, create_store_app, server_action

__all__ = ["RETRY_PATH", "create_emulator"]

ARENAS = ("text", "code", "webdev", "image", "search", "video", "document")
PAGE_PATHS = ("/", "/c/{sid}", "/direct", "/battle", "/side-by-side",
              *(f"/{arena}/{{mode}}" for arena in ARENAS))


def create_emulator(state: EmulatorState) -> Starlette:
    arena = create_arena_app(state)
    legacy = LegacyRedirect(state)
    recaptcha = create_recaptcha_app(state)
    return Starlette(routes=[
        Host(LEGACY_HOST, legacy),
        Host(f"{{subdomain}}.{LEGACY_HOST}", legacy),
        *(Host(host, recaptcha) for host in RECAPTCHA_HOSTS),
        Host(UPLOADS_HOST, create_store_app(state)),
        Mount("", arena),  # arena.ai, and any other host so in-process tests stay simple
    ])


class LegacyRedirect:
    """lmarena.ai answers every method and path with a 301 to the same place on arena.ai.

    A browser follows a 301 after a POST with a GET, which the stream endpoints refuse (405).
    """

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        rec = record(self.state, request, body=None, size=0, log=self.state.redirects)
        raw_path = scope.get("raw_path")
        path = raw_path.split(b"?")[0].decode("latin-1") if raw_path else request.url.path
        query = f"?{request.url.query}" if request.url.query else ""
        rec.status = 301
        await RedirectResponse(f"{ARENA_ORIGIN}{path}{query}", status_code=301)(
            scope, receive, send)


def create_arena_app(state: EmulatorState) -> Starlette:
    async def page(request: Request) -> Response:
        if request.method == "POST":  # Next.js server actions post to the page's URL
            return await server_action(state, request)
        rec = record(state, request, body=None, size=0)
        if state.challenge_active:
            rec.status = 403
            return challenge_response(status=403)
        user_id, _ = state.user_from_cookies(dict(request.cookies))
        set_cookie = None
        if user_id is None and state.auto_login:
            # Like the site: a visit without a session gets a (anonymous) one.
            user_id = state.default_user.id
            set_cookie = state.auth_cookie_for(user_id)
        sid = request.path_params.get("sid")
        session = state.sessions.get(sid) if sid else state.direct_session
        if session is not None and session.owner != user_id:
            session = None
        response = HTMLResponse(chat_page(state, session, logged_in=user_id is not None))
        if set_cookie:
            # Not HttpOnly: the real cookie is read by the site's Supabase client.
            response.set_cookie(AUTH_COOKIE, set_cookie, max_age=365 * 86400, path="/",
                                secure=True, samesite="lax", httponly=False)
        rec.status = response.status_code
        response.headers["date"] = state.limits.date_header()  # the site's clock (limits.py)
        return response

    async def solve(request: Request) -> Response:
        state.solve_challenge()
        return JSONResponse({"solved": True})

    async def challenge_status(request: Request) -> Response:
        return JSONResponse({"active": state.challenge_active})

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # keeps "no console errors" checks quiet

    return Starlette(routes=[
        *(Route(path, page, methods=["GET", "HEAD", "POST"]) for path in PAGE_PATHS),
        *stream_routes(state),
        *arena_routes(state),
        Route("/__emulator/solve", solve, methods=["POST"]),
        Route("/__emulator/challenge", challenge_status),
        Route("/favicon.ico", favicon),
    ])
