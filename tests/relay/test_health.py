"""A tab's health in the pool: needs_human from status or waiting jobs, the observers'
events (counted once across reloads), routing, and what metrics make of it."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from lmarena_bridge.config.model import BridgeConfig
from lmarena_bridge.errors import NoWorkerAvailable
from lmarena_bridge.metrics import BridgeMetrics
from lmarena_bridge.relay.observer import Observers, RelayObserver
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.tab import Worker


class FakeConn:
    async def send(self, frame: dict[str, Any]) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class Events(RelayObserver):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def tab_needs_human(self, worker: Worker, reason: str) -> None:
        self.seen.append(("needs", worker.id, reason))

    def tab_usable_again(self, worker: Worker, reason: str, seconds: float) -> None:
        assert seconds >= 0
        self.seen.append(("usable", worker.id, reason))


def make_pool(observer: RelayObserver) -> WorkerPool:
    return WorkerPool(observer=observer, limit=lambda: 2, queue_max=lambda: 8,
                      queue_timeout=lambda: 0.2, no_worker_timeout=lambda: 0.2)


def gauge(metrics: BridgeMetrics, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def test_a_waiting_job_makes_the_tab_need_a_person() -> None:
    events = Events()
    pool = make_pool(events)
    w = pool.add(FakeConn(), page="https://arena.ai/c/1")
    w.reserved = 1
    assert (w.health, w.human_reason, w.routable) == ("busy", None, True)
    pool.human_wait(w, "r1", "recaptcha")
    pool.human_wait(w, "r2", "recaptcha")
    view = w.describe()
    assert (view["health"], view["reason"], view["state"]) == ("needs_human", "recaptcha", "ready")
    assert view["action"] == "solve the reCAPTCHA check shown in that tab"
    assert view["needs_human_since"] is not None and not w.routable
    assert pool.needing_human == [w]
    pool.human_wait(w, "r1", None)
    assert w.health == "needs_human"  # r2 still waits
    pool.human_wait(w, "r2", None)
    assert (w.health, w.needs_human_since) == ("busy", None)
    assert events.seen == [("needs", w.id, "recaptcha"), ("usable", w.id, "recaptcha")]


def test_a_need_that_spans_a_reload_is_one_need() -> None:
    events = Events()
    pool = make_pool(events)
    first = pool.add(FakeConn(), tab="tab-a")
    pool.set_state(first, "challenge", "Just a moment")
    since = first.needs_human_since
    pool.remove(first)  # the bridge's refresh: a new connection of the same tab
    again = pool.add(FakeConn())
    pool.update_info(again, tab="tab-a", protocol=2)
    pool.set_state(again, "challenge", "Just a moment")  # still challenged after the reload
    assert again.needs_human_since == since
    pool.remove(again)  # the challenge page reloads itself once solved
    last = pool.add(FakeConn())
    pool.update_info(last, tab="tab-a", protocol=2)
    pool.set_state(last, "ready", "")  # its first report: usable
    assert events.seen == [("needs", first.id, "challenge"), ("usable", last.id, "challenge")]
    # Another tab's id carries nothing over.
    other = pool.add(FakeConn())
    pool.update_info(other, tab="tab-b")
    pool.set_state(other, "ready", "")
    assert other.needs_human_since is None and len(events.seen) == 2


def test_a_changed_reason_is_a_new_check_of_the_same_wait() -> None:
    events = Events()
    pool = make_pool(events)
    w = pool.add(FakeConn())
    pool.set_state(w, "challenge")
    since = w.needs_human_since
    pool.set_state(w, "logged_out")
    assert w.needs_human_since == since
    assert events.seen == [("needs", w.id, "challenge"), ("needs", w.id, "logged_out")]


async def test_no_tab_ready_names_each_tab_and_what_to_do() -> None:
    pool = make_pool(Observers())
    w = pool.add(FakeConn(), protocol=2, page="https://arena.ai/c/9",
                 capabilities=frozenset({"site_request"}))
    pool.set_state(w, "logged_out", "")
    try:
        await pool.acquire("site_request")
    except NoWorkerAvailable as exc:
        assert exc.code == "no_tab_ready"
        assert (f"Tab {w.id} (https://arena.ai/c/9) needs you: log in to arena.ai in that tab"
                in exc.message)
    else:
        raise AssertionError("no tab should be handed out")
    assert not pool.can_take_now("site_request")
    pool.set_state(w, "ready")
    assert pool.can_take_now("site_request")


async def test_can_take_now_is_false_while_requests_queue() -> None:
    pool = make_pool(Observers())
    w = pool.add(FakeConn(), protocol=2, capabilities=frozenset({"site_request"}))
    w.reserved = w.limit
    waiter = asyncio.create_task(pool.acquire("site_request"))
    await asyncio.sleep(0.01)
    w.reserved = 0  # a slot frees without a wake-up: the queued request comes first
    assert not pool.can_take_now("site_request")
    pool.release(w)
    assert await waiter is w


def test_metrics_count_tabs_by_health_and_reason() -> None:
    pool = make_pool(Observers())
    metrics = BridgeMetrics(pool, lambda: BridgeConfig())
    _ready, busy, human, origin = (pool.add(FakeConn()) for _ in range(4))
    busy.reserved = 1
    pool.human_wait(human, "r1", "recaptcha")
    pool.set_state(origin, "wrong_origin")
    expected = {("ready", ""): 1, ("busy", ""): 1, ("needs_human", "recaptcha"): 1,
                ("needs_human", "wrong_origin"): 1, ("needs_human", "challenge"): 0}
    for (state, reason), n in expected.items():
        assert gauge(metrics, "lmarena_bridge_tab_health", state=state, reason=reason) == n
    assert gauge(metrics, "lmarena_bridge_workers", state="recaptcha") == 1
    assert gauge(metrics, "lmarena_bridge_workers", state="wrong_origin") == 1
    assert gauge(metrics, "lmarena_bridge_worker_slots") == 4  # two usable tabs
