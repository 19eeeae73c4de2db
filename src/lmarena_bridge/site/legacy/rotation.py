"""Which captured message of a model's pool (model_endpoint_map.json) a request regenerates."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from lmarena_bridge.config.model import EndpointEntry

Picker = Callable[[str, Sequence[EndpointEntry]], EndpointEntry]


class EndpointRotation:
    """Chooses an entry from a model's pool in model_endpoint_map.json.

    ``round_robin`` (default) spreads requests over the pool in order, per model name, so
    concurrent requests do not all regenerate the same captured message;
    ``random`` matches the seed's ``random.choice``. Single-threaded use (the event loop).
    """

    def __init__(self, strategy: str = "round_robin", rng: random.Random | None = None) -> None:
        if strategy not in ("round_robin", "random"):
            raise ValueError(f"unknown endpoint pool strategy {strategy!r}")
        self.strategy = strategy
        self._rng = rng or random.Random()
        self._counters: dict[str, int] = {}

    def pick(self, model: str, entries: Sequence[EndpointEntry]) -> EndpointEntry:
        if not entries:
            raise ValueError(f"empty endpoint pool for {model!r}")
        if self.strategy == "random":
            return self._rng.choice(entries)
        turn = self._counters.get(model, 0)
        self._counters[model] = turn + 1
        return entries[turn % len(entries)]

    def reset(self) -> None:
        """Forget the positions (e.g. after the map was reloaded)."""
        self._counters.clear()


def first_entry(model: str, entries: Sequence[EndpointEntry]) -> EndpointEntry:
    return entries[0]
