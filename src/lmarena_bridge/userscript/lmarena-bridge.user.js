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
    "site_request", "create", "recaptcha_v3", "stop", "recaptcha_v2", "focus", "models", "upload",
    "fetch_image", "site_headers", "account",
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
  const BADGE = { connected: "✅", connecting: "⏳", capture: "🎯", wrongOrigin: "⛔", human: "🙋" };
  const BADGE_PREFIX = /^(?:(?:✅|⏳|🎯|⛔|🙋)\s*)+/u;

  // reCAPTCHA Enterprise v3 (docs/site-protocol.md §6). The page mints with
  // grecaptcha.enterprise.ready(cb) then execute(sitekey, {action}); tokens are single use.
  const DEFAULT_SITEKEY = "6LeTGMcsAAAAALuIlkVwIxaAuZA8VledA6d3Nnb0";
  const RECAPTCHA_SCRIPT = "https://www.google.com/recaptcha/enterprise.js";
  const RECAPTCHA_SELECTOR = 'script[src*="recaptcha/enterprise.js"]';
  const RECAPTCHA_WAIT_MS = 20000;      // bound on waiting for grecaptcha.enterprise.ready
  const RECAPTCHA_LOADED_GRACE_MS = 3000; // the script loaded but defines no API: give up early
  const RECAPTCHA_EXECUTE_MIN_MS = 5000;
  const RECAPTCHA_REJECTED = "recaptcha validation failed";
  // The visible v2 check the site shows after a refused v3 token (docs/site-protocol.md §6).
  const DEFAULT_V2_SITEKEY = "6Ld7ePYrAAAAAB34ovoFoDau1fqCJ6IyOjFEQaMn";
  const DEFAULT_HUMAN_TIMEOUT_S = 90;   // the bridge sends its human_check_timeout_seconds
  const HUMAN_OVERLAY_ID = "lmarena-bridge-human-check";
  const HUMAN_WIDGET_ID = "lmarena-bridge-recaptcha-v2";
  const HUMAN_CANCEL_ID = "lmarena-bridge-human-cancel";
  const ATTENTION_MS = 8000;            // how long the title flashes after a `focus` command
  const ATTENTION_BLINK_MS = 700;
  const ATTENTION_TITLE = "LMArena Bridge needs you";

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

  // This browser tab's id across its reloads (sessionStorage lives as long as the tab), so
  // the bridge sees a check that spans a reload (Cloudflare, its own refresh) as one.
  const TAB_ID = (() => {
    const key = "lmarena-bridge.tab-id";
    try {
      let id = sessionStorage.getItem(key);
      if (!id) {
        id = crypto.randomUUID();
        sessionStorage.setItem(key, id);
      }
      return id;
    } catch (err) {
      return "";  // storage blocked: every load is a new tab to the bridge
    }
  })();

  // The bridge's own requests call this unwrapped fetch directly, so the capture hook below
  // can never mistake them for the page's (the seed used a global flag, racy with concurrency).
  const nativeFetch = window.fetch;

  let ws = null;               // the current socket; handlers of older sockets ignore events
  let connected = false;       // hello_ack received on the current socket
  let attempt = 0;             // consecutive failed connections, drives the backoff
  let reconnectTimer = null;
  let heartbeatMs = 0;         // 0 until the bridge announces heartbeats in hello_ack
  let lastHeard = 0;           // Date.now() of the last frame from the bridge
  // Legacy retry strategy: id capture (its region is below).
  let captureArmed = false;
  let pendingIds = null;       // ids captured while disconnected, sent on the next connect
  let apiChallenge = "";       // set when a site request met a challenge; a reload clears it
  let reported = null;         // last status sent: "state|detail"
  let configuredSitekey = "";  // recaptcha_sitekey from hello_ack
  let configuredV2Sitekey = "";  // recaptcha_v2_sitekey from hello_ack
  let humanTimeoutS = DEFAULT_HUMAN_TIMEOUT_S;  // human_check_timeout_seconds from hello_ack
  let errorHeaders = DEFAULT_ERROR_HEADERS;  // error_headers from hello_ack
  let answerHeaders = [];      // answer_headers from hello_ack: sent with every site answer
  let accountKey = "";         // opaque hash of the signed-in user (see readAccountKey)
  let injectedScript = null;   // {element, loadedAt, failed} for an enterprise.js we added
  let titleBase = "";          // the page's own title (see pageTitle)
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
      send({ type: "hello", protocol: PROTOCOL, version: VERSION, page: location.href, capabilities: CAPABILITIES,
             tab: TAB_ID, account: accountKey });
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
      configuredV2Sitekey = typeof msg.recaptcha_v2_sitekey === "string" ? msg.recaptcha_v2_sitekey.trim() : "";
      // 0 turns the visible check off (the refusal is reported at once).
      const humanTimeout = Number(msg.human_check_timeout_seconds);
      humanTimeoutS = Number.isFinite(humanTimeout) && humanTimeout >= 0 ? humanTimeout : DEFAULT_HUMAN_TIMEOUT_S;
      errorHeaders = Array.isArray(msg.error_headers) && msg.error_headers.every((h) => typeof h === "string")
        ? msg.error_headers : DEFAULT_ERROR_HEADERS;
      answerHeaders = Array.isArray(msg.answer_headers) && msg.answer_headers.every((h) => typeof h === "string")
        ? msg.answer_headers : [];
      setConnected(true);
      log("connected as worker", msg.worker_id);
      if (answerHeaders.includes("date")) reportSiteClock();
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
      armIdCapture();
    } else if (command === "focus") {
      askForAttention();
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

  // ---- human checks: the visible reCAPTCHA v2 ------------------------------------------

  // When the site refuses the v3 tokens, its own page shows the visible v2 check and resends
  // the same body with recaptchaV2Token instead (docs/site-protocol.md §6). Jobs that wait
  // for it queue here, oldest first; one widget is on screen at a time (a token is single
  // use), in an overlay that says what is going on and offers Cancel.
  const humanQueue = [];       // {requestId, signal, finish(fn, value), resolve, reject}
  let humanWidget = null;      // {entry, container} of the widget on screen
  let humanTicker = null;      // refreshes the overlay's countdown
  let attentionUntil = 0;      // Date.now() until which the title flashes
  let noticedState = "ready";  // the page state a notification was last shown for

  const needsPerson = (state) => state === "needs_human" || state === "challenge" || state === "logged_out";

  // The v2 sitekey: the page's own v2 markup, else the bridge's config, else the site's key.
  function v2Sitekey() {
    const el = document.querySelector(".g-recaptcha[data-sitekey]");  // v2's standard markup
    const key = el && el.getAttribute("data-sitekey");
    if (key && key !== sitekey()) return key;
    return configuredV2Sitekey || DEFAULT_V2_SITEKEY;
  }

  // Resolves with a v2 token once a person solved the check for this job; rejects with a
  // JobError (human_check_timeout, human_check_cancelled, recaptcha_unavailable) or, when
  // the job is aborted, an AbortError.
  function solveV2(requestId, timeoutMs, signal, emit) {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(abortedError());
        return;
      }
      const entry = { requestId, signal, resolve, reject, deadline: Date.now() + timeoutMs };
      const onAbort = () => entry.finish(reject, abortedError());
      const timer = setTimeout(() => entry.finish(reject, new JobError("human_check_timeout",
        `nobody solved the reCAPTCHA check within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      entry.finish = (fn, value) => {
        const index = humanQueue.indexOf(entry);
        if (index < 0) return;
        humanQueue.splice(index, 1);
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (humanWidget && humanWidget.entry === entry) dropWidget();
        updateHumanCheck();
        fn(value);
      };
      signal.addEventListener("abort", onAbort);
      humanQueue.push(entry);
      emit({ type: "needs_human", reason: "recaptcha",
             detail: "the site refused the reCAPTCHA v3 tokens; the visible check is shown in the tab" });
      updateHumanCheck();
    });
  }

  // Shows, refreshes or removes the overlay to match the queue; reports the tab's state.
  function updateHumanCheck() {
    const overlay = document.getElementById(HUMAN_OVERLAY_ID);
    if (!humanQueue.length) {
      if (overlay) overlay.remove();
      clearInterval(humanTicker);
      humanTicker = null;
    } else {
      humanOverlay();
      if (!humanWidget) renderWidget(humanQueue[0]);
      if (!humanTicker) humanTicker = setInterval(showHumanStatus, 1000);
      showHumanStatus();
    }
    reportState();
    renderTitle();
  }

  function showHumanStatus() {
    const status = document.querySelector(`#${HUMAN_OVERLAY_ID} .lmarena-bridge-status`);
    if (!status || !humanQueue.length) return;
    const left = Math.max(0, Math.round((humanQueue[0].deadline - Date.now()) / 1000));
    const waiting = humanQueue.length === 1 ? "1 request waits" : `${humanQueue.length} requests wait`;
    status.textContent = `${waiting} for this check · ${left} s left`;
  }

  function humanOverlay() {
    let overlay = document.getElementById(HUMAN_OVERLAY_ID);
    if (overlay) return overlay;
    const el = (tag, text, css) => {
      const node = document.createElement(tag);
      if (text) node.textContent = text;
      if (css) node.style.cssText = css;
      return node;
    };
    overlay = el("div", "", "position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;" +
      "justify-content:center;background:rgba(15,18,25,.55);font:14px/1.45 system-ui,sans-serif");
    overlay.id = HUMAN_OVERLAY_ID;
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "LMArena Bridge: security check");
    const panel = el("div", "", "background:#fff;color:#1d2330;max-width:440px;margin:16px;padding:18px 20px;" +
      "border-radius:10px;box-shadow:0 10px 40px rgba(0,0,0,.35);transition:outline-color .3s");
    panel.className = "lmarena-bridge-panel";
    panel.append(
      el("div", "🙋 LMArena Bridge: arena.ai wants a quick check", "font-weight:600;font-size:16px;margin-bottom:6px"),
      el("p", "arena.ai did not accept the automatic reCAPTCHA for a request from the bridge. " +
        "Solve the check below and the request continues by itself.", "margin:0 0 8px"),
      el("p", "", "margin:0 0 10px;color:#6a7282;font-size:13px"),
      el("div", "", "min-height:78px;margin-bottom:10px"),
      el("p", "", "margin:0 0 10px;color:#b35c00;font-size:13px"),
    );
    panel.children[2].className = "lmarena-bridge-status";
    panel.children[3].className = "lmarena-bridge-widget";
    panel.children[4].className = "lmarena-bridge-note";
    const cancel = el("button", "Cancel (the waiting requests fail)", "font:inherit;padding:5px 12px;" +
      "border-radius:6px;border:1px solid #c9ced6;background:#f6f7f9;color:#1d2330;cursor:pointer");
    cancel.id = HUMAN_CANCEL_ID;
    cancel.type = "button";
    cancel.addEventListener("click", cancelHumanChecks);
    panel.appendChild(cancel);
    overlay.appendChild(panel);
    (document.body || document.documentElement).appendChild(overlay);
    return overlay;
  }

  function setHumanNote(text) {
    const note = document.querySelector(`#${HUMAN_OVERLAY_ID} .lmarena-bridge-note`);
    if (note) note.textContent = text;
  }

  function dropWidget() {
    if (humanWidget) humanWidget.container.remove();
    humanWidget = null;
  }

  // grecaptcha.enterprise.render into a fresh element (a widget cannot be rendered twice).
  async function renderWidget(entry) {
    const slot = document.querySelector(`#${HUMAN_OVERLAY_ID} .lmarena-bridge-widget`);
    const container = document.createElement("div");
    container.id = HUMAN_WIDGET_ID;
    slot.appendChild(container);
    humanWidget = { entry, container };
    setHumanNote("");
    try {
      const api = await recaptchaReady(entry.signal, Date.now() + RECAPTCHA_WAIT_MS);
      if (typeof api.render !== "function") {
        throw new JobError("recaptcha_unavailable", "grecaptcha.enterprise.render is missing");
      }
      if (!humanWidget || humanWidget.entry !== entry) return;  // gone meanwhile
      api.render(container, {
        sitekey: v2Sitekey(),
        theme: window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light",
        callback: (token) => {
          if (typeof token === "string" && token) entry.finish(entry.resolve, token);
        },
        "expired-callback": () => setHumanNote("The check expired; please solve it again."),
        "error-callback": () => setHumanNote("reCAPTCHA could not run the check (network?); try again."),
      });
    } catch (err) {
      if (entry.signal.aborted) return;
      entry.finish(entry.reject, err instanceof JobError ? err
        : new JobError("recaptcha_unavailable", `the reCAPTCHA check could not be shown: ${describe(err)}`));
    }
  }

  function cancelHumanChecks() {
    log("the person cancelled the reCAPTCHA check");
    for (const entry of humanQueue.slice()) {
      entry.finish(entry.reject, new JobError("human_check_cancelled", "the reCAPTCHA check was cancelled in the page"));
    }
  }

  // A desktop notification, only when the user already allowed them (never asks).
  function notify(body) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const note = new Notification(ATTENTION_TITLE, { body, tag: "lmarena-bridge-human" });
      note.onclick = () => {
        window.focus();
        note.close();
      };
    } catch (err) {
      // Some browsers only allow notifications from a service worker: the title badge stays.
    }
  }

  function noticeState(state) {
    if (state === noticedState) return;
    noticedState = state;
    if (!needsPerson(state)) return;
    notify(state === "needs_human" ? "Solve the reCAPTCHA check in the arena.ai tab; the request waits for it."
      : state === "challenge" ? "Complete the Cloudflare check in the arena.ai tab."
        : "Log in to arena.ai in the tab the bridge uses.");
  }

  // The bridge's `focus` command (the monitor's "Bring tab to front"): browsers honour
  // window.focus() only sometimes, so the title flashes and the overlay is outlined too.
  function askForAttention() {
    try {
      window.focus();
    } catch (err) {
      // ignored: a background tab may not raise itself
    }
    attentionUntil = Date.now() + ATTENTION_MS;
    document.documentElement.dataset.lmarenaBridgeAttention = "on";
    const panel = document.querySelector(`#${HUMAN_OVERLAY_ID} .lmarena-bridge-panel`);
    if (panel) panel.style.outline = "4px solid #f0a54a";
    if (document.hidden) notify("This arena.ai tab needs you (see the monitor).");
    const blink = setInterval(() => {
      renderTitle();
      if (Date.now() >= attentionUntil) {
        clearInterval(blink);
        delete document.documentElement.dataset.lmarenaBridgeAttention;
        const shown = document.querySelector(`#${HUMAN_OVERLAY_ID} .lmarena-bridge-panel`);
        if (shown) shown.style.outline = "";
        renderTitle();
      }
    }, ATTENTION_BLINK_MS / 2);
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
      // After the v3 retries: the visible v2 check, waiting this long for a person (0: none).
      const v2 = Number(spec.v2_timeout_seconds);
      recaptcha.v2TimeoutMs = Number.isFinite(v2) && v2 > 0 ? v2 * 1000 : 0;
    }
    return {
      method,
      path: apiPath(payload.path, "path"),
      body: payload.body,
      recaptcha,
      stopPath: payload.stop_path == null ? null : apiPath(payload.stop_path, "stop_path"),
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
      if (Object.prototype.hasOwnProperty.call(TASKS, payload.type)) {
        emit({ result: await TASKS[payload.type](payload, signal) });
        return;
      }
      let request;
      if (payload.type === "site_request") request = siteRequest(payload);
      else if (payload.type == null) request = seedRequest(payload);
      else throw new JobError("bad_job", `unknown job type ${JSON.stringify(payload.type ?? null)}`);
      job.stopPath = request.stopPath;

      let retriesLeft = request.recaptcha ? request.recaptcha.retries : 0;
      let v2Token = null;  // set once a person solved the visible check: one v2 resend
      for (;;) {
        // A fresh body per attempt: the same ids, a new single-use token. The v2 resend
        // carries the v2 token and no v3 field, as the site's own page does.
        const body = { ...request.body };
        if (v2Token) body.recaptchaV2Token = v2Token;
        else if (request.recaptcha) body.recaptchaV3Token = await mintToken(request.recaptcha.action, signal);
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
        reportAnswerHeaders(response, emit);
        if (response.ok) {
          await streamBody(response, emit);
          return;
        }
        const text = await readText(response);
        if (request.recaptcha && !v2Token && isRecaptchaRejection(response.status, text)) {
          if (retriesLeft > 0) {
            retriesLeft -= 1;
            log("reCAPTCHA token rejected; retrying with a fresh one");
            continue;
          }
          if (request.recaptcha.v2TimeoutMs > 0) {
            log("reCAPTCHA token rejected again; showing the visible check");
            v2Token = await solveV2(requestId, request.recaptcha.v2TimeoutMs, signal, emit);
            emit({ type: "human_solved", reason: "recaptcha" });
            continue;
          }
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

  // The site's clock (its Date header), once per connection: the bridge mints the ids of
  // the first request on it. A HEAD of the page itself, as light as a request gets.
  async function reportSiteClock() {
    try {
      const response = await nativeFetch.call(window, "/", { method: "HEAD", credentials: "same-origin" });
      const date = response.headers.get("date");
      if (date) send({ type: "site_clock", date });
    } catch (err) {
      log("could not read the site's clock:", describe(err));
    }
  }

  // The site's limits and clock, with every answer (docs/worker-protocol.md "site_headers").
  function reportAnswerHeaders(response, emit) {
    if (!answerHeaders.length) return;
    const headers = {};
    for (const name of answerHeaders) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    emit({ type: "site_headers", status: response.status, headers });
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

  // ---- non-stream jobs: models, uploads, images (docs/worker-protocol.md) ---------------

  // Each answers with one {request_id, result} frame. Uploads go through the site's own
  // Next.js server actions (docs/site-protocol.md §10), whose ids change with every
  // deployment: they are read by name from the script chunks this page loaded.
  const CATALOG_PATH = "/nextjs-api/model-catalog";
  const CHUNK_PATH = "/_next/static/chunks/";
  const UPLOAD_ACTIONS = ["generateUploadUrl", "getSignedUrl"];
  const TASKS = { models: modelsTask, upload: uploadTask, fetch_image: fetchImageTask };
  let uploadActions = null;    // {name: id}, found once per page load

  // models: the site's catalog; when it cannot be read, the page itself (its initialModels).
  async function modelsTask(payload, signal) {
    let problem;
    try {
      const response = await nativeFetch.call(window, CATALOG_PATH, { signal, credentials: "same-origin" });
      if (response.ok) {
        const catalog = await response.json();
        if (Array.isArray(catalog)) return { source: "catalog", catalog };
        problem = "the catalog is not a list";
      } else {
        problem = `HTTP ${response.status}`;
      }
    } catch (err) {
      if (signal.aborted) throw err;
      problem = describe(err);
    }
    return { source: "page", html: document.documentElement.outerHTML, catalog_error: problem };
  }

  // The page's own script chunks: from the resource timeline and the script tags.
  function chunkUrls() {
    const urls = new Set();
    const add = (raw) => {
      try {
        const url = new URL(raw, location.href);
        if (url.origin === location.origin && url.pathname.startsWith(CHUNK_PATH) && url.pathname.endsWith(".js")) {
          urls.add(url.href);
        }
      } catch (err) {
        // not a URL
      }
    };
    for (const entry of performance.getEntriesByType("resource")) add(entry.name);
    for (const script of document.scripts) if (script.src) add(script.src);
    return Array.from(urls);
  }

  // Next.js writes each action as createServerReference)("<id>",callServer,…,"<name>").
  function actionId(source, name) {
    const found = new RegExp(`createServerReference\\)\\(\\s*"([0-9a-f]{40,})"[^()]*?"${name}"\\s*\\)`).exec(source);
    return found ? found[1] : null;
  }

  async function findUploadActions(signal) {
    if (uploadActions) return uploadActions;
    const found = {};
    const urls = chunkUrls();
    for (const url of urls) {
      let source;
      try {
        const response = await nativeFetch.call(window, url, { signal, credentials: "same-origin" });
        if (!response.ok) continue;
        source = await response.text();
      } catch (err) {
        if (signal.aborted) throw err;
        continue;
      }
      for (const name of UPLOAD_ACTIONS) found[name] = found[name] || actionId(source, name);
      if (UPLOAD_ACTIONS.every((name) => found[name])) {
        uploadActions = found;
        return found;
      }
    }
    const missing = UPLOAD_ACTIONS.filter((name) => !found[name]).join(", ");
    throw new JobError("upload_unavailable", `no ${missing} action in the ${urls.length} script chunks of this page`);
  }

  // A server action called as the page calls it; its value is the RSC row "1:".
  async function callAction(name, args, signal) {
    const actions = await findUploadActions(signal);
    const response = await nativeFetch.call(window, location.href, {
      method: "POST", signal, credentials: "same-origin", redirect: "manual", body: JSON.stringify(args),
      headers: { "Next-Action": actions[name], Accept: "text/x-component", "Content-Type": "text/plain;charset=UTF-8" },
    });
    const text = await readText(response);
    if (!response.ok) {
      if (response.status === 404) uploadActions = null;  // a new deployment: scan again next time
      throw new JobError("upload_failed", `${name} answered HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    const row = text.split("\n").find((line) => line.startsWith("1:"));
    let value = null;
    try {
      value = row ? JSON.parse(row.slice(2)) : null;
    } catch (err) {
      value = null;
    }
    if (!value || typeof value !== "object") throw new JobError("upload_failed", `${name} sent no value`);
    return value;
  }

  function base64Bytes(b64) {
    const text = atob(b64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  // upload: the bytes become a file of the site's store, the way the page's own upload does it.
  async function uploadTask(payload, signal) {
    const { name, content_type: type, data_b64: data } = payload;
    if (typeof name !== "string" || !name || typeof type !== "string" || !type || typeof data !== "string") {
      throw new JobError("bad_job", "an upload needs name, content_type and data_b64");
    }
    let bytes;
    try {
      bytes = base64Bytes(data);
    } catch (err) {
      throw new JobError("bad_job", "data_b64 is not base64");
    }
    const prepared = await callAction("generateUploadUrl", [name, type], signal);
    const target = prepared.data || {};
    if (!prepared.success || typeof target.uploadUrl !== "string" || typeof target.key !== "string") {
      throw new JobError("upload_failed", `generateUploadUrl refused: ${prepared.error || "no upload URL"}`);
    }
    const put = await nativeFetch.call(window, target.uploadUrl, {
      method: "PUT", body: bytes, headers: { "Content-Type": type }, signal, credentials: "omit",
    });
    if (!put.ok) {
      throw new JobError("upload_failed", `the file store answered HTTP ${put.status} ${(await readText(put)).slice(0, 200)}`);
    }
    const signed = await callAction("getSignedUrl", [target.key.replace(/^\/+/, "")], signal);
    const url = signed.data && signed.data.url;
    if (typeof url !== "string" || !url) throw new JobError("upload_failed", `getSignedUrl gave no URL: ${signed.error || ""}`);
    return { name: target.key, contentType: type, url };
  }

  // fetch_image: an image as this page sees it (the site's own URLs with its cookies).
  async function fetchImageTask(payload, signal) {
    let url;
    try {
      url = new URL(payload.url);
    } catch (err) {
      throw new JobError("bad_job", "fetch_image needs a URL");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new JobError("bad_job", "fetch_image takes http(s) URLs only");
    const limit = Number(payload.max_bytes) > 0 ? Number(payload.max_bytes) : Infinity;
    let response;
    try {
      response = await nativeFetch.call(window, url.href, {
        signal, credentials: url.origin === location.origin ? "same-origin" : "omit",
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new JobError("fetch_failed", describe(err));
    }
    if (!response.ok) throw new JobError("fetch_failed", `HTTP ${response.status}`);
    const blob = await response.blob();
    if (blob.size > limit) throw new JobError("fetch_failed", `larger than ${limit} bytes`);
    const dataUrl = String(await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    }));
    return { content_type: blob.type || "", data_b64: dataUrl.slice(dataUrl.indexOf(",") + 1) };
  }

  // ---- legacy retry strategy (src/lmarena_bridge/site/legacy/) -------------------------
  // Only "site_strategy": "retry" uses these: the seed payload that regenerates a captured
  // message, and the capture of its ids (docs/site-protocol.md §4).

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
      recaptcha: { action: "chat_retry", retries: 1, v2TimeoutMs: humanTimeoutS * 1000 },
      stopPath: null,
    };
  }

  const RETRY_URL = /\/nextjs-api\/stream\/retry-evaluation-session-message\/([a-f0-9-]+)\/messages\/([a-f0-9-]+)/i;

  function armIdCapture() {
    captureArmed = true;
    renderTitle();
    log("id capture armed: click Retry on the assistant message to use");
  }

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

  // [state, detail, reason]: reason only with "needs_human" (older states name it themselves).
  function pageState() {
    if (WRONG_ORIGIN) return ["wrong_origin", WRONG_ORIGIN];
    if (apiChallenge) return ["challenge", apiChallenge];
    const title = pageTitle();
    const shown = CHALLENGE_TITLES.find((marker) => title.includes(marker));
    if (shown) return ["challenge", `page title says "${shown}"`];
    if (document.querySelector(CHALLENGE_SELECTOR) || "_cf_chl_opt" in window) {
      return ["challenge", "Cloudflare challenge elements in the page"];
    }
    // Only an explicit marker counts: the auth cookie may be HttpOnly on the real site, so
    // its absence from document.cookie proves nothing, and a wrong "logged_out" would stop
    // the bridge from using a working tab.
    if (document.querySelector("[data-logged-out]")) return ["logged_out", "the page shows a logged-out view"];
    if (humanQueue.length) {
      const waiting = humanQueue.length === 1 ? "a request waits" : `${humanQueue.length} requests wait`;
      return ["needs_human", `${waiting} for the reCAPTCHA check shown in the page`, "recaptcha"];
    }
    return ["ready", ""];
  }

  // Sends a status report when the state (or its reason) changed since the last one.
  function reportState() {
    const [state, detail, reason] = pageState();
    noticeState(state);
    const key = `${state}|${detail}`;
    if (key === reported) return;
    const frame = { type: "status", state, page: location.href, detail };
    if (reason) frame.reason = reason;
    if (send(frame)) reported = key;
  }

  // The page's own title, without our badges (nor the attention text while it flashes).
  function pageTitle() {
    const current = (document.title || "").replace(BADGE_PREFIX, "");
    if (current !== ATTENTION_TITLE) titleBase = current;
    return titleBase;
  }

  function setConnected(value) {
    connected = value;
    renderTitle();
  }

  // One badge in front of the page's own title; re-applied when the site sets its title.
  function renderTitle() {
    const base = pageTitle();
    const badge = (WRONG_ORIGIN ? BADGE.wrongOrigin : "") + (captureArmed ? BADGE.capture : "") +
      (needsPerson(pageState()[0]) ? BADGE.human : "") + (connected ? BADGE.connected : BADGE.connecting);
    let wanted = `${badge} ${base}`;
    // After a `focus` command the title flashes, so the tab is found in a crowded tab bar.
    if (Date.now() < attentionUntil && Math.floor(Date.now() / ATTENTION_BLINK_MS) % 2) {
      wanted = `${BADGE.human} ${ATTENTION_TITLE}`;
    }
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

  // ---- the signed-in account ------------------------------------------------------------

  // The page's Supabase session (the arena-auth-prod-v1 cookie, possibly split in .0/.1,
  // which the site's own client reads) names the signed-in user. Only the user's id is taken
  // from it, and only a hash of that id leaves the page: never the cookie, a token or an email.
  const AUTH_COOKIE = "arena-auth-prod-v1";

  function signedInUserId() {
    const jar = {};
    for (const part of (document.cookie || "").split(/;\s*/)) {
      const eq = part.indexOf("=");
      if (eq > 0) jar[part.slice(0, eq)] = part.slice(eq + 1);
    }
    const raw = jar[AUTH_COOKIE] || ((jar[`${AUTH_COOKIE}.0`] || "") + (jar[`${AUTH_COOKIE}.1`] || ""));
    if (!raw) return "";
    try {
      const session = JSON.parse(atob(decodeURIComponent(raw).replace(/^base64-/, "")));
      const id = session && session.user && session.user.id;
      return typeof id === "string" ? id : "";
    } catch (err) {
      return "";
    }
  }

  async function readAccountKey() {
    const id = signedInUserId();
    if (!id || !crypto.subtle) return "";
    try {
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`lmarena-bridge:${id}`));
      return "acct-" + Array.from(new Uint8Array(digest).slice(0, 12), (b) => b.toString(16).padStart(2, "0")).join("");
    } catch (err) {
      return "";
    }
  }

  async function start() {
    if (WRONG_ORIGIN) {
      log(WRONG_ORIGIN);
      showWrongOriginBanner();
    }
    accountKey = await readAccountKey();
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
