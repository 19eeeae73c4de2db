"""Closing a request's record: outcome, observers, and the one INFO log line per request."""

from __future__ import annotations

import logging
import time
from collections import Counter

from lmarena_bridge.errors import BridgeError, SiteError
from lmarena_bridge.relay.observer import RelayObserver, RequestRecord

log = logging.getLogger("lmarena_bridge.requests")


def record_failure(observer: RelayObserver, rec: RequestRecord, exc: BridgeError) -> None:
    rec.outcome = "error"
    rec.status = exc.status
    rec.error = exc.message
    rec.error_code = exc.code
    if isinstance(exc, SiteError):
        observer.site_error(exc.kind, rec.model)


def record_finished(
    observer: RelayObserver, rec: RequestRecord, unknown_prefixes: Counter[str] | None = None
) -> None:
    """Close ``rec`` once (a request still in flight here was abandoned by its client)."""
    if rec.finished_mono is not None:
        return
    if rec.outcome == "in_flight":
        rec.outcome = "cancelled"
    rec.finished_mono = time.monotonic()
    if unknown_prefixes:
        observer.unknown_prefixes(unknown_prefixes)
    observer.request_finished(rec)
    ttft = rec.ttft
    log.info(
        "request %s %s model=%s worker=%s outcome=%s status=%s duration=%.3fs ttft=%s%s%s",
        rec.request_id,
        rec.endpoint,
        rec.model,
        rec.worker_id,
        rec.outcome,
        rec.status if rec.outcome != "cancelled" else 499,
        rec.duration,
        f"{ttft:.3f}s" if ttft is not None else "-",
        f" error={rec.error_code}" if rec.error_code else "",
        f" routed_to={rec.routed_model}" if rec.routed_model else "",
    )


def record_early_failure(observer: RelayObserver, rec: RequestRecord, exc: BridgeError) -> None:
    """A request that ended before it reached a worker (validation, no worker)."""
    record_failure(observer, rec, exc)
    record_finished(observer, rec)
