"""The fake reCAPTCHA Enterprise: the script the page loads, its mint endpoint, the check.

Served on www.google.com and www.recaptcha.net (app.py routes by Host):

- ``GET /recaptcha/enterprise.js?render=<sitekey>``: defines ``grecaptcha.enterprise`` with
  ``ready(cb)``, ``execute(sitekey, {action}) -> Promise<token>`` and
  ``render(element, {sitekey, callback, "expired-callback", "error-callback"})``: the
  visible v2 widget, a button ``#emulator-recaptcha-v2-checkbox`` inside ``element`` that
  a test clicks (the person); the click mints a v2 token and calls ``callback(token)``.
  ``getResponse(id)`` and ``reset(id)`` work on it. With ``state.recaptcha_mode ==
  "unavailable"`` the script loads but defines nothing.
- ``POST /recaptcha/enterprise/__mint`` (``MINT_PATH``), body ``{"sitekey", "action"}``
  (``"kind": "v2"`` from the widget's click, with the v2 sitekey): ``{"token": …}``; the
  token records the request's ``Origin`` (the page it was made in). CORS allows
  ``https://arena.ai`` only.

``check_token`` is what the site's server does with ``recaptchaV3Token`` or, on the resend
after a refusal, ``recaptchaV2Token`` (docs/site-protocol.md §6).
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
V2_TOKEN_FIELD = "recaptchaV2Token"
V2_CHECKBOX_ID = "emulator-recaptcha-v2-checkbox"

# XMLHttpRequest rather than fetch: a userscript may wrap window.fetch, and the real
# grecaptcha talks to Google from its own frame, never through the page's fetch.
_ENTERPRISE_JS = """(() => {
  const SITEKEY = %(sitekey)s, V2_SITEKEY = %(v2_sitekey)s, MINT = %(mint)s;
  const CHECKBOX_ID = %(checkbox_id)s;
  const widgets = [];  // {button, params, token}
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
    // The visible v2 widget: a checkbox-like button; a click stands for the person.
    render(element, params) {
      const container = typeof element === "string" ? document.getElementById(element) : element;
      if (!container || container.childElementCount) {
        throw new Error("reCAPTCHA placeholder element must be an empty element");
      }
      params = params || {};
      const id = widgets.length;
      const box = document.createElement("div");
      box.className = "emulator-recaptcha-v2";
      box.dataset.sitekey = params.sitekey || "";
      box.style.cssText = "display:inline-flex;align-items:center;gap:10px;padding:12px 14px;" +
        "border:1px solid #d3d3d3;border-radius:3px;background:#f9f9f9;color:#000;" +
        "font:14px Roboto,Arial,sans-serif";
      const button = document.createElement("button");
      button.type = "button";
      button.id = CHECKBOX_ID;
      button.textContent = "I'm not a robot";
      box.appendChild(button);
      const widget = {button, params, token: ""};
      widgets.push(widget);
      if (params.sitekey !== V2_SITEKEY) {  // what Google shows for a key it does not know
        button.disabled = true;
        box.appendChild(document.createTextNode("ERROR for site owner: Invalid site key"));
      }
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          widget.token = await post({sitekey: params.sitekey, action: "", kind: "v2"});
          button.textContent = "✓ Verified";
          if (typeof params.callback === "function") params.callback(widget.token);
        } catch (err) {
          button.disabled = false;
          const onError = params["error-callback"];
          if (typeof onError === "function") onError();
        }
      });
      container.appendChild(box);
      return id;
    },
    reset(id) {
      const widget = widgets[id === undefined ? 0 : id];
      if (!widget) return;
      widget.token = "";
      widget.button.disabled = false;
      widget.button.textContent = "I'm not a robot";
    },
    getResponse(id) {
      const widget = widgets[id === undefined ? 0 : id];
      return widget ? widget.token : "";
    },
  };
  window.grecaptcha = Object.assign(window.grecaptcha || {}, {enterprise});
})();
"""


def enterprise_js(state: EmulatorState, host: str) -> str:
    if state.recaptcha_mode == "unavailable":
        return "/* reCAPTCHA is unavailable here (emulator): grecaptcha stays undefined */\n"
    return _ENTERPRISE_JS % {"sitekey": json.dumps(state.recaptcha_sitekey),
                             "v2_sitekey": json.dumps(state.recaptcha_v2_sitekey),
                             "checkbox_id": json.dumps(V2_CHECKBOX_ID),
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
        kind = "v2" if body.get("kind") == "v2" else "v3"
        key = state.recaptcha_v2_sitekey if kind == "v2" else state.recaptcha_sitekey
        if sitekey != key or not isinstance(action, str):
            return JSONResponse({"error": "invalid sitekey or action"}, status_code=400)
        origin = request.headers.get("origin", "")
        state.recaptcha_mints.append(RecaptchaMint(action=action, sitekey=sitekey,
                                                   origin=origin, time=time.time(), kind=kind))
        token = state.mint_recaptcha_token(action, origin=origin, kind=kind)
        return JSONResponse({"token": token})

    return Starlette(
        routes=[Route(SCRIPT_PATH, script), Route(MINT_PATH, mint, methods=["POST"])],
        middleware=[Middleware(CORSMiddleware, allow_origins=[ARENA_ORIGIN],
                               allow_methods=["GET", "POST"], allow_headers=["content-type"])],
    )


def check_token(state: EmulatorState, body: dict[str, Any], action: str,
                path: str) -> RecaptchaCheck:
    """Verify ``body["recaptchaV3Token"]`` for ``action`` or, when the body carries one,
    ``body["recaptchaV2Token"]`` (the resend after a refusal; it must come without a v3
    token); log and return the outcome.

    A token with a good signature is spent by its first check, whatever the outcome. A
    pending ``fail_recaptcha`` is used up by the next check, whatever it carries. In
    ``low_score`` mode every v3 token fails, in ``v2_fails`` v2 tokens fail too.
    """
    kind = "v2" if V2_TOKEN_FIELD in body else "v3"
    if kind == "v2":
        token = body.get(V2_TOKEN_FIELD)
        reason = _problem_v2(state, body, token)
    else:
        token = body.get(TOKEN_FIELD)
        reason = _problem(state, body, token, action)
        if reason == "ok" and state.recaptcha_mode in ("low_score", "v2_fails"):
            reason = "low score"
    if state.recaptcha_forced_failures > 0:
        state.recaptcha_forced_failures -= 1
        reason = "forced failure" if reason == "ok" else reason
    check = RecaptchaCheck(token=token, action=action, ok=reason == "ok", reason=reason,
                           path=path, kind=kind)
    state.recaptcha_checks.append(check)
    return check


def _problem_v2(state: EmulatorState, body: dict[str, Any], token: Any) -> str:
    if TOKEN_FIELD in body:
        return "v3 and v2 together"  # the site's page drops the v3 field on the v2 resend
    problem = _token_problem(state, token, "v2", state.recaptcha_v2_sitekey, None)
    if problem == "ok" and state.recaptcha_mode == "v2_fails":
        return "low score"
    return problem


def _problem(state: EmulatorState, body: dict[str, Any], token: Any, action: str) -> str:
    if TOKEN_FIELD not in body:
        return "missing"
    return _token_problem(state, token, "v3", state.recaptcha_sitekey, action)


def _token_problem(
    state: EmulatorState, token: Any, kind: str, sitekey: str, action: str | None
) -> str:
    """Why a token is refused ("ok" if it is not); a readable token is spent either way."""
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
    if claims.kind != kind:
        return f"not a {kind} token"
    if time.time() - claims.issued_at > state.recaptcha_token_max_age:
        return "expired"
    if claims.sitekey != sitekey:
        return "wrong sitekey"
    if action is not None and claims.action != action:
        return "wrong action"
    if claims.origin != ARENA_ORIGIN:
        return "minted elsewhere"
    return "ok"
