"""Site failure classification: statuses, headers and bodies -> SiteError."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lmarena_bridge.errors import SiteError
from lmarena_bridge.site.failures import (
    classify_failure,
    classify_stream_error,
)
from lmarena_bridge.site.legacy.seed_errors import classify_seed_error, parse_seed_error

CF_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>'
    "<body>Enable JavaScript and cookies to continue<script>window._cf_chl_opt={}</script>"
)
WAF_PAGE = "<html><head><title>Attention Required! | Cloudflare</title></head></html>"
FEEDBACK = '{"error":"Message already has feedback, cannot retry"}'
POLICY = (
    '{"error":"Request rejected: Content violates our terms of use for evaluation session id: 1"}'
)
NO_ACCESS = '{"error":"User 7f3 does not have access to evaluation session 413a"}'


def fail(
    status: int | None, body: str = "", content_type: str | None = None, **kw: Any
) -> SiteError:
    return classify_failure(status=status, content_type=content_type, body=body, **kw)


ZOD = json.dumps({"success": False, "error": {"name": "ZodError", "issues": [
    {"code": "invalid_type", "expected": "object", "received": "null",
     "path": ["userMessage", "metadata"], "message": "Expected object, received null"},
    {"code": "invalid_string", "path": ["id"], "message": "Invalid uuid"}]}})

def test_schema_change_names_the_paths() -> None:
    err = classify_failure(status=400, content_type="application/json", body=ZOD)
    assert "userMessage.metadata" in err.message and "id" in err.message


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [("recaptcha_unavailable", 503, "recaptcha_unavailable"), ("wrong_origin", 503,
     "wrong_origin"), ("bad_job", 502, "bad_job")],
)
def test_worker_named_failures(code: str, status: int, expected: str) -> None:
    err = classify_failure(status=None, content_type=None, body="", message="x", code=code)
    assert (err.status, err.code) == (status, expected)


def test_ratelimit_reset_as_unix_time() -> None:
    reset = str(int(time.time()) + 40)
    err = classify_failure(status=429, content_type="application/json",
                           body='{"error":"Too Many Requests"}',
                           headers={"ratelimit-limit": "10", "ratelimit-remaining": "0",
                                    "ratelimit-reset": reset})
    assert err.retry_after is not None and 35 <= err.retry_after <= 41


@pytest.mark.parametrize(
    ("status", "content_type", "body", "headers", "kind", "http", "code"),
    [
        (403, "text/html", CF_PAGE, {}, "challenge", 503, "cloudflare_challenge"),
        (503, "text/html; charset=UTF-8", CF_PAGE, {}, "challenge", 503, "cloudflare_challenge"),
        (403, None, CF_PAGE, {}, "challenge", 503, "cloudflare_challenge"),
        (None, None, CF_PAGE, {}, "challenge", 503, "cloudflare_challenge"),
        (403, "text/html", WAF_PAGE, {}, "challenge", 503, "cloudflare_challenge"),
        (
            403,
            "text/html",
            "<p>Verifying you are human</p>",
            {},
            "challenge",
            503,
            "cloudflare_challenge",
        ),
        (403, None, "", {"cf-mitigated": "challenge"}, "challenge", 503, "cloudflare_challenge"),
        (503, None, "", {"CF-Mitigated": "Challenge"}, "challenge", 503, "cloudflare_challenge"),
        (None, None, "", {"cf-mitigated": "challenge"}, "challenge", 503, "cloudflare_challenge"),
        (
            429,
            "application/json",
            '{"error":"Too Many Requests"}',
            {},
            "rate_limit",
            429,
            "rate_limit_exceeded",
        ),
        (422, "application/json", POLICY, {}, "content_policy", 400, "content_policy_violation"),
        (400, "application/json", POLICY, {}, "content_policy", 400, "content_policy_violation"),
        (413, "text/plain", "payload too large", {}, "too_large", 413, "attachment_too_large"),
        (401, "application/json", NO_ACCESS, {}, "session", 403, "site_session_rejected"),
        (400, "application/json", FEEDBACK, {}, "session", 400, "message_has_feedback"),
        (
            403,
            "application/json",
            '{"error":"recaptcha validation failed"}',
            {},
            "challenge",
            503,
            "recaptcha_failed",
        ),
        (None, None, "", {}, "other", 502, "site_unreachable"),
        (500, "text/plain", "Internal Server Error", {}, "other", 502, "site_error"),
        (
            502,
            "text/html",
            "<html><title>Bad gateway</title></html>",
            {},
            "other",
            502,
            "site_error",
        ),
        (400, "application/json", '{"error":"Invalid content"}', {}, "other", 502, "site_error"),
        (403, "application/json", '{"error":"Forbidden"}', {}, "other", 502, "site_error"),
        (404, "text/plain", "not found", {}, "other", 502, "site_error"),
        (301, None, "", {"location": "https://arena.ai/x"}, "wrong_origin", 503, "wrong_origin"),
        (405, "text/plain", "Method Not Allowed", {}, "wrong_origin", 503, "wrong_origin"),
        (429, "application/json", '{"error":"prompt failed"}', {}, "too_large", 400,
         "prompt_too_large"),
        (401, "application/json", '{"message":"User not found"}', {}, "logged_out", 503,
         "logged_out"),
        (400, "application/json", ZOD, {}, "other", 502, "site_schema_changed"),
        # A 403 carrying the header is a challenge only with 403/503/None statuses.
        (400, None, '{"error":"x"}', {"cf-mitigated": "challenge"}, "other", 502, "site_error"),
        # Challenge words in a JSON body are not a challenge page.
        (500, "application/json", '{"error":"Just a moment..."}', {}, "other", 502, "site_error"),
    ],
)
def test_classify_failure(
    status: int | None,
    content_type: str | None,
    body: str,
    headers: dict[str, str],
    kind: str,
    http: int,
    code: str,
) -> None:
    err = classify_failure(status=status, content_type=content_type, body=body, headers=headers)
    assert isinstance(err, SiteError)
    assert (err.kind, err.status, err.code) == (kind, http, code)
    assert err.message


@pytest.mark.parametrize(
    "body",
    [NO_ACCESS, '{"error":"session 4130-abcd failed"}', "HTTP 413 mentioned in text", "too large"],
)
def test_413_only_from_status(body: str) -> None:
    # A "413" inside other text never means "attachment too large".
    for status in (400, 401, 500, None):
        assert fail(status, body).code != "attachment_too_large"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 30),
        ({"retry-after": "12"}, 12),
        ({"Retry-After": "7.5"}, 7.5),
        ({"retry-after": "999999"}, 3600),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 30),
        ({"retry-after": "0"}, 30),
        ({"ratelimit": "limit=3000, remaining=0, reset=45"}, 45),
        ({"ratelimit": "limit=10;remaining=20"}, 20),
        ({"ratelimit": "limit=10, remaining=0"}, 30),
        ({"ratelimit-reset": "9"}, 9),
        ({"ratelimit-modality": "image", "ratelimit-remaining": "120"}, 120),
        ({"retry-after": "5", "ratelimit": "reset=60"}, 5),
        ({"ratelimit": "reset=100000"}, 3600),
    ],
)
def test_rate_limit_retry_after(headers: dict[str, str], expected: float) -> None:
    err = fail(429, '{"error":"Too Many Requests","message":"Too Many Requests"}', headers=headers)
    assert err.kind == "rate_limit"
    assert err.retry_after == expected
    assert "Retry-After" in err.headers()


def test_messages_quote_the_site() -> None:
    assert "Invalid content" in fail(400, '{"error":"Invalid content"}').message
    assert "does not have access" in fail(401, NO_ACCESS).message
    assert "capture-ids" in fail(401, NO_ACCESS, captured_ids=True).message
    assert "capture" in fail(400, FEEDBACK).message
    assert "5 MB" in fail(413).message
    assert "HTTP 404" in fail(404, "nothing here").message
    assert "nothing here" in fail(404, "nothing here").message
    assert "Failed to fetch" in fail(None, message="TypeError: Failed to fetch").message
    assert "arena.ai" in fail(301, headers={"Location": "https://arena.ai/"}).message
    assert "Bad gateway" in fail(502, "<html><title>Bad gateway</title><p>x</p></html>").message
    nested = '{"error":{"message":"deep reason","code":1}}'
    assert "deep reason" in fail(500, nested).message
    challenge = fail(403, CF_PAGE, "text/html")
    assert "complete the check" in challenge.message
    assert challenge.retry_after == 10


def test_excerpt_is_bounded() -> None:
    err = fail(500, "x" * 10_000)
    assert len(err.message) < 600


@pytest.mark.parametrize(
    ("text", "status", "body"),
    [
        (
            '网络响应不正常。状态: 429. 内容: {"error":"Too Many Requests"}',
            429,
            '{"error":"Too Many Requests"}',
        ),
        ("网络响应不正常。状态: 400. 内容: " + FEEDBACK, 400, FEEDBACK),
        ("Network response was not ok. Status: 413. Content: too big", 413, "too big"),
        ("status code 503 body: down", 503, "down"),
        ("HTTP 422", 422, ""),
        ("Status: 500.", 500, ""),
        ("TypeError: Failed to fetch", None, "TypeError: Failed to fetch"),
        ("session 413a-77 broke", None, "session 413a-77 broke"),
        ("状态: 403. 内容: " + CF_PAGE, 403, CF_PAGE),
    ],
)
def test_parse_seed_error(text: str, status: int | None, body: str) -> None:
    assert parse_seed_error(text) == (status, body)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('网络响应不正常。状态: 429. 内容: {"error":"Too Many Requests"}', "rate_limit_exceeded"),
        ("网络响应不正常。状态: 400. 内容: " + FEEDBACK, "message_has_feedback"),
        ("网络响应不正常。状态: 422. 内容: " + POLICY, "content_policy_violation"),
        ("网络响应不正常。状态: 401. 内容: " + NO_ACCESS, "site_session_rejected"),
        ("网络响应不正常。状态: 413. 内容: ", "attachment_too_large"),
        ("状态: 403. 内容: " + CF_PAGE, "cloudflare_challenge"),
        ("Failed to fetch", "site_unreachable"),
        ("attachment 413 failed", "site_unreachable"),
    ],
)
def test_classify_seed_error(text: str, code: str) -> None:
    assert classify_seed_error(text).code == code


@pytest.mark.parametrize(
    ("message", "kind", "status", "code"),
    [
        (
            "Error during image generation: Failed to fetch image: 400",
            "other",
            502,
            "site_stream_error",
        ),
        (
            "Request rejected: Content violates our terms of use",
            "content_policy",
            400,
            "content_policy_violation",
        ),
        ("Blocked by content policy", "content_policy", 400, "content_policy_violation"),
        (
            "Provider moderation flagged the prompt",
            "content_policy",
            400,
            "content_policy_violation",
        ),
        ("", "other", 502, "site_stream_error"),
    ],
)
def test_classify_stream_error(message: str, kind: str, status: int, code: str) -> None:
    err = classify_stream_error(message)
    assert (err.kind, err.status, err.code) == (kind, status, code)
    if message:
        assert message[:20] in err.message


def test_every_header_the_classifier_reads_is_reported_by_the_tab() -> None:
    # One list on both sides: the tab reports the headers of ERROR_HEADERS (hello_ack).
    import inspect
    import re as _re

    from lmarena_bridge.protocol.worker import ERROR_HEADERS, HelloAck
    from lmarena_bridge.site import failures as errors

    read = set(_re.findall(r'hdrs\.get\("([a-z-]+)"', inspect.getsource(errors)))
    assert read and read <= set(ERROR_HEADERS)
    assert HelloAck(worker_id="w", heartbeat_interval=1).error_headers == list(ERROR_HEADERS)


def test_session_advice_fits_the_strategy() -> None:
    # The create strategy captures nothing: its 401 must not send the user to capture-ids.
    created = fail(401, NO_ACCESS)
    assert created.code == "site_session_rejected" and created.status == 403
    assert "capture" not in created.message.lower()
    assert "account" in created.message and "does not have access" in created.message
    captured = fail(401, NO_ACCESS, captured_ids=True)
    assert captured.code == "site_session_rejected"
    assert "capture-ids" in captured.message
    # A seed-era tab only runs the retry strategy.
    assert "capture-ids" in classify_seed_error("状态: 401. 内容: " + NO_ACCESS).message
