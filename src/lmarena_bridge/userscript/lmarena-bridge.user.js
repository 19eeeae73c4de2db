// ==UserScript==
// @name         LMArena Bridge
// @namespace    https://github.com/lmarena-bridge/lmarena-bridge
// @version      2.0.0
// @description  Lets the local LMArena Bridge (an OpenAI-compatible API) use this arena.ai tab: runs the site requests it asks for with this page's cookies and reCAPTCHA, and streams the answers back.
// @match        https://arena.ai/*
// @match        https://*.arena.ai/*
// @match        https://lmarena.ai/*
// @match        https://*.lmarena.ai/*
// @grant        none
// @run-at       document-end
// @noframes
// @updateURL    http://127.0.0.1:5102/userscript.user.js
// @downloadURL  http://127.0.0.1:5102/userscript.user.js
// ==/UserScript==

// Worker protocol 2 (docs/worker-protocol.md). The bridge builds every site request; this
// script adds what only the page can add (its cookies, a fresh reCAPTCHA token), streams the
// raw body back, reports the page state and obeys commands. Every tab running it is an
// independent worker.
(function () {
  "use strict";

  // The bridge serves this file with this literal replaced by its own address.
  const BRIDGE_URL = "http://127.0.0.1:5102";
  const VERSION = "2.0.0";
  const PROTOCOL = 2;
  const WS_URL = BRIDGE_URL.replace(/\/+$/, "").replace(/^http(s?):/i, "ws$1:") + "/ws";

  const CAPABILITIES = [
    "abort", "heartbeat", "status", "structured_errors", "ids_captured", "page_source",
    "site_request", "recaptcha_v3", "stop",
  ];
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const STATE_CHECK_MS = 2000;
  const ERROR_BODY_CHARS = 2000;
  // The bridge sends the names it reads in hello_ack (error_headers); this is the fallback.
  const DEFAULT_ERROR_HEADERS = [
    "retry-after", "ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining",
    "ratelimit-reset", "ratelimit-modality", "location", "cf-mitigated",
  ];
  const API_PREFIX = "/nextjs-api/";
  const RETRY_URL = /\/nextjs-api\/stream\/retry-evaluation-session-message\/([a-f0-9-]+)\/messages\/([a-f0-9-]+)/i;
  // The site lives on arena.ai since February 2026; lmarena.ai answers API calls with a
  // cross-origin 301 that turns a POST into a GET (docs/site-protocol.md §1).
  const ARENA_HOST = /^(?:[a-z0-9-]+\.)*arena\.ai$/i;
  const LEGACY_HOST = /^(?:[a-z0-9-]+\.)*lmarena\.ai$/i;
  const ARENA_ORIGIN = "https://arena.ai";
  const CHALLENGE_TITLES = ["Just a moment", "Checking your browser", "Please wait"];
  const CHALLENGE_SELECTOR = [
    "#challenge-form", "#challenge-running", "#cf-challenge-running", ".cf-browser-verification",
    "#cf-turnstile", "iframe[src*='challenges.cloudflare.com']",
  ].join(",");
  const BADGE = { connected: "✅", connecting: "⏳", capture: "🎯", wrongOrigin: "⛔" };
  const BADGE_PREFIX = /^(?:(?:✅|⏳|🎯|⛔)\s*)+/u;

  // reCAPTCHA Enterprise v3 (docs/site-protocol.md §6). The page mints with
  // grecaptcha.enterprise.ready(cb) then execute(sitekey, {action}); tokens are single use.
  const DEFAULT_SITEKEY = "6LeTGMcsAAAAALuIlkVwIxaAuZA8VledA6d3Nnb0";
  const RECAPTCHA_SCRIPT = "https://www.google.com/recaptcha/enterprise.js";
  const RECAPTCHA_SELECTOR = 'script[src*="recaptcha/enterprise.js"]';
  const RECAPTCHA_WAIT_MS = 20000;      // bound on waiting for grecaptcha.enterprise.ready
  const RECAPTCHA_LOADED_GRACE_MS = 3000; // the script loaded but defines no API: give up early
  const RECAPTCHA_EXECUTE_MIN_MS = 5000;
  const RECAPTCHA_REJECTED = "recaptcha validation failed";

  // Tampermonkey honours @match/@noframes, but the same file is also injected as a plain
  // init script (tests, other managers), which runs on about:blank and in iframes too.
  const host = location.hostname;
  if (window.top !== window || location.protocol !== "https:") return;
  if (!ARENA_HOST.test(host) && !LEGACY_HOST.test(host)) return;
  // Two managers (or two installs) in one page would make two workers fight over one fetch hook.
  if (window.__lmarenaBridgeLoaded) return;
  window.__lmarenaBridgeLoaded = true;

  // On lmarena.ai the script still connects, so the bridge can tell the user, but runs no job.
  const WRONG_ORIGIN = LEGACY_HOST.test(host) ? `this tab is on ${host}; open ${ARENA_ORIGIN}` : "";

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
  let configuredSitekey = "";  // recaptcha_sitekey from hello_ack
  let errorHeaders = DEFAULT_ERROR_HEADERS;  // error_headers from hello_ack
  let injectedScript = null;   // {element, loadedAt, failed} for an enterprise.js we added
  // request_id -> {controller, stopPath, sent}: one AbortController per site request.
  const jobs = new Map();

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
  // side), so their fetches are aborted (and stopped on the site) instead of streaming into nothing.
  function dropSocket() {
    const socket = ws;
    ws = null;
    heartbeatMs = 0;
    setConnected(false);
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
    for (const requestId of Array.from(jobs.keys())) abortJob(requestId);
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
      configuredSitekey = typeof msg.recaptcha_sitekey === "string" ? msg.recaptcha_sitekey.trim() : "";
      errorHeaders = Array.isArray(msg.error_headers) && msg.error_headers.every((h) => typeof h === "string")
        ? msg.error_headers : DEFAULT_ERROR_HEADERS;
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

  // ---- reCAPTCHA ------------------------------------------------------------------------

  // A failure the worker names itself: reported with a `code`, never as a fetch error.
  class JobError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function abortedError() {
    return new DOMException("the job was aborted", "AbortError");
  }

  function pageRecaptchaScript() {
    return document.querySelector(RECAPTCHA_SELECTOR);
  }

  // Sitekey, in order: the page's own enterprise.js?render=<key>, the bridge's config, the default.
  function sitekey() {
    const script = pageRecaptchaScript();
    if (script) {
      try {
        const key = new URL(script.src, location.href).searchParams.get("render");
        if (key && key !== "explicit") return key;
      } catch (err) {
        // an unparsable src: fall through
      }
    }
    return configuredSitekey || DEFAULT_SITEKEY;
  }

  function recaptchaApi() {
    const g = window.grecaptcha;
    const api = g && g.enterprise;
    return api && typeof api.ready === "function" ? api : null;
  }

  // Only when the page has no enterprise.js of its own (a page that loaded it already has the
  // right key; a second copy would only fight it).
  function ensureRecaptchaScript() {
    if (recaptchaApi() || pageRecaptchaScript()) return;
    if (injectedScript && !injectedScript.failed) return;
    const element = document.createElement("script");
    const state = { element, loadedAt: 0, failed: false };
    element.src = `${RECAPTCHA_SCRIPT}?render=${encodeURIComponent(configuredSitekey || DEFAULT_SITEKEY)}`;
    element.async = true;
    element.addEventListener("load", () => { state.loadedAt = Date.now(); });
    element.addEventListener("error", () => {
      state.failed = true;
      element.remove(); // the next job may try again
    });
    injectedScript = state;
    (document.head || document.documentElement).appendChild(element);
    log("injected", element.src);
  }

  // When the enterprise.js in the page finished loading (0 while unknown or still loading).
  function recaptchaLoadedAt() {
    if (injectedScript && injectedScript.element.isConnected) return injectedScript.loadedAt;
    const script = pageRecaptchaScript();
    if (!script || document.readyState !== "complete") return 0;
    const entry = performance.getEntriesByName(script.src).find((e) => e.responseEnd > 0);
    return entry ? performance.timeOrigin + entry.responseEnd : 0;
  }

  // grecaptcha.enterprise once its ready() callback ran; bounded by RECAPTCHA_WAIT_MS.
  async function recaptchaReady(signal, deadline) {
    ensureRecaptchaScript();
    let api;
    while (!(api = recaptchaApi())) {
      if (signal.aborted) throw abortedError();
      if (injectedScript && injectedScript.failed && !pageRecaptchaScript()) {
        throw new JobError("recaptcha_unavailable", `${RECAPTCHA_SCRIPT} could not be loaded`);
      }
      const loadedAt = recaptchaLoadedAt();
      if (loadedAt && Date.now() - loadedAt > RECAPTCHA_LOADED_GRACE_MS) {
        throw new JobError("recaptcha_unavailable", "enterprise.js loaded but grecaptcha.enterprise is missing");
      }
      if (Date.now() > deadline) {
        throw new JobError("recaptcha_unavailable",
          `grecaptcha.enterprise did not appear within ${RECAPTCHA_WAIT_MS / 1000} s`);
      }
      await sleep(50);
    }
    await new Promise((resolve, reject) => {
      const finish = (fn, value) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        fn(value);
      };
      const onAbort = () => finish(reject, abortedError());
      const timer = setTimeout(() => finish(reject, new JobError("recaptcha_unavailable",
        `grecaptcha.enterprise.ready did not fire within ${RECAPTCHA_WAIT_MS / 1000} s`)),
      Math.max(0, deadline - Date.now()));
      signal.addEventListener("abort", onAbort);
      try {
        api.ready(() => finish(resolve));
      } catch (err) {
        finish(reject, new JobError("recaptcha_unavailable", `grecaptcha.enterprise.ready failed: ${describe(err)}`));
      }
    });
    return window.grecaptcha.enterprise;
  }

  // A new v3 token for one attempt. Never cached: every token is used exactly once.
  async function mintToken(action, signal) {
    const deadline = Date.now() + RECAPTCHA_WAIT_MS;
    const api = await recaptchaReady(signal, deadline);
    if (!api || typeof api.execute !== "function") {
      throw new JobError("recaptcha_unavailable", "grecaptcha.enterprise.execute is missing");
    }
    const key = sitekey();
    let timer;
    try {
      const token = await Promise.race([
        Promise.resolve().then(() => api.execute(key, { action })),
        new Promise((resolve, reject) => {
          timer = setTimeout(() => reject(new JobError("recaptcha_unavailable",
            "grecaptcha.enterprise.execute did not answer in time")),
          Math.max(RECAPTCHA_EXECUTE_MIN_MS, deadline - Date.now()));
        }),
      ]);
      if (signal.aborted) throw abortedError();
      if (typeof token !== "string" || !token) {
        throw new JobError("recaptcha_unavailable", "grecaptcha.enterprise.execute returned no token");
      }
      return token;
    } catch (err) {
      if (err instanceof JobError || signal.aborted) throw err;
      throw new JobError("recaptcha_unavailable", `grecaptcha.enterprise.execute failed: ${describe(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- jobs -----------------------------------------------------------------------------

  function describe(err) {
    return err && err.message ? err.message : String(err);
  }

  function abortJob(requestId) {
    const job = jobs.get(requestId);
    if (!job) return;
    jobs.delete(requestId);
    job.controller.abort();
    // Aborting the fetch alone leaves the model generating on the site (docs/site-protocol.md §5.5).
    if (job.stopPath && job.sent) {
      nativeFetch.call(window, job.stopPath, { method: "POST", keepalive: true, credentials: "same-origin" })
        .then((r) => log("stop", job.stopPath, r.status))
        .catch((err) => log("stop failed", job.stopPath, describe(err)));
    }
  }

  // A same-origin path under /nextjs-api/ (after resolving dots), or a bad_job error.
  function apiPath(path, what) {
    if (typeof path !== "string" || !path.startsWith(API_PREFIX)) {
      throw new JobError("bad_job", `${what} must start with ${API_PREFIX}`);
    }
    const url = new URL(path, location.origin);
    if (url.origin !== location.origin || !url.pathname.startsWith(API_PREFIX)) {
      throw new JobError("bad_job", `${what} leaves ${API_PREFIX}`);
    }
    return url.pathname + url.search;
  }

  // site_request (protocol 2): the bridge built the request; only the token is added here.
  function siteRequest(payload) {
    const method = typeof payload.method === "string" ? payload.method.toUpperCase() : "POST";
    if (method !== "POST" && method !== "PUT") throw new JobError("bad_job", `method ${payload.method} is not allowed`);
    if (!payload.body || typeof payload.body !== "object" || Array.isArray(payload.body)) {
      throw new JobError("bad_job", "the job has no JSON object body");
    }
    let recaptcha = null;
    if (payload.recaptcha != null) {
      const spec = payload.recaptcha;
      if (typeof spec !== "object" || typeof spec.action !== "string" || !spec.action) {
        throw new JobError("bad_job", "recaptcha needs an action");
      }
      const retries = Number(spec.v3_retries);
      recaptcha = { action: spec.action, retries: Number.isFinite(retries) && retries > 0 ? Math.floor(retries) : 0 };
    }
    return {
      method,
      path: apiPath(payload.path, "path"),
      body: payload.body,
      recaptcha,
      stopPath: payload.stop_path == null ? null : apiPath(payload.stop_path, "stop_path"),
    };
  }

  // Seed payload: the site's retry body (docs/site-protocol.md §4), a linear chain of fresh messages;
  // `metadata` is an object (the site's schema rejects null) and a chat_retry token is added.
  function seedRequest(payload) {
    const templates = Array.isArray(payload.message_templates) ? payload.message_templates : [];
    if (!payload.session_id || !payload.message_id) throw new JobError("bad_job", "the job has no session_id/message_id");
    if (templates.length === 0) throw new JobError("bad_job", "the job has no messages");
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
        metadata: {},
        participantPosition: template.participantPosition || "a",
        createdAt: now,
        updatedAt: now,
        // Image requests send every message as done; otherwise the last one is the one to answer.
        status: payload.is_image_request || !last ? "success" : "pending",
      };
      parent = id;
      return message;
    });
    return {
      method: "PUT",
      path: "/nextjs-api/stream/retry-evaluation-session-message/" +
        `${encodeURIComponent(payload.session_id)}/messages/${encodeURIComponent(payload.message_id)}`,
      body: { messages, modelId: payload.target_model_id ?? null },
      recaptcha: { action: "chat_retry", retries: 1 },
      stopPath: null,
    };
  }

  function jobError(code, message) {
    return { error: { message, status: null, code, content_type: null, body: null, headers: {} } };
  }

  function isRecaptchaRejection(status, text) {
    if (status !== 403) return false;
    try {
      const parsed = JSON.parse(text);
      return !!parsed && typeof parsed.error === "string" && parsed.error.toLowerCase() === RECAPTCHA_REJECTED;
    } catch (err) {
      return false;
    }
  }

  async function runJob(requestId, payload) {
    if (jobs.has(requestId)) return;
    const controller = new AbortController();
    const job = { controller, stopPath: null, sent: false };
    jobs.set(requestId, job);
    const signal = controller.signal;
    // Once this job is aborted (by the bridge or a disconnect) nothing more goes out for it.
    const emit = (frame) => {
      if (!signal.aborted) send({ request_id: requestId, ...frame });
    };
    try {
      if (WRONG_ORIGIN) throw new JobError("wrong_origin", WRONG_ORIGIN);
      let request;
      if (payload.type === "site_request") request = siteRequest(payload);
      else if (payload.type == null) request = seedRequest(payload);
      else throw new JobError("bad_job", `unknown job type ${JSON.stringify(payload.type ?? null)}`);
      job.stopPath = request.stopPath;

      let retriesLeft = request.recaptcha ? request.recaptcha.retries : 0;
      for (;;) {
        // A fresh body per attempt: the same ids, a new single-use token.
        const body = { ...request.body };
        if (request.recaptcha) body.recaptchaV3Token = await mintToken(request.recaptcha.action, signal);
        if (signal.aborted) return;
        job.sent = true;
        // No headers, like the site: the browser sends text/plain and the page's cookies.
        // A redirect is never followed: it would turn the POST into a GET elsewhere.
        const response = await nativeFetch.call(window, request.path, {
          method: request.method, body: JSON.stringify(body), signal, redirect: "manual",
          credentials: "same-origin",
        });
        if (response.type === "opaqueredirect") {
          emit(jobError("wrong_origin", "the site redirected the request (it may have moved to another domain)"));
          return;
        }
        if (response.ok) {
          await streamBody(response, emit);
          return;
        }
        const text = await readText(response);
        if (request.recaptcha && retriesLeft > 0 && isRecaptchaRejection(response.status, text)) {
          retriesLeft -= 1;
          log("reCAPTCHA token rejected; retrying with a fresh one");
          continue;
        }
        reportHttpError(response, text, emit);
        return;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof JobError) {
        log("job", requestId, "refused:", err.code, err.message);
        emit(jobError(err.code, err.message));
      } else {
        emit({ error: { message: `fetch failed: ${describe(err)}`,
                        status: null, content_type: null, body: null, headers: {} } });
      }
    } finally {
      if (jobs.get(requestId) === job) jobs.delete(requestId);
    }
  }

  async function streamBody(response, emit) {
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
  }

  async function readText(response) {
    try {
      return await response.text();
    } catch (err) {
      return "";
    }
  }

  function reportHttpError(response, text, emit) {
    const headers = {};
    for (const name of errorHeaders) {
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
    if (WRONG_ORIGIN) return ["wrong_origin", WRONG_ORIGIN];
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
    const badge = (WRONG_ORIGIN ? BADGE.wrongOrigin : "") + (captureArmed ? BADGE.capture : "") +
      (connected ? BADGE.connected : BADGE.connecting);
    const wanted = `${badge} ${base}`;
    if (document.title !== wanted) document.title = wanted;
  }

  // On lmarena.ai: say so in the page and offer the same page on arena.ai.
  function showWrongOriginBanner() {
    if (!WRONG_ORIGIN || !document.body || document.getElementById("lmarena-bridge-wrong-origin")) return;
    const banner = document.createElement("div");
    banner.id = "lmarena-bridge-wrong-origin";
    banner.setAttribute("role", "alert");
    banner.style.cssText = "position:fixed;z-index:2147483647;top:0;left:0;right:0;padding:8px 12px;" +
      "background:#b91c1c;color:#fff;font:14px/1.4 system-ui,sans-serif;text-align:center";
    const link = document.createElement("a");
    link.href = ARENA_ORIGIN + location.pathname + location.search + location.hash;
    link.textContent = "Open this page on arena.ai";
    link.style.cssText = "color:#fff;font-weight:bold;text-decoration:underline";
    banner.append(`LMArena Bridge: the site has moved; requests from ${host} fail. `, link);
    document.body.appendChild(banner);
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
    if (WRONG_ORIGIN) {
      log(WRONG_ORIGIN);
      showWrongOriginBanner();
    }
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
