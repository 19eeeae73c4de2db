"""Incremental parser of the site's response body (docs/site-protocol.md §2).

The body is the Vercel AI SDK data stream with a participant letter in front of every
line: ``<pos><code>:<JSON>\\n``. Pieces handed to :meth:`SiteStreamParser.feed` do not
align with lines, so the parser keeps only the unfinished tail between calls; every
character is scanned a constant number of times, whatever the chunking.

The parser never looks for Cloudflare pages or ``{"error": ...}`` objects in the body:
a model may write those words, and errors reach the bridge out of band (error frames,
``a3`` lines), so text is only ever text.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import orjson

from lmarena_bridge.site.events import (
    Citation,
    Event,
    Finish,
    ImageOutput,
    ReasoningDelta,
    RoutedModel,
    StreamError,
    TextDelta,
)

# Codes that are understood (0, g, 2, 3, c, d, k) or known to be noise (e, f: step
# markers). Any other code is counted so that protocol drift shows up in metrics.
_KNOWN_CODES = frozenset("0g23cdkef")
_CITATION_TOOL = "citation-source"
# The whole text line ``a0:"hasArenaError"`` is the site's failure sentinel, not model text.
_ARENA_ERROR = "hasArenaError"


class SiteStreamParser:
    """Turn decoded body pieces into :data:`~lmarena_bridge.site.events.Event` lists.

    Only lines of participant ``side`` produce events; the other battle side is dropped
    silently. Never raises on bad input: unparseable lines are counted in
    ``malformed_lines``, lines with unexpected codes in ``unknown_prefixes``.
    """

    __slots__ = ("_other", "_tail", "chars_received", "malformed_lines", "side", "unknown_prefixes")

    def __init__(self, side: str = "a") -> None:
        if side not in ("a", "b"):
            raise ValueError(f"side must be 'a' or 'b', not {side!r}")
        self.side = side
        self._other = "b" if side == "a" else "a"
        # Pieces of the current unfinished line; a list so that a long line arriving in
        # many small pieces is joined once, not re-copied on every feed.
        self._tail: list[str] = []
        self.chars_received = 0
        self.malformed_lines = 0
        self.unknown_prefixes: Counter[str] = Counter()

    def feed(self, chunk: str) -> list[Event]:
        """Parse one piece of the body; returns the events of the lines it completed."""
        self.chars_received += len(chunk)
        cut = chunk.find("\n")
        if cut < 0:
            if chunk:
                self._tail.append(chunk)
            return []
        out: list[Event] = []
        if self._tail:
            self._tail.append(chunk[:cut])
            first = "".join(self._tail)
            self._tail.clear()
        else:
            first = chunk[:cut]
        self._line(first, out)
        lines = chunk[cut + 1 :].split("\n")
        rest = lines.pop()
        if rest:
            self._tail.append(rest)
        line = self._line
        for text in lines:
            line(text, out)
        return out

    def close(self) -> list[Event]:
        """Parse a final line that had no trailing newline. The parser may be reused."""
        if not self._tail:
            return []
        last = "".join(self._tail)
        self._tail.clear()
        out: list[Event] = []
        self._line(last, out)
        return out

    # ---- one line -----------------------------------------------------------------

    def _line(self, line: str, out: list[Event]) -> None:
        if not line:
            return
        # Fast path: the overwhelming majority of lines are ``a0:"<text>"`` without escapes.
        if line[0] == self.side and line.startswith('0:"', 1) and line[-1] == '"' and len(line) > 4:
            text = line[4:-1]
            if "\\" not in text and '"' not in text:
                if text == _ARENA_ERROR:
                    out.append(StreamError("the site reported an error (hasArenaError)"))
                elif text:
                    out.append(TextDelta(text))
                return
            # Escaped text: let orjson decode it directly (lone surrogates take the slow path).
            try:
                value = orjson.loads(line[3:])
            except orjson.JSONDecodeError:
                pass
            else:
                if value.__class__ is str:
                    if value:
                        out.append(TextDelta(value))
                    return
        if line[-1] == "\r":
            line = line[:-1]
        if line.startswith("data:"):
            line = line[5:].lstrip(" ")
        if not line or line.isspace() or line == "[DONE]":
            return
        if len(line) < 3 or line[2] != ":":
            self.malformed_lines += 1
            return
        pos = line[0]
        if pos == self._other:
            return
        code = line[1]
        if pos != self.side or code not in _KNOWN_CODES:
            self.unknown_prefixes[line[:2]] += 1
            return
        if code in "ef":
            return
        try:
            value = _loads(line[3:])
        except ValueError:
            self.malformed_lines += 1
            return
        if not self._dispatch(code, value, out):
            self.malformed_lines += 1

    def _dispatch(self, code: str, value: Any, out: list[Event]) -> bool:
        """Append the events of one parsed line; False if the value has the wrong shape."""
        if code == "0" or code == "g":
            if not isinstance(value, str):
                return False
            if value:
                out.append(TextDelta(value) if code == "0" else ReasoningDelta(value))
            return True
        if code == "d":
            if not isinstance(value, dict):
                return False
            reason = value.get("finishReason")
            usage = value.get("usage")
            out.append(
                Finish(
                    reason if isinstance(reason, str) and reason else "unknown",
                    usage if isinstance(usage, dict) else None,
                )
            )
            return True
        if code == "3":
            out.append(StreamError(value if isinstance(value, str) else _compact(value)))
            return True
        if code == "2":
            if not isinstance(value, list):
                return False
            for item in value:
                if not isinstance(item, dict):
                    continue
                kind = item.get("type")
                if kind == "image":
                    image = _image(item, "image")
                    if image is not None:
                        out.append(image)
                elif kind == "routed_model":
                    org = item.get("organization")
                    if isinstance(org, str) and org:
                        out.append(RoutedModel(org))
                # heartbeat: liveness only (its bytes already reset the relay's idle timer);
                # webdev and other items carry nothing for a chat answer.
            return True
        if code == "k":
            if not isinstance(value, dict):
                return False
            mime = value.get("mimeType")
            if isinstance(mime, str) and mime.startswith("image/"):
                image = _image(value, "url")
                if image is not None:
                    out.append(image)
            return True
        # code == "c": tool-call delta; only the citation pseudo-tool carries anything for us.
        if not isinstance(value, dict):
            return False
        if value.get("toolCallId") != _CITATION_TOOL:
            return True
        args = value.get("argsTextDelta")
        if not isinstance(args, str):
            return False
        try:
            parsed = _loads(args)
        except ValueError:
            return False
        if not isinstance(parsed, dict):
            return False
        source = parsed.get("source")
        if source is not None:
            out.append(Citation(source))
        return True


def _image(item: dict[str, Any], url_key: str) -> ImageOutput | None:
    """An image from an ``a2`` element or an ``ak`` file: a URL, or base64 ``data``."""
    mime = item.get("mimeType")
    mime = mime if isinstance(mime, str) and mime else None
    url = item.get(url_key)
    if isinstance(url, str) and url:
        return ImageOutput(url, mime)
    data = item.get("data")
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            return ImageOutput(data, mime)
        return ImageOutput(f"data:{mime or 'image/png'};base64,{data}", mime or "image/png")
    return None


def _loads(text: str) -> Any:
    """orjson first; the stdlib only for what orjson refuses but JSON.stringify emits.

    ``JSON.stringify`` writes lone UTF-16 surrogates as ``\\udXXX`` escapes (a model can
    split an emoji between two deltas); orjson rejects them, the stdlib accepts them and
    :func:`_clean` turns them into U+FFFD so that encoding the text later cannot fail.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    return _clean(json.loads(text))  # raises ValueError (JSONDecodeError) on real garbage


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _compact(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)
