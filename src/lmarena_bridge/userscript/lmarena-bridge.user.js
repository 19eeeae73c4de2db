// ==UserScript==
// @name         LMArena Bridge
// @namespace    https://github.com/lmarena-bridge/lmarena-bridge
// @version      1.0.0
// @description  Lets the local LMArena Bridge (an OpenAI-compatible API) use this LMArena tab: runs the site requests it asks for with this page's cookies and streams the answers back.
// @match        https://lmarena.ai/*
// @match        https://*.lmarena.ai/*
// @match        https://arena.ai/*
// @match        https://*.arena.ai/*
// @grant        none
// @run-at       document-end
// @noframes
// @updateURL    http://127.0.0.1:5102/userscript.user.js
// @downloadURL  http://127.0.0.1:5102/userscript.user.js
// ==/UserScript==

// Worker protocol 2 (docs/worker-protocol.md). The bridge owns all logic; this script only
// runs the fetch it is given, streams the raw body back, reports the page state and obeys
// commands. Every tab running it is an independent worker.
(function () {
  "use strict";

  // The bridge serves this file with this literal replaced by its own address.
  const BRIDGE_URL = "http://127.0.0.1:5102";
  const VERSION = "1.0.0";
  const PROTOCOL = 2;
  const WS_URL = BRIDGE_URL.replace(/\/+$/, "").replace(/^http(s?):/i, "ws$1:") + "/ws";

  const CAPABILITIES = ["abort", "heartbeat", "status", "structured_errors", "ids_captured", "page_source"];
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const STATE_CHECK_MS = 2000;
  const ERROR_BODY_CHARS = 2000;
  const ERROR_HEADERS = ["retry-after", "ratelimit", "ratelimit-policy", "cf-mitigated"];
  const RETRY_URL = /\/nextjs-api\/stream\/retry-evaluation-session-message\/([a-f0-9-]+)\/messages\/([a-f0-9-]+)/i;
  const SITE_HOST = /^(?:[a-z0-9-]+\.)*(?:lmarena\.ai|arena\.ai)$/i;
  const CHALLENGE_TITLES = ["Just a moment", "Checking your browser", "Please wait"];
  const CHALLENGE_SELECTOR = [
    "#challenge-form", "#challenge-running", "#cf-challenge-running", ".cf-browser-verification",
    "#cf-turnstile", "iframe[src*='challenges.cloudflare.com']",
  ].join(",");
  const BADGE = { connected: "✅", connecting: "⏳", capture: "🎯" };
  const BADGE_PREFIX = /^(?:(?:✅|⏳|🎯)\s*)+/u;

  // Tampermonkey honours @match/@noframes, but the same file is also injected as a plain
  // init script (tests, other managers), which runs on about:blank and in iframes too.
  if (window.top !== window || location.protocol !== "https:" || !SITE_HOST.test(location.hostname)) return;
  // Two managers (or two installs) in one page would make two workers fight over one fetch hook.
  if (window.__lmarenaBridgeLoaded) return;
  window.__lmarenaBridgeLoaded = true;

  const log = (...args) => console.log("[LMArena Bridge]", ...args);

  // The bridge's own requests call this unwrapped fetch directly, so the capture hook below
  // can never mistake them for the page's (the seed used a global flag, racy with concurrency).
  const nativeFetch = window.fetch;

  let ws = null;               // the current socket; handlers of older sockets ignore events
  let connected = false;       // hello_ack received on the current socket
  let attempt = 0;             // consecutive failed connections, drives the backoff
  let reconnectTimer = null;
  let heartbeatMs = 0;         // 0 until the bridge announces heartbeats in hello_ack
  let lastHeard = 0;           // Date.now() of the last frame from the bridge
  let captureArmed = false;
  let pendingIds = null;       // ids captured while disconnected, sent on the next connect
  let apiChallenge = "";       // set when a site request met a challenge; a reload clears it
  let reported = null;         // last status sent: "state|detail"
  const jobs = new Map();      // request_id -> AbortController (one per site request)

  // ---- socket ---------------------------------------------------------------------------

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    let socket;
    try {
      socket = new WebSocket(WS_URL);
    } catch (err) {
      log("cannot open", WS_URL, err);
      scheduleReconnect();
      return;
    }
    ws = socket;
    setConnected(false);
    socket.onopen = () => {
      if (ws !== socket) return;
      lastHeard = Date.now();
      send({ type: "hello", protocol: PROTOCOL, version: VERSION, page: location.href, capabilities: CAPABILITIES });
      reported = null; // the bridge knows nothing about this page yet
      reportState();
      if (pendingIds && send(pendingIds)) pendingIds = null;
    };
    socket.onmessage = (event) => {
      if (ws !== socket) return;
      lastHeard = Date.now();
      handleFrame(event.data);
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      log("disconnected", event.code, event.reason || "");
      dropSocket();
    };
    socket.onerror = () => {}; // onclose follows and does the work
  }

  // Forget the current socket: its jobs can no longer report (the bridge fails them on its
  // side), so their fetches are aborted instead of streaming into nothing.
  function dropSocket() {
    const socket = ws;
    ws = null;
    heartbeatMs = 0;
    setConnected(false);
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
    for (const controller of jobs.values()) controller.abort();
    jobs.clear();
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    // Exponential backoff with jitter, so many tabs do not reconnect in lockstep.
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    attempt += 1;
    reconnectTimer = setTimeout(connect, delay);
  }

  function handleFrame(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch (err) {
      log("ignoring a frame that is not JSON");
      return;
    }
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "hello_ack") {
      attempt = 0;
      heartbeatMs = Number(msg.heartbeat_interval) > 0 ? Number(msg.heartbeat_interval) * 1000 : 0;
      setConnected(true);
      log("connected as worker", msg.worker_id);
    } else if (msg.type === "ping") {
      send({ type: "pong", ts: msg.ts });
    } else if (msg.type === "abort") {
      abortJob(msg.request_id);
    } else if (typeof msg.command === "string") {
      runCommand(msg.command);
    } else if (typeof msg.request_id === "string" && msg.payload && typeof msg.payload === "object") {
      runJob(msg.request_id, msg.payload);
    } else {
      log("ignoring an unknown frame", msg);
    }
  }

  function runCommand(command) {
    if (command === "refresh" || command === "reconnect") {
      log(command, "requested: reloading the page");
      location.reload();
    } else if (command === "activate_id_capture") {
      captureArmed = true;
      renderTitle();
      log("id capture armed: click Retry on the assistant message to use");
    } else if (command === "send_page_source") {
      send({ type: "page_source", html: document.documentElement.outerHTML });
    } else {
      log("ignoring unknown command", command);
    }
  }

  // ---- jobs -----------------------------------------------------------------------------

  function abortJob(requestId) {
    const controller = jobs.get(requestId);
    if (!controller) return;
    jobs.delete(requestId);
    controller.abort();
  }

  // The site's retry body (SITE_PROTOCOL §1.3): a linear chain of fresh messages.
  function buildBody(payload) {
    const templates = Array.isArray(payload.message_templates) ? payload.message_templates : [];
    if (!payload.session_id || !payload.message_id) throw new Error("the job has no session_id/message_id");
    if (templates.length === 0) throw new Error("the job has no messages");
    const now = new Date().toISOString();
    let parent = null;
    const messages = templates.map((template, index) => {
      const id = crypto.randomUUID();
      const last = index === templates.length - 1;
      const message = {
        role: template.role,
        content: typeof template.content === "string" ? template.content : "",
        id,
        evaluationId: null,
        evaluationSessionId: payload.session_id,
        parentMessageIds: parent ? [parent] : [],
        experimental_attachments: (template.attachments || []).map((a) => ({
          name: a.name, contentType: a.contentType, url: a.url,
        })),
        failureReason: null,
        metadata: null,
        participantPosition: template.participantPosition || "a",
        createdAt: now,
        updatedAt: now,
        // Image requests send every message as done; otherwise the last one is the one to answer.
        status: payload.is_image_request || !last ? "success" : "pending",
      };
      parent = id;
      return message;
    });
    return { messages, modelId: payload.target_model_id ?? null };
  }

  async function runJob(requestId, payload) {
    if (jobs.has(requestId)) return;
    const controller = new AbortController();
    jobs.set(requestId, controller);
    const signal = controller.signal;
    // Once this job is aborted (by the bridge or a disconnect) nothing more goes out for it.
    const emit = (frame) => {
      if (!signal.aborted) send({ request_id: requestId, ...frame });
    };
    try {
      const body = JSON.stringify(buildBody(payload));
      const url = "/nextjs-api/stream/retry-evaluation-session-message/" +
        `${encodeURIComponent(payload.session_id)}/messages/${encodeURIComponent(payload.message_id)}`;
      // No headers, like the site: the browser sends text/plain and the page's cookies.
      const response = await nativeFetch.call(window, url, { method: "PUT", body, signal });
      if (!response.ok) {
        await reportHttpError(response, emit);
        return;
      }
      const reader = response.body.getReader();
      // stream: true keeps a multi-byte character split across reads intact.
      const decoder = new TextDecoder("utf-8");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const text = decoder.decode(value, { stream: true });
        if (text) emit({ data: text });
      }
      const tail = decoder.decode();
      if (tail) emit({ data: tail });
      emit({ data: "[DONE]" });
    } catch (err) {
      if (signal.aborted) return;
      emit({ error: { message: `fetch failed: ${err && err.message ? err.message : err}`,
                      status: null, content_type: null, body: null, headers: {} } });
    } finally {
      if (jobs.get(requestId) === controller) jobs.delete(requestId);
    }
  }

  async function reportHttpError(response, emit) {
    let text = "";
    try {
      text = await response.text();
    } catch (err) {
      text = "";
    }
    const headers = {};
    for (const name of ERROR_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    const contentType = response.headers.get("content-type");
    emit({ error: { message: `HTTP ${response.status}`, status: response.status, content_type: contentType,
                    body: text.slice(0, ERROR_BODY_CHARS), headers } });
    const html = (contentType || "").includes("text/html") || /^\s*<(?:!doctype|html)/i.test(text);
    if (headers["cf-mitigated"] === "challenge" || (html && text.includes("Just a moment"))) {
      // The page itself may still look fine; only a reload (the bridge's `refresh`) shows the
      // challenge to the user, so the tab stays "challenge" until then.
      apiChallenge = `site request answered HTTP ${response.status} with a Cloudflare challenge`;
      reportState();
    }
  }

  // ---- id capture -----------------------------------------------------------------------

  // Installed once; it only looks at the page's own requests (see nativeFetch) and never
  // changes them: the page's retry goes through unchanged.
  window.fetch = function (input, init) {
    if (captureArmed) {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input && input.url;
      const match = typeof url === "string" ? RETRY_URL.exec(url) : null;
      if (match) {
        captureArmed = false;
        renderTitle();
        const frame = { type: "ids_captured", session_id: match[1], message_id: match[2] };
        log("captured ids", frame.session_id, frame.message_id);
        if (!send(frame)) pendingIds = frame;
      }
    }
    return nativeFetch.apply(window, arguments);
  };

  // ---- page state and title -------------------------------------------------------------

  function pageState() {
    if (apiChallenge) return ["challenge", apiChallenge];
    const title = document.title || "";
    const shown = CHALLENGE_TITLES.find((marker) => title.includes(marker));
    if (shown) return ["challenge", `page title says "${shown}"`];
    if (document.querySelector(CHALLENGE_SELECTOR) || "_cf_chl_opt" in window) {
      return ["challenge", "Cloudflare challenge elements in the page"];
    }
    // Only an explicit marker counts: the auth cookie may be HttpOnly on the real site, so
    // its absence from document.cookie proves nothing, and a wrong "logged_out" would stop
    // the bridge from using a working tab.
    if (document.querySelector("[data-logged-out]")) return ["logged_out", "the page shows a logged-out view"];
    return ["ready", ""];
  }

  // Sends a status report when the state (or its reason) changed since the last one.
  function reportState() {
    const [state, detail] = pageState();
    const key = `${state}|${detail}`;
    if (key === reported) return;
    if (send({ type: "status", state, page: location.href, detail })) reported = key;
  }

  function setConnected(value) {
    connected = value;
    renderTitle();
  }

  // One badge in front of the page's own title; re-applied when the site sets its title.
  function renderTitle() {
    const base = (document.title || "").replace(BADGE_PREFIX, "");
    const badge = (captureArmed ? BADGE.capture : "") + (connected ? BADGE.connected : BADGE.connecting);
    const wanted = `${badge} ${base}`;
    if (document.title !== wanted) document.title = wanted;
  }

  function tick() {
    renderTitle();
    if (ws && ws.readyState === WebSocket.OPEN) {
      // A half-open socket never fires onclose; silence for three heartbeats means it is dead.
      if (heartbeatMs && Date.now() - lastHeard > 3 * heartbeatMs) {
        log("no heartbeat from the bridge: reconnecting");
        dropSocket();
        return;
      }
      reportState();
    }
  }

  function start() {
    connect();
    setInterval(tick, STATE_CHECK_MS);
    // React to the site retitling the page at once rather than on the next tick.
    new MutationObserver(renderTitle).observe(document.head || document.documentElement,
      { childList: true, subtree: true, characterData: true });
  }

  // As an init script this can run before the document is parsed; the title and challenge
  // markers (and so the first status report) are only meaningful once it is.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
