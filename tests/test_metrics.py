"""BridgeMetrics: names, values and bounded labels, from observer hooks and from real traffic."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lmarena_bridge.config.model import BridgeConfig, ModelTarget
from lmarena_bridge.metrics import BridgeMetrics, prefix_label
from lmarena_bridge.relay.observer import Observers
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.request_record import RequestRecord
from tests.conftest import wait_for
from tests.support.workers import ScriptedWorker, finish_line, last_user_text, site_line, text_lines

USAGE = {"promptTokens": 7, "completionTokens": 11}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


class FakeConn:
    async def send(self, frame: dict[str, Any]) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


def make_pool() -> WorkerPool:
    return WorkerPool(
        observer=Observers(),
        limit=lambda: 2,
        queue_max=lambda: 8,
        queue_timeout=lambda: 1.0,
        no_worker_timeout=lambda: 1.0,
    )


CONFIG = BridgeConfig(models={"echo-model": ModelTarget.parse("echo-model", "x")})


def record(model: str = "echo-model", **kw: Any) -> RequestRecord:
    rec = RequestRecord(request_id="req-1", endpoint="chat", model=model, stream=True)
    for key, val in kw.items():
        setattr(rec, key, val)
    return rec


# -- unit: hooks -> samples -----------------------------------------------------------------


def test_labels_are_bounded() -> None:
    m = BridgeMetrics(make_pool(), lambda: CONFIG)
    for model in ("echo-model", "secret prompt text?", "req-123"):
        rec = record(model)
        m.request_started(rec)
        rec.outcome, rec.finished_mono = "success", rec.started_mono + 1.5
        m.request_finished(rec)
    m.unknown_prefixes(Counter({"a7": 2, "zz": 1, "<html": 1}))
    m.site_error("weird-kind", "not-configured")
    text = m.render().decode()
    assert value(text, "lmarena_bridge_requests_total", endpoint="chat", model="echo-model",
                 outcome="success", status="200") == 1
    assert value(text, "lmarena_bridge_requests_total", endpoint="chat", model="other",
                 outcome="success", status="200") == 2
    assert "secret prompt" not in text and "req-123" not in text
    assert value(text, "lmarena_bridge_unknown_stream_prefixes_total", prefix="a7") == 2
    assert value(text, "lmarena_bridge_unknown_stream_prefixes_total", prefix="other") == 2
    assert value(text, "lmarena_bridge_site_errors_total", kind="other", model="other") == 1
    assert value(text, "lmarena_bridge_requests_in_flight") == 0
    assert value(text, "lmarena_bridge_request_duration_seconds_count", endpoint="chat",
                 model="echo-model", outcome="success") == 1
    assert value(text, "lmarena_bridge_request_duration_seconds_sum", endpoint="chat",
                 model="echo-model", outcome="success") == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("prefix", "label"),
    [("a7", "a7"), ("bz", "bz"), ("b0", "b0"), ("c1", "other"), ("A7", "other"), ("a", "other"),
     ("a:", "other")],
)
def test_prefix_label(prefix: str, label: str) -> None:
    assert prefix_label(prefix) == label


def test_cancelled_request_is_499_and_counted() -> None:
    m = BridgeMetrics(make_pool(), lambda: CONFIG)
    rec = record(worker_id="w1", queue_wait=0.2)
    m.request_started(rec)
    rec.outcome = "cancelled"
    m.request_finished(rec)
    text = m.render().decode()
    assert value(text, "lmarena_bridge_requests_total", endpoint="chat", model="echo-model",
                 outcome="cancelled", status="499") == 1
    assert value(text, "lmarena_bridge_client_cancellations_total", endpoint="chat",
                 model="echo-model") == 1
    assert value(text, "lmarena_bridge_queue_wait_seconds_count", endpoint="chat") == 1


def test_worker_gauges_are_read_from_the_pool() -> None:
    pool = make_pool()
    m = BridgeMetrics(pool, lambda: CONFIG)
    idle, busy, challenged, out = (pool.add(FakeConn()) for _ in range(4))
    busy.reserved = 2
    pool.set_state(challenged, "challenge", "cf")
    pool.set_state(out, "logged_out")
    text = m.render().decode()
    for state, n in {"ready": 1, "busy": 1, "challenge": 1, "logged_out": 1}.items():
        assert value(text, "lmarena_bridge_workers", state=state) == n
    assert value(text, "lmarena_bridge_worker_jobs") == 2
    assert value(text, "lmarena_bridge_worker_slots") == 4  # two ready tabs, limit 2 each
    assert value(text, "lmarena_bridge_queue_depth") == 0
    pool.remove(idle)
    text = m.render().decode()
    assert value(text, "lmarena_bridge_workers", state="ready") == 0


def test_each_app_has_its_own_registry() -> None:
    a = BridgeMetrics(make_pool(), lambda: CONFIG)
    b = BridgeMetrics(make_pool(), lambda: CONFIG)
    a.worker_connected(None)  # type: ignore[arg-type]
    assert a.registry is not b.registry
    assert value(a.render().decode(), "lmarena_bridge_worker_connects_total") == 1
    assert value(b.render().decode(), "lmarena_bridge_worker_connects_total") == 0


# -- integration: scripted traffic through a real server ------------------------------------


def error_frame(status: int, body: str, content_type: str, headers: dict[str, str]) -> Any:
    return {"message": f"HTTP {status}", "status": status, "content_type": content_type,
            "body": body, "headers": headers}


async def scripted(w: ScriptedWorker, rid: str, payload: dict[str, Any]) -> None:
    """The user text picks the site's behaviour."""
    text = last_user_text(payload)
    if text == "rate":
        await w.send({"request_id": rid, "error": error_frame(
            429, '{"error":"Too Many Requests"}', "application/json", {"retry-after": "3"})})
    elif text == "challenge":
        await w.send({"request_id": rid, "error": error_frame(
            403, "<!DOCTYPE html><html><head><title>Just a moment...</title>", "text/html",
            {"cf-mitigated": "challenge"})})
    elif text == "slow":
        while True:
            await w.data(rid, site_line("0", "more "))
            await asyncio.sleep(0.02)
    else:
        if text == "drift":
            await w.data(rid, "a7:{}\n")
        for line in text_lines(text):
            await w.data(rid, line)
        await w.data(rid, finish_line(usage=USAGE))
        await w.done(rid)


async def test_metrics_after_scripted_traffic(bridge, workers, client) -> None:
    metrics = bridge.app.state.bridge.metrics
    w = await workers(bridge.ws_url, handler=scripted)
    msgs: Any = [{"role": "user", "content": "hello"}]

    stream = await client.chat.completions.create(model="echo-model", messages=msgs, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "hello"
    done = await client.chat.completions.create(model="echo-model", messages=msgs)
    assert done.choices[0].message.content == "hello"
    drift = await client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": "drift"}])
    assert drift.choices[0].message.content == "drift"
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": "rate"}])
    # The 429 cooled the tab's account down for its retry-after; the rest of this test is
    # about other metrics, so the account is declared fine again.
    assert metrics.registry.get_sample_value(
        "lmarena_bridge_account_cooldowns_total", {"reason": "rate_limit"}) == 1
    bridge.app.state.bridge.pool.clear_accounts()
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="no-such-model", messages=msgs)

    slow = await client.chat.completions.create(
        model="echo-model", messages=[{"role": "user", "content": "slow"}], stream=True)
    async for _ in slow:
        break
    await slow.close()
    await wait_for(lambda: metrics.registry.get_sample_value(
        "lmarena_bridge_client_cancellations_total",
        {"endpoint": "chat", "model": "echo-model"}) == 1)

    with pytest.raises(openai.APIStatusError) as exc:
        await client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": "challenge"}])
    assert exc.value.status_code == 503

    async with httpx.AsyncClient() as http:
        r = await http.get(f"{bridge.url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == BridgeMetrics.content_type
    text = r.text

    def req(outcome: str, status: str, model: str = "echo-model") -> float | None:
        return value(text, "lmarena_bridge_requests_total", endpoint="chat", model=model,
                     outcome=outcome, status=status)

    assert req("success", "200") == 3
    assert req("error", "429") == 1
    assert req("error", "503") == 1
    assert req("cancelled", "499") == 1
    assert req("error", "404", model="other") == 1
    assert value(text, "lmarena_bridge_site_errors_total", kind="rate_limit",
                 model="echo-model") == 1
    assert value(text, "lmarena_bridge_site_errors_total", kind="challenge",
                 model="echo-model") == 1
    assert value(text, "lmarena_bridge_site_errors_total", kind="session", model="other") == 0
    assert value(text, "lmarena_bridge_client_cancellations_total", endpoint="chat",
                 model="echo-model") == 1
    assert value(text, "lmarena_bridge_unknown_stream_prefixes_total", prefix="a7") == 1
    assert value(text, "lmarena_bridge_input_tokens_total", endpoint="chat",
                 model="echo-model") == 21
    assert value(text, "lmarena_bridge_output_tokens_total", endpoint="chat",
                 model="echo-model") == 33
    # Streams that produced text: the three successes and the cancelled one.
    assert value(text, "lmarena_bridge_time_to_first_token_seconds_count", endpoint="chat",
                 model="echo-model") == 4
    assert value(text, "lmarena_bridge_request_duration_seconds_count", endpoint="chat",
                 model="echo-model", outcome="success") == 3
    # Everything but the unknown model reached the tab.
    assert value(text, "lmarena_bridge_queue_wait_seconds_count", endpoint="chat") == 6
    assert value(text, "lmarena_bridge_requests_in_flight") == 0
    assert value(text, "lmarena_bridge_queue_depth") == 0
    assert value(text, "lmarena_bridge_worker_jobs") == 0
    assert value(text, "lmarena_bridge_worker_connects_total") == 1
    assert value(text, "lmarena_bridge_worker_disconnects_total") == 0
    # The challenge drained the tab.
    assert value(text, "lmarena_bridge_workers", state="challenge") == 1
    assert value(text, "lmarena_bridge_workers", state="ready") == 0
    assert value(text, "lmarena_bridge_build_info", version="1.0.0") == 1

    await w.send({"type": "status", "state": "ready"})
    pool = bridge.app.state.bridge.pool
    await wait_for(lambda: pool.ready_count == 1)
    await w.close()
    await wait_for(lambda: not pool.workers)
    text = metrics.render().decode()
    assert value(text, "lmarena_bridge_worker_disconnects_total") == 1
    assert value(text, "lmarena_bridge_workers", state="ready") == 0


async def test_metrics_require_the_api_key_when_set(make_bridge) -> None:
    srv = await make_bridge({"api_key": "s3cret"})
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{srv.url}/metrics")).status_code == 401
        bad = await http.get(f"{srv.url}/metrics", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        ok = await http.get(f"{srv.url}/metrics", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert "lmarena_bridge_requests_in_flight" in ok.text
