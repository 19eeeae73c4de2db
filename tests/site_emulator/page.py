"""HTML of the emulated site: the Next.js-like chat page and the Cloudflare challenge page."""

from __future__ import annotations

import html
import json
from typing import Any

from .state import TEXT_MODEL_ID, EmulatorState, SiteSession
from .uploads import chunk_tags

PAGE_TITLE = "LMArena"

# The site's retry button handler, reduced to what matters: it mints a chat_retry token, then
# calls the *global* fetch at click time (so a userscript's fetch wrapper sees it) with a
# JSON body and no headers. Without grecaptcha the token is null, as on the site.
_PAGE_JS = """
const mintToken = async (action) => {
  for (let i = 0; i < 50 && !(window.grecaptcha && window.grecaptcha.enterprise); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    await new Promise((resolve) => window.grecaptcha.enterprise.ready(resolve));
    return await window.grecaptcha.enterprise.execute(SITEKEY, {action});
  } catch (e) {
    return null;
  }
};
const onRetry = async (btn) => {
  const sid = btn.dataset.session, mid = btn.dataset.message, pos = btn.dataset.position;
  const now = new Date().toISOString();
  const messages = HISTORY.map((m, i) => ({
    id: m.id, role: m.role, content: m.content, evaluationId: null, evaluationSessionId: sid,
    parentMessageIds: i ? [HISTORY[i - 1].id] : [], experimental_attachments: [],
    failureReason: null, metadata: {}, participantPosition: "a", createdAt: now, updatedAt: now,
    status: i === HISTORY.length - 1 ? "pending" : "success",
  }));
  const out = btn.parentElement.querySelector(".content");
  out.textContent = "";
  const recaptchaV3Token = await mintToken("chat_retry");
  const url = `/nextjs-api/stream/retry-evaluation-session-message/${sid}/messages/${mid}`;
  const body = JSON.stringify({messages, modelId: null, recaptchaV3Token});
  const res = await fetch(url, {method: "PUT", body});
  if (!res.ok) { out.textContent = `Error ${res.status}`; btn.dataset.done = "error"; return; }
  const reader = res.body.getReader(), decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let nl;
    while ((nl = buffer.indexOf("\\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line[0] !== pos || line.slice(1, 3) !== "0:") continue;
      out.textContent += JSON.parse(line.slice(3));
    }
  }
  btn.dataset.done = "ok";
};
document.querySelectorAll("button.retry-btn").forEach(
  (btn) => btn.addEventListener("click", () => onRetry(btn)));
"""

# Stands in for Turnstile finishing on its own: once a test "solves" the challenge the page
# reloads itself, as Cloudflare's interstitial does.
_CHALLENGE_HTML = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>
<body><div class="main-wrapper"><div id="cf-challenge-running" class="cf-browser-verification">
<h1>arena.ai</h1><p>Checking your browser before accessing arena.ai.</p>
<noscript>Enable JavaScript and cookies to continue</noscript>
<p>Verifying you are human. This may take a few seconds.</p></div></div>
<script>window._cf_chl_opt = {cvId: "3", cType: "managed"};
setInterval(async () => {
  try {
    const r = await fetch("/__emulator/challenge");
    if (!(await r.json()).active) location.reload();
  } catch (e) {}
}, 250);</script></body></html>"""


def challenge_page() -> str:
    return _CHALLENGE_HTML


def flight_push(text: str) -> str:
    """One ``self.__next_f.push([1,"…"])`` script carrying ``text`` as a JS string literal.

    A JSON string literal is a valid JS string literal; only ``</`` must be broken up so
    that a ``</script>`` inside the data cannot end the tag.
    """
    literal = json.dumps(text, ensure_ascii=False).replace("</", "<\\/")
    return f"<script>self.__next_f.push([1,{literal}])</script>"


def model_flight(state: EmulatorState) -> str:
    """The RSC row carrying the model list, as the site has it (docs/site-protocol.md §3)."""
    if state.page_variant == "initialState":  # summer 2025: the list under initialState
        props: dict[str, Any] = {"initialState": state.models,
                                 "data-sentry-element": "EvaluationStoreProvider"}
    else:
        props = {"initialModels": state.models, "initialModelAId": TEXT_MODEL_ID,
                 "initialModelBId": None, "initialState": "$undefined",
                 "data-sentry-element": "EvaluationStoreProvider"}
    row = ["$", "$L20", None, {"children": ["$", "$L21", None, props]}]
    return "1c:" + json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def chat_page(state: EmulatorState, session: SiteSession | None, logged_in: bool) -> str:
    pushes = [
        flight_push('0:{"P":null,"b":"emulator-build","p":"","c":["",""],"i":false}\n'),
        flight_push(model_flight(state)),
        flight_push('1d:["$","$L22",null,{"state":{"mutations":[],"queries":[]},'
                    '"children":"$L23","data-sentry-element":"HydrationBoundary"}]\n'),
    ]
    body_attrs = "" if logged_in else " data-logged-out"
    if logged_in and session is not None:
        main = _conversation(session)
        history = [{"id": m.id, "role": m.role, "content": m.content}
                   for m in session.messages if m.role != "assistant"]
    else:
        main = '<main><p>Sign in to start chatting.</p><button id="login">Sign in</button></main>'
        history = []
    history_js = json.dumps(history, ensure_ascii=False).replace("</", "<\\/")
    sitekey_js = json.dumps(state.recaptcha_sitekey)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{PAGE_TITLE}</title>{recaptcha_tag(state)}{chunk_tags()}"
        "<script>(self.__next_f=self.__next_f||[]).push([0])</script></head>"
        f"<body{body_attrs}>{''.join(pushes)}{main}"
        f"<script>const HISTORY = {history_js}, SITEKEY = {sitekey_js};{_PAGE_JS}</script>"
        "</body></html>"
    )


def recaptcha_tag(state: EmulatorState) -> str:
    """The site's reCAPTCHA Enterprise loader (async: it may arrive after a userscript)."""
    if not state.page_has_recaptcha_script:
        return ""
    src = f"https://www.google.com/recaptcha/enterprise.js?render={state.recaptcha_sitekey}"
    return f'<script src="{html.escape(src)}" async></script>'


def _conversation(session: SiteSession) -> str:
    parts = [f'<main id="conversation" data-session="{session.id}" data-mode="{session.mode}">']
    for m in session.messages:
        text = html.escape(m.content)
        attrs = (f'class="message {m.role}" data-message-id="{m.id}" '
                 f'data-position="{m.position}"')
        if m.role != "assistant":
            parts.append(f'<div {attrs}><div class="content">{text}</div></div>')
            continue
        # The first side's button is #retry-btn, side b's #retry-btn-b (battle pages).
        button_id = "retry-btn" if m.position == "a" else f"retry-btn-{m.position}"
        parts.append(
            f'<div {attrs}><div class="content">{text}</div>'
            f'<button class="retry-btn" id="{button_id}" data-session="{session.id}" '
            f'data-message="{m.id}" data-position="{m.position}">Retry</button></div>'
        )
    parts.append("</main>")
    return "".join(parts)
