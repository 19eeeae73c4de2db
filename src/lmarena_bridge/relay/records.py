"""A request's record from arrival to end (``RequestScope``): the one place its outcome is
set, its observers told and its one INFO log line written."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter

from lmarena_bridge.errors import BridgeError, SiteError
from lmarena_bridge.relay.observer import RelayObserver
from lmarena_bridge.relay.request_record import RequestRecord

log = logging.getLogger("lmarena_bridge.requests")


def new_request_id(prefix: str = "req") -> str:
    """A request id unique across restarts (random, unlike an object's address)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class RequestScope:
    """Owns one request's ``RequestRecord``: started on creation, closed once by ``finish``.

    The outcome is ``success`` after ``succeed``, ``error`` after ``fail``, and
    ``cancelled`` when the request ends any other way (the client hung up, the task was
    cancelled) — so a caller only reports what it knows and always calls ``finish``.
    """

    __slots__ = ("observer", "rec")

    def __init__(
        self,
        observer: RelayObserver,
        endpoint: str,
        model: str,
        *,
        stream: bool = False,
        request_id: str | None = None,
    ) -> None:
        self.observer = observer
        self.rec = RequestRecord(
            request_id=request_id or new_request_id(), endpoint=endpoint, model=model,
            stream=stream,
        )
        observer.request_started(self.rec)

    def first_token(self, at: float | None = None) -> None:
        rec = self.rec
        if rec.first_token_mono is None:
            rec.first_token_mono = time.monotonic() if at is None else at
            self.observer.first_token(rec)

    def succeed(self, usage: dict[str, int] | None = None, routed_model: str | None = None) -> None:
        rec = self.rec
        if usage is not None:
            rec.prompt_tokens = usage["prompt_tokens"]
            rec.completion_tokens = usage["completion_tokens"]
        if routed_model is not None:
            rec.routed_model = routed_model
        rec.outcome = "success"

    def fail(self, exc: BridgeError) -> None:
        rec = self.rec
        rec.outcome = "error"
        rec.status = exc.status
        rec.error = exc.message
        rec.error_code = exc.code
        if isinstance(exc, SiteError):
            self.observer.site_error(exc.kind, rec.model)

    def tool_calls(self, calls: int, rejected: Counter[str], names: list[str]) -> None:
        if self.rec.finished_mono is None:
            self.observer.tool_calls(self.rec, calls, rejected, names)

    def finish(self, unknown_prefixes: Counter[str] | None = None) -> None:
        """Close the record once (a request still in flight here was abandoned)."""
        rec = self.rec
        if rec.finished_mono is not None:
            return
        if rec.outcome == "in_flight":
            rec.outcome = "cancelled"
        rec.finished_mono = time.monotonic()
        if unknown_prefixes:
            self.observer.unknown_prefixes(unknown_prefixes)
        self.observer.request_finished(rec)
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
