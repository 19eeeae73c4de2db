"""Hooks the relay calls as requests and workers come and go.

Metrics and the live monitor implement ``RelayObserver``; the relay holds a fan-out of
them. Methods are called on the event loop and must not block.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmarena_bridge.relay.accounts import Cooldown
    from lmarena_bridge.relay.request_record import RequestRecord
    from lmarena_bridge.relay.tab import Worker

_log = logging.getLogger(__name__)


class RelayObserver:
    """No-op base; subclasses override what they need."""

    def request_started(self, rec: RequestRecord) -> None: ...
    def request_dispatched(self, rec: RequestRecord) -> None: ...
    def first_token(self, rec: RequestRecord) -> None: ...
    def request_finished(self, rec: RequestRecord) -> None: ...
    def queue_changed(self, depth: int) -> None: ...
    def worker_connected(self, worker: Worker) -> None: ...
    def worker_disconnected(self, worker: Worker) -> None: ...
    def worker_changed(self, worker: Worker) -> None: ...
    def site_error(self, kind: str, model: str) -> None: ...
    def unknown_prefixes(self, counts: Counter[str]) -> None: ...
    def bad_worker_frame(self, worker: Worker) -> None:
        """A frame from a tab that fits no shape; ignored, the tab stays."""
    def tool_calls(
        self, rec: RequestRecord, calls: int, rejected: Counter[str], names: list[str]
    ) -> None:
        """Once per finished request that offered tools: calls sent, blocks sent as text
        (by reason) and the tool names those blocks gave (model output: not for labels)."""
    def tab_needs_human(self, worker: Worker, reason: str) -> None:
        """A tab started needing a person (or now needs one for another reason)."""
    def tab_usable_again(self, worker: Worker, reason: str, seconds: float) -> None:
        """A connected tab that needed a person for ``reason`` is usable again."""
    def human_check(self, rec: RequestRecord, reason: str, outcome: str, seconds: float) -> None:
        """A request met a human check; ``outcome``: solved | timeout | cancelled | moved |
        abandoned; ``seconds`` it waited for the person."""
    def account_cooldown(self, account: str, cooldown: Cooldown) -> None:
        """An account began (or extended) a cooldown (relay/accounts.py)."""
    def accounts_changed(self) -> None:
        """Budgets, cooldowns or request counts of the accounts changed."""
    def pacing_waited(self, seconds: float) -> None:
        """A request waited ``seconds`` for its account's pacing (or cooldown) to allow it."""


class Observers(RelayObserver):
    """Fan-out to every registered observer; one failing observer never breaks a request."""

    def __init__(self) -> None:
        self._items: list[RelayObserver] = []

    def add(self, obs: RelayObserver) -> None:
        self._items.append(obs)

    def _each(self, name: str, *args: object) -> None:
        for obs in self._items:
            try:
                getattr(obs, name)(*args)
            except Exception:  # observers are best-effort
                _log.exception("observer %s failed in %s", obs, name)

    def request_started(self, rec: RequestRecord) -> None:
        self._each("request_started", rec)

    def request_dispatched(self, rec: RequestRecord) -> None:
        self._each("request_dispatched", rec)

    def first_token(self, rec: RequestRecord) -> None:
        self._each("first_token", rec)

    def request_finished(self, rec: RequestRecord) -> None:
        self._each("request_finished", rec)

    def queue_changed(self, depth: int) -> None:
        self._each("queue_changed", depth)

    def worker_connected(self, worker: Worker) -> None:
        self._each("worker_connected", worker)

    def worker_disconnected(self, worker: Worker) -> None:
        self._each("worker_disconnected", worker)

    def worker_changed(self, worker: Worker) -> None:
        self._each("worker_changed", worker)

    def site_error(self, kind: str, model: str) -> None:
        self._each("site_error", kind, model)

    def unknown_prefixes(self, counts: Counter[str]) -> None:
        self._each("unknown_prefixes", counts)

    def bad_worker_frame(self, worker: Worker) -> None:
        self._each("bad_worker_frame", worker)

    def tool_calls(
        self, rec: RequestRecord, calls: int, rejected: Counter[str], names: list[str]
    ) -> None:
        self._each("tool_calls", rec, calls, rejected, names)

    def tab_needs_human(self, worker: Worker, reason: str) -> None:
        self._each("tab_needs_human", worker, reason)

    def tab_usable_again(self, worker: Worker, reason: str, seconds: float) -> None:
        self._each("tab_usable_again", worker, reason, seconds)

    def human_check(self, rec: RequestRecord, reason: str, outcome: str, seconds: float) -> None:
        self._each("human_check", rec, reason, outcome, seconds)

    def account_cooldown(self, account: str, cooldown: Cooldown) -> None:
        self._each("account_cooldown", account, cooldown)

    def accounts_changed(self) -> None:
        self._each("accounts_changed")

    def pacing_waited(self, seconds: float) -> None:
        self._each("pacing_waited", seconds)
