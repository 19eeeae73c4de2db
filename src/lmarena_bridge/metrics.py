"""Prometheus metrics for one bridge, built against the bridge's own registry.

Every label is bounded: model names are those of the config in force (anything else is
``other``), outcomes, endpoints, status codes and error kinds are small fixed sets, and
stream prefixes are the site's two-character line codes. Request ids and prompt text
never become labels.

Worker and queue gauges are read from the pool at scrape time, so they cannot drift from
the truth; everything else is counted in the observer hooks, once per request (never per
chunk).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Gauge, Histogram, Info
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from lmarena_bridge import __version__
from lmarena_bridge.config.model import BridgeConfig
from lmarena_bridge.protocol.worker import COOLDOWN_REASONS, HUMAN_REASONS, TAB_STATES
from lmarena_bridge.relay.accounts import Cooldown
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.pool import WorkerPool
from lmarena_bridge.relay.request_record import RequestRecord
from lmarena_bridge.relay.tab import Worker
from lmarena_bridge.relay.tool_calls import REJECT_REASONS

PREFIX = "lmarena_bridge"
OTHER = "other"
ENDPOINTS = frozenset({"chat", "images"})
OUTCOMES = frozenset({"success", "error", "cancelled"})
SITE_ERROR_KINDS = frozenset(
    {"challenge", "rate_limit", "content_policy", "too_large", "session", "upload", "other"}
)
# busy: ready and running at least one job (it may still have free slots; see README).
# The others are the reasons a tab needs a person (relay/health.py).
GAUGE_STATES: tuple[str, ...] = ("busy", *TAB_STATES)
HUMAN_CHECK_OUTCOMES = frozenset({"solved", "timeout", "cancelled", "moved", "abandoned"})
CLIENT_CLOSED_STATUS = "499"  # nginx's "client closed request", as in the request log line

_PREFIX_RE = re.compile(r"^[ab][0-9a-z]$")

# A whole answer takes seconds to minutes (total_timeout_seconds defaults to 900).
DURATION_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900)
TTFT_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60, 120)
QUEUE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60)
# A person clicks in seconds; a login or a forgotten tab takes minutes to hours.
HUMAN_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 90, 120, 300, 600, 1800, 3600)
# Pacing holds a request for up to queue_timeout_seconds (30 by default).
PACING_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120)


def prefix_label(prefix: str) -> str:
    """The site's line code (``a7``) if it looks like one, else ``other`` (bounds the label)."""
    return prefix if _PREFIX_RE.match(prefix) else OTHER


def worker_bucket(worker: Worker) -> str:
    """The state a worker is counted under in ``lmarena_bridge_workers``."""
    reason = worker.human_reason
    if reason is None:
        return "busy" if worker.load > 0 else "ready"
    return reason if reason in GAUGE_STATES else OTHER


def reason_label(reason: str) -> str:
    return reason if reason in HUMAN_REASONS else OTHER


class _PoolCollector:
    """Gauges read from the pool when Prometheus scrapes."""

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool

    def describe(self) -> Iterable[Metric]:
        return self._families(with_samples=False)

    def collect(self) -> Iterable[Metric]:
        return self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> list[Metric]:
        workers = GaugeMetricFamily(
            f"{PREFIX}_workers",
            "Connected browser tabs by state (busy = ready with at least one job).",
            labels=["state"],
        )
        jobs = GaugeMetricFamily(
            f"{PREFIX}_worker_jobs", "Job slots in use across all connected tabs."
        )
        slots = GaugeMetricFamily(
            f"{PREFIX}_worker_slots",
            "Job slots of all ready tabs (max_concurrent_per_worker each).",
        )
        queue = GaugeMetricFamily(f"{PREFIX}_queue_depth", "Requests waiting for a free tab.")
        health = GaugeMetricFamily(
            f"{PREFIX}_tab_health",
            "Connected browser tabs by health: ready, busy, needs_human with the reason "
            "(recaptcha, challenge, logged_out, wrong_origin), or cooling_down with the reason "
            "(rate_limit, quota, flagged).",
            labels=["state", "reason"],
        )
        remaining = GaugeMetricFamily(
            f"{PREFIX}_site_ratelimit_remaining",
            "Requests the site says an account has left in its budget, per modality.",
            labels=["account", "modality"],
        )
        if with_samples:
            counts = dict.fromkeys(GAUGE_STATES, 0)
            healths = {("ready", ""): 0, ("busy", ""): 0}
            healths.update({("needs_human", r): 0 for r in HUMAN_REASONS})
            healths.update({("cooling_down", r): 0 for r in COOLDOWN_REASONS})
            used = capacity = 0
            now = time.time()
            for w in list(self._pool.workers.values()):
                bucket = worker_bucket(w)
                counts[bucket] = counts.get(bucket, 0) + 1
                reason = w.human_reason
                cooldown = w.cooldown(now)
                if reason is not None:
                    key = ("needs_human", reason_label(reason))
                elif cooldown is not None and not w.closed:
                    key = ("cooling_down", cooldown.reason)
                else:
                    key = (w.health, "")
                healths[key] = healths.get(key, 0) + 1
                used += w.load
                if w.routable:
                    capacity += w.limit
            for state, n in counts.items():
                workers.add_metric([state], n)
            for (state, reason), n in healths.items():
                health.add_metric([state, reason], n)
            jobs.add_metric([], used)
            slots.add_metric([], capacity)
            queue.add_metric([], self._pool.queue_depth)
            for name, acc in list(self._pool.accounts.by_key.items()):
                for modality, budget in acc.budgets.items():
                    if budget.remaining is not None:
                        remaining.add_metric([name, modality], budget.remaining)
        return [workers, jobs, slots, queue, health, remaining]


class BridgeMetrics(RelayObserver):
    """The bridge's metrics; ``render()`` gives the text exposition for ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, pool: WorkerPool, config: Callable[[], BridgeConfig]) -> None:
        self.registry = CollectorRegistry()
        self._config = config
        r = self.registry
        Info(f"{PREFIX}_build", "Bridge version.", registry=r).info({"version": __version__})
        Gauge(
            f"{PREFIX}_start_time_seconds", "When the bridge started (Unix time).", registry=r
        ).set(time.time())
        self.requests = PromCounter(
            f"{PREFIX}_requests",
            "Finished client requests.",
            ["endpoint", "model", "outcome", "status"],
            registry=r,
        )
        self.duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Client request duration, from arrival to the last byte.",
            ["endpoint", "model", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            f"{PREFIX}_time_to_first_token_seconds",
            "From a request's arrival to the first answer text (queue wait included).",
            ["endpoint", "model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            f"{PREFIX}_queue_wait_seconds",
            "Time a dispatched request waited for a free tab.",
            ["endpoint"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.input_tokens = PromCounter(
            f"{PREFIX}_input_tokens",
            "Prompt tokens of successful requests (site usage, else an estimate).",
            ["endpoint", "model"],
            registry=r,
        )
        self.output_tokens = PromCounter(
            f"{PREFIX}_output_tokens",
            "Completion tokens of successful requests (site usage, else an estimate).",
            ["endpoint", "model"],
            registry=r,
        )
        self.in_flight = Gauge(
            f"{PREFIX}_requests_in_flight",
            "Client requests started and not finished (queued ones included).",
            registry=r,
        )
        self.connects = PromCounter(
            f"{PREFIX}_worker_connects", "Browser tab connections.", registry=r
        )
        self.disconnects = PromCounter(
            f"{PREFIX}_worker_disconnects", "Browser tab disconnections.", registry=r
        )
        self.site_errors = PromCounter(
            f"{PREFIX}_site_errors",
            "Failures reported by the site, by kind.",
            ["kind", "model"],
            registry=r,
        )
        self.cancellations = PromCounter(
            f"{PREFIX}_client_cancellations",
            "Requests the client abandoned before the answer ended.",
            ["endpoint", "model"],
            registry=r,
        )
        self.bad_worker_frames = PromCounter(
            f"{PREFIX}_bad_worker_frames",
            "Frames from browser tabs that fit no shape of the worker protocol (ignored).",
            registry=r,
        )
        self.unknown_prefixes_seen = PromCounter(
            f"{PREFIX}_unknown_stream_prefixes",
            "Site stream lines with a code the parser does not know (a format change).",
            ["prefix"],
            registry=r,
        )
        self.tool_calls_sent = PromCounter(
            f"{PREFIX}_tool_calls",
            "Tool calls parsed from answers and sent to clients as tool_calls.",
            ["model"],
            registry=r,
        )
        self.tool_calls_rejected = PromCounter(
            f"{PREFIX}_tool_calls_rejected",
            "<tool_call> blocks sent as plain text because they were no valid call "
            "(invalid_json, unknown_tool, schema, unclosed).",
            ["reason", "model"],
            registry=r,
        )
        self.human_checks = PromCounter(
            f"{PREFIX}_human_checks",
            "Times a browser tab started needing a person, by reason (recaptcha, challenge, "
            "logged_out, wrong_origin).",
            ["reason"],
            registry=r,
        )
        self.human_resolve = Histogram(
            f"{PREFIX}_human_check_resolve_seconds",
            "How long a tab needed a person until it was usable again (by a person, or once "
            "the requests waiting in it ended), by reason.",
            ["reason"],
            buckets=HUMAN_BUCKETS,
            registry=r,
        )
        self.human_outcomes = PromCounter(
            f"{PREFIX}_human_check_outcomes",
            "Requests that met a human check in their tab, by how it ended: solved (the person "
            "did it), timeout, cancelled (in the page), moved (to another tab), abandoned "
            "(the client left or the tab went away).",
            ["outcome", "reason"],
            registry=r,
        )
        self.cooldowns = PromCounter(
            f"{PREFIX}_account_cooldowns",
            "Times an arena.ai account began a cooldown, by reason (rate_limit, quota, flagged).",
            ["reason"],
            registry=r,
        )
        self.pacing_wait = Histogram(
            f"{PREFIX}_pacing_wait_seconds",
            "Time requests waited because every account that could take them was paced or "
            "cooling down (pace_* settings, relay/accounts.py).",
            buckets=PACING_BUCKETS,
            registry=r,
        )
        for cooling in COOLDOWN_REASONS:
            self.cooldowns.labels(cooling)
        # Pre-create the label-free series and the fixed error kinds, so a dashboard sees
        # zeros instead of missing series before the first event.
        for human in HUMAN_REASONS:
            self.human_checks.labels(human)
        for outcome in sorted(HUMAN_CHECK_OUTCOMES):
            self.human_outcomes.labels(outcome, "recaptcha")
        for kind in sorted(SITE_ERROR_KINDS):
            self.site_errors.labels(kind, OTHER)
        for reason in sorted(REJECT_REASONS):
            self.tool_calls_rejected.labels(reason, OTHER)
        r.register(_PoolCollector(pool))

    # -- labels ----------------------------------------------------------------------------

    def model_label(self, model: str) -> str:
        cfg = self._config()
        return model if model in cfg.models or model in cfg.endpoint_map else OTHER

    @staticmethod
    def _endpoint(rec: RequestRecord) -> str:
        return rec.endpoint if rec.endpoint in ENDPOINTS else OTHER

    # -- observer hooks --------------------------------------------------------------------

    def request_started(self, rec: RequestRecord) -> None:
        self.in_flight.inc()

    def first_token(self, rec: RequestRecord) -> None:
        ttft = rec.ttft
        if ttft is not None:
            self.ttft.labels(self._endpoint(rec), self.model_label(rec.model)).observe(ttft)

    def request_finished(self, rec: RequestRecord) -> None:
        self.in_flight.dec()
        endpoint, model = self._endpoint(rec), self.model_label(rec.model)
        outcome = rec.outcome if rec.outcome in OUTCOMES else OTHER
        status = CLIENT_CLOSED_STATUS if outcome == "cancelled" else str(rec.status)
        self.requests.labels(endpoint, model, outcome, status).inc()
        self.duration.labels(endpoint, model, outcome).observe(rec.duration)
        if rec.worker_id is not None:  # it reached a tab; requests refused in the queue did not
            self.queue_wait.labels(endpoint).observe(rec.queue_wait)
        if outcome == "cancelled":
            self.cancellations.labels(endpoint, model).inc()
        if rec.prompt_tokens > 0:
            self.input_tokens.labels(endpoint, model).inc(rec.prompt_tokens)
        if rec.completion_tokens > 0:
            self.output_tokens.labels(endpoint, model).inc(rec.completion_tokens)

    def worker_connected(self, worker: Worker) -> None:
        self.connects.inc()

    def worker_disconnected(self, worker: Worker) -> None:
        self.disconnects.inc()

    def site_error(self, kind: str, model: str) -> None:
        label = kind if kind in SITE_ERROR_KINDS else OTHER
        self.site_errors.labels(label, self.model_label(model)).inc()

    def unknown_prefixes(self, counts: Counter[str]) -> None:
        for prefix, n in counts.items():
            self.unknown_prefixes_seen.labels(prefix_label(prefix)).inc(n)

    def bad_worker_frame(self, worker: Worker) -> None:
        self.bad_worker_frames.inc()

    def tab_needs_human(self, worker: Worker, reason: str) -> None:
        self.human_checks.labels(reason_label(reason)).inc()

    def tab_usable_again(self, worker: Worker, reason: str, seconds: float) -> None:
        self.human_resolve.labels(reason_label(reason)).observe(seconds)

    def human_check(self, rec: RequestRecord, reason: str, outcome: str, seconds: float) -> None:
        label = outcome if outcome in HUMAN_CHECK_OUTCOMES else OTHER
        self.human_outcomes.labels(label, reason_label(reason)).inc()

    def account_cooldown(self, account: str, cooldown: Cooldown) -> None:
        self.cooldowns.labels(cooldown.reason).inc()

    def pacing_waited(self, seconds: float) -> None:
        self.pacing_wait.observe(seconds)

    def tool_calls(
        self, rec: RequestRecord, calls: int, rejected: Counter[str], names: list[str]
    ) -> None:
        model = self.model_label(rec.model)
        if calls:
            self.tool_calls_sent.labels(model).inc(calls)
        for reason, n in rejected.items():
            label = reason if reason in REJECT_REASONS else OTHER
            self.tool_calls_rejected.labels(label, model).inc(n)

    # -- exposition ------------------------------------------------------------------------

    def render(self) -> bytes:
        return generate_latest(self.registry)
