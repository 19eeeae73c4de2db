"""Classify the site's failures into :class:`~lmarena_bridge.errors.SiteError`.

Inputs come from the worker: a protocol-2 structured error (status, content type, body,
headers), a protocol-1 error string (split by site/legacy/seed_errors.py), or an in-stream
``a3`` line. Decisions are made on
the HTTP status and headers first; the body only refines them (and is quoted so the user
sees what the site said). Model output is never classified here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from lmarena_bridge.errors import SiteError
from lmarena_bridge.invocation import command

# Cloudflare's challenge markers (docs/site-protocol.md §2), compared case-insensitively.
# "Attention Required! | Cloudflare" is a WAF block rather than a challenge, but the cure is
# the same: look at the tab.
_CHALLENGE_MARKERS = tuple(
    m.lower()
    for m in (
        "<title>Just a moment",
        "Enable JavaScript and cookies to continue",
        "window._cf_chl_opt",
        "cf-browser-verification",
        "cf-challenge-running",
        "__cf_chl_jschl_tk__",
        "Checking your browser before accessing",
        "DDoS protection by Cloudflare",
        "Verifying you are human",
        "Please complete the security check",
        "challenges.cloudflare.com",
        "Attention Required! | Cloudflare",
    )
)
_CONTENT_POLICY = "content violates our terms"
_EXCERPT_CHARS = 300
_RETRY_CAP_SECONDS = 3600.0
_RATE_LIMIT_DEFAULT_SECONDS = 30.0
_CHALLENGE_RETRY_SECONDS = 10.0

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")
_STREAM_POLICY = re.compile(
    r"content[ _-]?(?:policy|filter)|violates|terms of (?:use|service)|moderation",
    re.IGNORECASE,
)


def classify_failure(
    *,
    status: int | None,
    content_type: str | None,
    body: str,
    headers: Mapping[str, str] | None = None,
    message: str = "",
    code: str | None = None,
    captured_ids: bool = False,
) -> SiteError:
    """Map one failed site request to a SiteError with an OpenAI-fitting status and code.

    ``status`` is None when ``fetch`` itself failed in the browser. ``message`` is the
    worker's own description (used when the body says nothing); ``code`` names a failure
    the worker recognised itself (``recaptcha_unavailable``, ``wrong_origin``, ``bad_job``).
    ``captured_ids``: the request used captured ids (the legacy retry strategy), so advice
    about the session may say to capture new ones. The error's ``site_status`` is ``status``.
    """
    error = _classify(status, content_type, body, headers, message, code, captured_ids)
    error.site_status = status
    return error


def _classify(
    status: int | None,
    content_type: str | None,
    body: str,
    headers: Mapping[str, str] | None,
    message: str,
    code: str | None,
    captured_ids: bool,
) -> SiteError:
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    body = body or ""
    lowered = body.lower()
    said = _excerpt(body) or _excerpt(message)
    quote = f" LMArena said: {said}" if said else ""

    worker_error = _worker_named(code, said)
    if worker_error is not None:
        return worker_error

    if _is_challenge(status, content_type, body, lowered, hdrs):
        return SiteError(
            "LMArena is showing a Cloudflare security check. Open the LMArena tab in your "
            "browser, complete the check, then retry.",
            kind="challenge",
            status=503,
            code="cloudflare_challenge",
            retry_after=_CHALLENGE_RETRY_SECONDS,
        )
    if status == 429 and "prompt failed" in lowered:
        return SiteError(
            "LMArena refused the prompt as too large (HTTP 429 \"prompt failed\"). Send a "
            "shorter conversation: drop old turns or long attachments.",
            kind="too_large",
            status=400,
            type="invalid_request_error",
            code="prompt_too_large",
        )
    if status == 429:
        wait = _retry_after(hdrs)
        return SiteError(
            f"LMArena rate limit reached; retry in about {round(wait)} s.{quote}",
            kind="rate_limit",
            status=429,
            type="rate_limit_error",
            code="rate_limit_exceeded",
            retry_after=wait,
        )
    if status == 422 or _CONTENT_POLICY in lowered:
        return SiteError(
            f"LMArena rejected the request under its content policy.{quote}",
            kind="content_policy",
            status=400,
            type="invalid_request_error",
            code="content_policy_violation",
        )
    # Only the status decides this: "413" inside a UUID or a message means nothing (§7 #12).
    if status == 413:
        return SiteError(
            "An attachment is too large for LMArena (its limit is about 5 MB); "
            f"send a smaller image.{quote}",
            kind="too_large",
            status=413,
            type="invalid_request_error",
            code="attachment_too_large",
        )
    if status in (301, 302, 307, 308, 405):
        return SiteError(
            f"LMArena answered HTTP {status}: the tab is not on https://arena.ai (the site "
            "moved there from lmarena.ai, and a redirected POST fails). Open https://arena.ai "
            f"in the tab with the userscript.{quote}",
            kind="wrong_origin",
            status=503,
            code="wrong_origin",
            retry_after=_CHALLENGE_RETRY_SECONDS,
        )
    if status == 400 and "offset too big" in lowered:
        return clock_skew_error(None)
    if status == 400 and '"zoderror"' in lowered:
        return _schema_changed(body, quote)
    if status == 401 and "does not have access" not in lowered:
        return SiteError(
            "LMArena says the tab is not logged in (HTTP 401). Open the arena.ai tab, log in "
            f"(or reload it so the site signs you in again), then retry.{quote}",
            kind="logged_out",
            status=503,
            code="logged_out",
            retry_after=_CHALLENGE_RETRY_SECONDS,
        )
    if status == 401 and captured_ids:
        return SiteError(
            "LMArena refused the captured session: it belongs to another account or you are "
            "logged out. Check that you are logged in on the LMArena tab, then re-capture ids "
            f"with `{command('capture-ids')}`.{quote}",
            kind="session",
            status=403,
            type="permission_error",
            code="site_session_rejected",
        )
    if status == 401:
        # Create strategy: the conversation is the bridge's own (a follow-up of
        # reuse_site_sessions), made while another account was logged in; no ids to capture.
        return SiteError(
            "LMArena refused the conversation: it belongs to another account, or the tab is "
            "logged out. Check which account is logged in on the arena.ai tab, then retry "
            f"(a new request starts a new conversation).{quote}",
            kind="session",
            status=403,
            type="permission_error",
            code="site_session_rejected",
        )
    if status == 400 and "already has feedback" in lowered:
        return SiteError(
            "The captured LMArena message has been voted on and can no longer be retried; "
            f"capture new ids with `{command('capture-ids')}`.{quote}",
            kind="session",
            status=400,
            type="invalid_request_error",
            code="message_has_feedback",
        )
    if status == 403 and "recaptcha" in lowered:
        return SiteError(
            "LMArena's reCAPTCHA check failed, also with a fresh token. In the arena.ai tab, "
            "solve the check if one is shown, or log in with an email account (anonymous "
            f"users get low scores), then retry.{quote}",
            kind="challenge",
            status=503,
            code="recaptcha_failed",
            retry_after=_CHALLENGE_RETRY_SECONDS,
        )
    if status is None:
        reason = _excerpt(message) or _excerpt(body) or "network error"
        return SiteError(
            f"The browser could not reach LMArena ({reason}). Check the tab and your connection.",
            kind="other",
            status=502,
            code="site_unreachable",
        )
    moved = hdrs.get("location", "")
    hint = f" The site redirected to {moved}; open the bridge tab there." if moved else ""
    return SiteError(
        f"LMArena answered HTTP {status}.{quote}{hint}",
        kind="other",
        status=502,
        code="site_error",
    )


def classify_stream_error(message: str) -> SiteError:
    """Classify an in-stream ``a3`` error: the site accepted the request, the answer failed."""
    said = _excerpt(message) or "no details"
    if _CONTENT_POLICY in message.lower() or _STREAM_POLICY.search(message):
        return SiteError(
            f"LMArena stopped the answer under its content policy. LMArena said: {said}",
            kind="content_policy",
            status=400,
            type="invalid_request_error",
            code="content_policy_violation",
        )
    return SiteError(
        f"The answer failed on LMArena's side. LMArena said: {said}",
        kind="other",
        status=502,
        code="site_stream_error",
    )


# ---- helpers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Named:
    """How a failure the tab named itself reaches the client; ``{detail}`` is what it said."""

    message: str
    kind: str
    status: int
    code: str | None = None  # the client's code, when not the tab's own
    retry: bool = False  # a Retry-After: the tab may be usable again soon

    def error(self, code: str, detail: str) -> SiteError:
        return SiteError(
            self.message.format(detail=detail),
            kind=self.kind,
            status=self.status,
            code=self.code or code,
            retry_after=_CHALLENGE_RETRY_SECONDS if self.retry else None,
        )


_NOT_SOLVED = (
    "The reCAPTCHA check shown in the arena.ai tab {what}{{detail}}; the request was not sent. "
    "Solve the check in the tab, then retry."
)
# The codes of docs/worker-protocol.md's structured errors.
_WORKER_NAMED: dict[str, _Named] = {
    "recaptcha_unavailable": _Named(
        "The arena.ai tab could not mint a reCAPTCHA token: the page's reCAPTCHA script did "
        "not load{detail}. Reload the tab (check that no blocker hides Google's reCAPTCHA), "
        "then retry.",
        "challenge", 503, retry=True),
    "wrong_origin": _Named(
        "The browser tab is not on https://arena.ai{detail}. Open https://arena.ai in the tab "
        "with the userscript.",
        "wrong_origin", 503, retry=True),
    # The visible reCAPTCHA check was not solved (relay/human.py names the tab).
    "human_check_timeout": _Named(
        _NOT_SOLVED.format(what="was not solved in time"), "challenge", 503, retry=True),
    "human_check_cancelled": _Named(
        _NOT_SOLVED.format(what="was cancelled"), "challenge", 503, retry=True),
    "upload_unavailable": _Named(
        "The arena.ai tab could not find the page's upload actions (generateUploadUrl, "
        "getSignedUrl){detail}, so the image could not be uploaded for this model. Reload the "
        "tab and retry; if it keeps failing the site changed and the bridge needs an update.",
        "upload", 502),
    "upload_failed": _Named(
        "Uploading the image through the arena.ai tab failed{detail}.", "upload", 502),
    "fetch_failed": _Named(
        "The arena.ai tab could not fetch the image{detail}.", "other", 502,
        code="image_fetch_failed"),
    "bad_job": _Named(
        "The browser tab refused the request the bridge built{detail}.", "other", 502),
}


def clock_skew_error(offset: float | None) -> SiteError:
    """The site's 400 "Evaluation session ID seems spoofed, offset too big": the ids' time
    (the bridge mints them on the site's clock, learnt from its ``date`` header) is far
    from the site's. ``offset``: the site's clock minus this machine's, as measured."""
    measured = (f"The site's clock is {offset:+.0f} s from this machine's (measured from its "
                "Date header) and the bridge already mints ids on the site's time, so the "
                "offset moved or the site checks something else"
                if offset is not None and abs(offset) >= 1 else
                "The bridge measured no offset from the site's Date header yet"
                if offset is None else
                f"The measured offset is only {offset:+.1f} s")
    return SiteError(
        'LMArena refused the request\'s ids as "spoofed, offset too big": their time is '
        f"too far from the site's clock. {measured}. Set this computer's clock right (turn "
        "on automatic time sync), reload the arena.ai tab, and retry.",
        kind="other",
        status=502,
        code="clock_skew",
    )


def _worker_named(code: str | None, said: str) -> SiteError | None:
    """A failure the tab recognised before or instead of a site request."""
    named = _WORKER_NAMED.get(code) if code else None
    if named is None or code is None:
        return None
    return named.error(code, f" ({said})" if said else "")


def _schema_changed(body: str, quote: str) -> SiteError:
    """A ZodError: the site's request schema no longer matches what the bridge sends."""
    paths: list[str] = []
    try:
        issues = orjson.loads(body)["error"]["issues"]
        for issue in issues:
            path = ".".join(str(p) for p in issue.get("path") or []) or "(body)"
            paths.append(f"{path}: {issue.get('message', 'invalid')}")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        pass
    named = "; ".join(paths[:10]) if paths else "no paths given"
    return SiteError(
        f"LMArena refused the request's shape (its schema changed?): {named}. The bridge "
        f"needs an update for today's site.{'' if paths else quote}",
        kind="other",
        status=502,
        code="site_schema_changed",
    )


def _is_challenge(
    status: int | None,
    content_type: str | None,
    body: str,
    lowered: str,
    hdrs: Mapping[str, str],
) -> bool:
    if status in (403, 503, None) and hdrs.get("cf-mitigated", "").strip().lower() == "challenge":
        return True
    head = body.lstrip()[:20].lower()
    html = "text/html" in (content_type or "").lower() or head.startswith(("<!doctype", "<html"))
    return html and any(marker in lowered for marker in _CHALLENGE_MARKERS)


def _retry_after(hdrs: Mapping[str, str]) -> float:
    """Seconds to wait: ``Retry-After``, else the ``ratelimit`` header's reset/remaining."""
    seconds = _number(hdrs.get("retry-after"))
    if seconds is None:
        fields = _ratelimit_fields(hdrs.get("ratelimit", ""))
        seconds = _number(fields.get("reset")) or _reset_seconds(hdrs.get("ratelimit-reset"))
        if seconds is None and hdrs.get("ratelimit-modality", "").strip().lower() == "image":
            # The site reads ratelimit-remaining as seconds until images are allowed again.
            seconds = _number(hdrs.get("ratelimit-remaining"))
        if seconds is None:
            # The site treats remaining= as seconds until the model is usable again (§2.3).
            seconds = _number(fields.get("remaining"))
    if seconds is None or seconds <= 0:
        return _RATE_LIMIT_DEFAULT_SECONDS
    return min(seconds, _RETRY_CAP_SECONDS)


def _ratelimit_fields(value: str) -> dict[str, str]:
    """``limit=3000, remaining=0, reset=30`` (also ``;``-separated) → a dict."""
    fields: dict[str, str] = {}
    for part in re.split(r"[,;]", value):
        key, sep, val = part.partition("=")
        if sep:
            fields[key.strip().lower()] = val.strip().strip('"')
    return fields


def _reset_seconds(value: str | None) -> float | None:
    """``ratelimit-reset``: seconds, or (the 2026 site) a Unix time."""
    number = _number(value)
    if number is not None and number > 1_000_000_000:
        number = number - time.time()
    return number


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None  # e.g. an HTTP date; the caller falls back to other hints
    return number if number > 0 and number == number else None


def _excerpt(text: str) -> str:
    """The site's own words: a JSON ``error``/``message`` field, an HTML title, or the text."""
    text = text.strip()
    if not text:
        return ""
    if text[0] in "{[":
        try:
            said = _json_message(orjson.loads(text))
        except orjson.JSONDecodeError:
            said = None
        if said:
            text = said
    elif text[:1] == "<":
        title = _TITLE.search(text)
        text = title.group(1) if title else re.sub(r"<[^>]*>", " ", text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 1] + "…"
    return text


def _json_message(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("error", "message", "detail"):
            inner = value.get(key)
            if isinstance(inner, str) and inner:
                return inner
            if isinstance(inner, dict):
                found = _json_message(inner)
                if found:
                    return found
    return None
