"""The lines of one answer (without newlines): deterministic for a given request and state.

Every answer starts with a heartbeat line, then ``routed_model`` when set, then reasoning
(``ag``), then text deltas (``a0``; both sides interleaved in two-sided modes) or image items
(``a2``), then the finish line. Failure kinds that still answer 200 shape the tail.
"""

from __future__ import annotations

import base64
from typing import Any

from .hosts import ARENA_ORIGIN
from .state import EmulatorState
from .store import StoredObject
from .stream import HEARTBEAT, deltas, line

# A 1×1 PNG: image answers with state.image_as_base64 carry it as "data".
PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kg"
           "AAAABJRU5ErkJggg==")
STREAM_FAILURES = ("stream_error", "content_filter", "stall", "silent_stall", "arena_error")
ARENA_ERROR = "hasArenaError"


def preamble(state: EmulatorState) -> list[str]:
    out = [HEARTBEAT]
    if state.routed_model is not None:
        out.append(line("a", "2", [{"type": "routed_model", "organization": state.routed_model}]))
    return out


def image_item(state: EmulatorState) -> dict[str, Any]:
    """One generated image: base64 ``data``, or an ``image`` URL (``state.image_urls``)."""
    if state.image_as_base64:
        return {"type": "image", "data": PNG_1PX, "mimeType": "image/png"}
    state.image_counter += 1
    name = f"{state.image_counter}.png"
    if state.image_urls == "external":
        return {"type": "image", "image": f"https://images.emulator.test/{name}",
                "mimeType": "image/png"}
    key = f"generated/{name}"
    state.store.objects[key] = StoredObject(key=key, content_type="image/png",
                                            data=base64.b64decode(PNG_1PX), owner=None)
    url = (state.store.presign("GET", key, state.signed_url_lifetime)
           if state.image_urls == "store" else f"{ARENA_ORIGIN}/nextjs-api/images/{name}")
    return {"type": "image", "image": url, "mimeType": "image/png"}


def answer_lines(
    state: EmulatorState,
    answer: str,
    *,
    pos: str = "a",
    two_sided: bool = False,
    image: bool = False,
    failure: tuple[str, dict[str, Any]] | None = None,
    prompt_tokens: int = 0,
) -> list[str]:
    """The lines of an answer whose text is ``answer`` (ignored for images)."""
    out = preamble(state)
    kind = failure[0] if failure else None
    if kind == "stream_error":
        text = (failure[1] if failure else {}).get("message", "Error during generation: failed")
        return [*out, line(pos, "3", text), line(pos, "d", {"finishReason": "error"})]
    if state.reasoning:
        out += [line(pos, "g", d) for d in deltas(state.reasoning, state.chars_per_delta)]
    if image:
        out += [line(pos, "2", [image_item(state)]) for _ in range(state.images_per_answer)]
        return [*out, line(pos, "d", {"finishReason": "stop"})]

    if two_sided:
        side_a = [line("a", "0", d) for d in deltas("A: " + answer, state.chars_per_delta)]
        side_b = [line("b", "0", d) for d in deltas("B: " + answer, state.chars_per_delta)]
        for i in range(max(len(side_a), len(side_b))):  # the sides interleave
            out += side_a[i : i + 1] + side_b[i : i + 1]
        return [*out, line("a", "d", {"finishReason": "unknown"}),
                line("b", "d", {"finishReason": "stop"})]

    pieces = deltas(answer, state.chars_per_delta)
    if kind in ("content_filter", "arena_error"):
        pieces = pieces[: max(1, len(pieces) // 2)]
    out += [line(pos, "0", d) for d in pieces]
    if kind == "arena_error":
        return [*out, line(pos, "0", ARENA_ERROR)]  # the whole-line sentinel ends the answer
    if kind in ("stall", "silent_stall"):
        return out  # stream_writes stalls after these
    reason = "content-filter" if kind == "content_filter" else "stop"
    usage = {"promptTokens": prompt_tokens, "completionTokens": len(pieces)}
    return [*out, line(pos, "d", {"finishReason": reason, "usage": usage})]
