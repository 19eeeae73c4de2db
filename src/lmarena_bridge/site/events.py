"""Events produced by the site stream parser (site.stream) and consumed by relay.completions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    text: str


@dataclass(slots=True)
class ImageOutput:
    url: str
    mime_type: str | None = None


@dataclass(slots=True)
class Citation:
    source: Any


@dataclass(slots=True)
class StreamError:
    """An in-stream error (``a3:`` line): the answer failed on the site's side."""

    message: str


@dataclass(slots=True)
class RoutedModel:
    """``a2`` ``routed_model`` item: the vendor a router model handed the prompt to."""

    organization: str


@dataclass(slots=True)
class Finish:
    """``ad:`` line. ``reason`` is the site's raw value (stop, length, content-filter, ...)."""

    reason: str
    usage: dict[str, Any] | None = field(default=None)


Event = (
    TextDelta | ReasoningDelta | ImageOutput | Citation | StreamError | RoutedModel | Finish
)
