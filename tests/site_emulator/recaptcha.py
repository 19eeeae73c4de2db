"""The fake reCAPTCHA Enterprise: the script the page loads, its mint endpoint, the check.

Served on www.google.com and www.recaptcha.net (app.py routes by Host):

- ``GET /recaptcha/enterprise.js?render=<sitekey>``: defines ``grecaptcha.enterprise`` with
  ``ready(cb)``, ``execute(sitekey, {action}) -> Promise<token>`` and a stub ``render``.
  With ``state.recaptcha_mode == "unavailable"`` the script loads but defines nothing.
- ``POST /recaptcha/enterprise/__mint`` (``MINT_PATH``), body ``{"sitekey", "action"}``:
  ``{"token": …}``; the token records the request's ``Origin`` (the page it was made in).
  CORS allows ``https://arena.ai`` only.

``check_token`` is what the site's server does with ``recaptchaV3Token``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import tokens
from .hosts import ARENA_ORIGIN
from .records import RecaptchaCheck, RecaptchaMint
from .state import EmulatorState

SCRIPT_PATH = "/recaptcha/enterprise.js"
MINT_PATH = "/recaptcha/enterprise/__mint"
TOKEN_FIELD = "recaptchaV3Token"

# XMLHttpRequest rather than fetch: a userscript may wrap window.fetch, and the real
# grecaptcha talks to Google from its own frame, never through the page's fetch.
_ENTERPRISE_JS = """(() => {
  const SITEKEY = %(sitekey)s, MINT = %(mint)s;
  const post = (body) => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", MINT);
    xhr.onload = () => xhr.status === 200
      ? resolve(JSON.parse(xhr.responseText).token)
      : reject(new Error("reCAPTCHA mint failed: " + xhr.status));
    xhr.onerror = () => reject(new Error("reCAPTCHA mint failed: network"));
    xhr.send(JSON.stringify(body));
  });
  const enterprise = {
    ready(cb) { Promise.resolve().then(cb); },
    execute(sitekey, options) {
      if (sitekey !== SITEKEY) {
        return Promise.reject(new Error("Invalid site key or not loaded in api.js: " + sitekey));
      }
      return post({sitekey, action: (options && options.action) || ""});
    },
    render(element, params) { return 0; },  // the v2 widget: not emulated yet
    reset() {},
    getResponse() { return ""; },
  };
  window.grecaptcha = Object.assign(window.grecaptcha || {}, {enterprise});
})();
"""


def enterprise_js(state: EmulatorState, host: str) -> str:
    if state.recaptcha_mode == "unavailable":
        return "/* reCAPTCHA is unavailable here (emulator): grecaptcha stays undefined */\n"
    return _ENTERPRISE_JS % {"sitekey": json.dumps(state.recaptcha_sitekey),
                             "mint": json.dumps(f"https://{host}{MINT_PATH}")}


def create_recaptcha_app(state: EmulatorState) -> Starlette:
    async def script(request: Request) -> Response:
        host = request.headers.get("host", "www.google.com").split(":")[0]
        return Response(enterprise_js(state, host), media_type="text/javascript",
                        headers={"cache-control": "no-store"})

    async def mint(request: Request) -> Response:
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or state.recaptcha_mode == "unavailable":
            return JSONResponse({"error": "bad request"}, status_code=400)
        sitekey, action = body.get("sitekey"), body.get("action")
        if sitekey != state.recaptcha_sitekey or not isinstance(action, str):
            return JSONResponse({"error": "invalid sitekey or action"}, status_code=400)
        origin = request.headers.get("origin", "")
        state.recaptcha_mints.append(RecaptchaMint(action=action, sitekey=sitekey,
                                                   origin=origin, time=time.time()))
        return JSONResponse({"token": state.mint_recaptcha_token(action, origin=origin)})

    return Starlette(
        routes=[Route(SCRIPT_PATH, script), Route(MINT_PATH, mint, methods=["POST"])],
        middleware=[Middleware(CORSMiddleware, allow_origins=[ARENA_ORIGIN],
                               allow_methods=["GET", "POST"], allow_headers=["content-type"])],
    )


def check_token(state: EmulatorState, body: dict[str, Any], action: str,
                path: str) -> RecaptchaCheck:
    """Verify ``body["recaptchaV3Token"]`` for ``action``; log and return the outcome.

    A token with a good signature is spent by its first check, whatever the outcome. A
    pending ``fail_recaptcha`` is used up by the next check, whatever it carries.
    """
    token = body.get(TOKEN_FIELD)
    reason = _problem(state, body, token, action)
    if state.recaptcha_forced_failures > 0:
        state.recaptcha_forced_failures -= 1
        reason = "forced failure" if reason == "ok" else reason
    check = RecaptchaCheck(token=token, action=action, ok=reason == "ok", reason=reason,
                           path=path)
    state.recaptcha_checks.append(check)
    return check


def _problem(state: EmulatorState, body: dict[str, Any], token: Any, action: str) -> str:
    if TOKEN_FIELD not in body:
        return "missing"
    if token is None:
        return "null"
    if token == "":
        return "empty"
    if not isinstance(token, str):
        return "malformed"
    claims = tokens.parse(state.recaptcha_secret, token)
    if claims is None:
        return "bad signature"
    if claims.nonce in state.recaptcha_used:
        return "reused"
    state.recaptcha_used.add(claims.nonce)
    if time.time() - claims.issued_at > state.recaptcha_token_max_age:
        return "expired"
    if claims.sitekey != state.recaptcha_sitekey:
        return "wrong sitekey"
    if claims.action != action:
        return "wrong action"
    if claims.origin != ARENA_ORIGIN:
        return "minted elsewhere"
    return "ok"
