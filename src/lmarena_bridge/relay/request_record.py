"""One client request's life as observers see it (relay/records.py keeps it)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestRecord:
    """One client request's life, shared with observers (never holds prompt text)."""

    request_id: str
    endpoint: str  # "chat" | "images"
    model: str
    stream: bool
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    worker_id: str | None = None
    queue_wait: float = 0.0
    first_token_mono: float | None = None
    finished_mono: float | None = None
    chars: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    outcome: str = "in_flight"  # success | error | cancelled
    status: int = 200
    error: str | None = None
    error_code: str | None = None
    routed_model: str | None = None  # the vendor a router model used, when the site says
    prefer_worker: str | None = None  # the tab that ran this request's uploads: jobs go there

    @property
    def ttft(self) -> float | None:
        if self.first_token_mono is None:
            return None
        return self.first_token_mono - self.started_mono

    @property
    def duration(self) -> float:
        end = self.finished_mono if self.finished_mono is not None else time.monotonic()
        return end - self.started_mono
