"""The site's model list, read from the page HTML (docs/site-protocol.md §3).

The list travels in Next.js flight data: ``<script>self.__next_f.push([1,"…"])</script>``
tags whose JavaScript string literals, concatenated, form the flight stream. We decode
each literal as a string (not by replacing ``\\"``), find the ``"initialModels":`` key
(Nov 2025+) or the older ``"initialState":`` array, and let a JSON decoder read the array,
so key order, braces inside names and object size do not matter (§7 #25).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lmarena_bridge.protocol.openai import ModelCapabilities

_KEYS = ("initialModels", "initialState")
# The string literal of a flight push; possessive quantifiers keep the scan linear.
_PUSH = re.compile(r"""self\.__next_f\.push\(\s*\[\s*1\s*,\s*("(?:[^"\\]++|\\.)*+")\s*\]\s*\)""")
# What is left of a JavaScript string literal's body from some point on (up to its end).
_LITERAL_REST = re.compile(r'(?:[^"\\]++|\\.)*+', re.DOTALL)
# Escapes that JavaScript allows and JSON does not.
_JS_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|(')|(\r\n|\n|\r)|(.))", re.DOTALL)
_DECODER = json.JSONDecoder(strict=False)


@dataclass(frozen=True, slots=True)
class ModelDiff:
    """Changes between two model lists, by id. Names are publicNames, sorted."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old_name, new_name)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.renamed)


def extract_models(html: str) -> list[dict[str, Any]]:
    """Model objects (with ``id`` and ``publicName``) from page HTML, deduplicated by id.

    Returns an empty list when the page holds no model list (e.g. a challenge page).
    """
    pushes = [_js_string(m.group(1)) for m in _PUSH.finditer(html)]
    flight = "".join(p for p in pushes if p is not None)
    found = _scan_plain(flight) if flight else []
    if not found:
        # No (readable) flight scripts: the list may still sit escaped once in the raw page
        # (other script shapes), escaped inside a flight string, or as plain JSON.
        found = _scan_escaped(flight) + _scan_escaped(html) + _scan_plain(html)
    return _dedupe(found)


def model_capabilities(model: dict[str, Any]) -> dict[str, bool]:
    """Flags: text, image, video, search, webdev (outputs) and vision (image input)."""
    caps = model.get("capabilities")
    caps = caps if isinstance(caps, dict) else {}
    outputs = caps.get("outputCapabilities")
    outputs = outputs if isinstance(outputs, dict) else {}
    inputs = caps.get("inputCapabilities")
    inputs = inputs if isinstance(inputs, dict) else {}
    return {
        "text": bool(outputs.get("text")),
        "image": bool(outputs.get("image")),
        "video": bool(outputs.get("video")),
        "search": bool(outputs.get("search")),
        "webdev": bool(outputs.get("web") or outputs.get("webdev")),
        "vision": bool(inputs.get("image")),
    }


def is_image_model(model: dict[str, Any]) -> bool:
    return model_capabilities(model)["image"]


def models_json_value(model: dict[str, Any]) -> str:
    """The models.json value for a site model: ``"<arena>:<id>"`` for a catalog entry (the
    arena says what kind it is), else ``"<id>:image"`` or ``"<id>"``."""
    arena = model.get("arena")
    if isinstance(arena, str) and arena:
        return f"{arena}:{model['id']}"
    return f"{model['id']}:image" if is_image_model(model) else str(model["id"])


def diff_models(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> ModelDiff:
    """What was added, removed or renamed (same id, other publicName) from old to new."""
    before = _names_by_id(old)
    after = _names_by_id(new)
    return ModelDiff(
        added=sorted(after[i] for i in after.keys() - before.keys()),
        removed=sorted(before[i] for i in before.keys() - after.keys()),
        renamed=sorted(
            (before[i], after[i]) for i in before.keys() & after.keys() if before[i] != after[i]
        ),
    )


# ---- helpers ------------------------------------------------------------------------


def _js_string(literal: str) -> str | None:
    """Decode a double-quoted JavaScript string literal (quotes included)."""
    try:
        value = _DECODER.decode(literal)
    except ValueError:
        try:
            value = _DECODER.decode(_JS_ESCAPE.sub(_to_json_escape, literal))
        except ValueError:
            return None
    return value if isinstance(value, str) else None


def _to_json_escape(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return "\\u00" + m.group(1)
    if m.group(2) is not None:
        return "'"
    if m.group(3) is not None:
        return ""  # line continuation
    char = m.group(4)
    if char in '"\\/bfnrtu':
        return m.group(0)
    if char == "0":
        return "\\u0000"
    if char == "v":
        return "\\u000b"
    return char  # JavaScript drops the backslash of an unknown escape


def _scan_plain(text: str) -> list[dict[str, Any]]:
    """Arrays after ``"initialModels":`` / ``"initialState":`` in decoded JSON text."""
    return [m for key in _KEYS for m in _scan_key(text, key)]


def _scan_key(text: str, key: str) -> list[dict[str, Any]]:
    """Arrays after ``"<key>":`` in ``text``, in time linear in ``text``.

    Each array is read from the text between its key and the next occurrence of the key:
    a hostile page repeats the key thousands of times, and reading (or failing to read, as
    a JSON error locates itself from the start of its text) past the next key each time
    would make the scan quadratic. A model list never holds its own key.
    """
    needle = f'"{key}":'
    starts: list[int] = []
    at = text.find(needle)
    while at >= 0:
        starts.append(at)
        at = text.find(needle, at + len(needle))
    found: list[dict[str, Any]] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        found += _models_in(text[start + len(needle) : end])
    return found


def _scan_escaped(text: str) -> list[dict[str, Any]]:
    """The same keys escaped once (``\\"initialModels\\":``), inside a string literal.

    The enclosing literal is decoded once, from the first key in it to its end, and scanned
    as plain text; the search then goes on after that literal (linear in ``text``).
    """
    found: list[dict[str, Any]] = []
    for key in _KEYS:
        needle = f'\\"{key}\\":'
        start = text.find(needle)
        while start >= 0:
            rest = _LITERAL_REST.match(text, start)
            end = rest.end() if rest else start + len(needle)
            decoded = _js_string(f'"{text[start:end]}"')
            if decoded is not None:
                found += _scan_key(decoded, key)
            start = text.find(needle, max(end, start + len(needle)))
    return found


def _models_in(text: str) -> list[dict[str, Any]]:
    """The models of the JSON array ``text`` starts with (after blanks), if it does."""
    pos = len(text) - len(text.lstrip(" \t\r\n"))
    if not text.startswith("[", pos):
        return []  # e.g. "initialState":"$undefined"
    try:
        value, _ = _DECODER.raw_decode(text, pos)
    except (ValueError, RecursionError):
        return []
    return [
        m
        for m in value
        if isinstance(m, dict)
        and isinstance(m.get("id"), str)
        and isinstance(m.get("publicName"), str)
    ]


def _dedupe(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for m in models:
        if m["id"] not in seen:
            seen.add(m["id"])
            out.append(m)
    return out


def _names_by_id(models: list[dict[str, Any]]) -> dict[str, str]:
    """id -> name; a catalog entry outside the text arena is named with its arena."""
    names = {}
    for m in models:
        if isinstance(m, dict) and isinstance(m.get("id"), str):
            name = str(m.get("publicName") or m.get("name") or m["id"])
            arena = m.get("arena")
            names[m["id"]] = f"{name} [{arena}]" if arena not in (None, "", "text") else name
    return names



def card_capabilities(entry: dict[str, Any], kind: str = "text") -> ModelCapabilities:
    """What ``/v1/models`` says a model can do: the site's flags and the models.json kind."""
    flags = model_capabilities(entry)
    caps = entry.get("capabilities")
    inputs = caps.get("inputCapabilities") if isinstance(caps, dict) else None
    image_in = inputs.get("image") if isinstance(inputs, dict) else None
    return ModelCapabilities(
        vision=flags["vision"],
        image_output=flags["image"] or kind == "image",
        search=flags["search"] or kind == "search",
        requires_upload=isinstance(image_in, dict) and bool(image_in.get("requiresUpload")),
    )
