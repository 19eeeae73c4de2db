"""Comment-preserving edits of JSONC text (writing the files: config/files.py).

No JSONC library can change a value and keep the user's comments, so the
editor scans the text itself: it finds the span of the value at a key path and replaces
only that span. Every byte outside the changed span stays as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import json5

PathStep = str | int

# JSON5 whitespace; the BOM counts too so files saved by Notepad stay editable.
_WS_CHARS = " \t\r\n\v\f\ufeff\u00a0\u2028\u2029"
_WS = re.compile(f"[{_WS_CHARS}]+")
# Regexes rather than character loops: a discovered model list can be 100 kB.
# Unrolled "normal* (escape normal*)*" form: linear, and an escape pair is consumed whole,
# so an escaped quote or backslash never ends the string early.
_DOUBLE_QUOTED = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"', re.S)
_SINGLE_QUOTED = re.compile(r"'[^'\\\n]*(?:\\.[^'\\\n]*)*'", re.S)
# A bare scalar (number, true, false, null, NaN, Infinity) runs until one of these.
_SCALAR = re.compile(f"[^{_WS_CHARS},:\\[\\]{{}}\"'/]+")
_BARE_KEY = re.compile(r"[\w$]+")


@dataclass(slots=True)
class _Node:
    kind: Literal["object", "array", "scalar"]
    start: int
    end: int  # exclusive
    elements: list[_Element] = field(default_factory=list)


@dataclass(slots=True)
class _Element:
    """An object member (``key`` set, ``start`` at the key) or an array item."""

    key: str | None
    start: int
    value: _Node
    comma: int | None = None  # position of the comma that follows, if any


class _Scanner:
    """Recursive-descent scan of JSON5 text that records spans instead of building values."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)

    def error(self, pos: int, message: str) -> ValueError:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - self.text.rfind("\n", 0, pos)
        return ValueError(f"cannot edit: {message} at line {line}, column {column}")

    def skip(self, pos: int) -> int:
        """Skip whitespace and comments."""
        t = self.text
        while pos < self.n:
            if match := _WS.match(t, pos):
                pos = match.end()
            elif t.startswith("//", pos):
                newline = t.find("\n", pos)
                pos = self.n if newline < 0 else newline
            elif t.startswith("/*", pos):
                close = t.find("*/", pos + 2)
                if close < 0:
                    raise self.error(pos, "unclosed /* comment")
                pos = close + 2
            else:
                break
        return pos

    def document(self) -> _Node:
        pos = self.skip(0)
        if pos >= self.n:
            raise self.error(pos, "the text holds no JSON value")
        node = self.value(pos)
        rest = self.skip(node.end)
        if rest < self.n:
            raise self.error(rest, "unexpected text after the JSON value")
        return node

    def value(self, pos: int) -> _Node:
        if pos >= self.n:
            raise self.error(pos, "unexpected end of text")
        c = self.text[pos]
        if c == "{":
            return self.container(pos, "object")
        if c == "[":
            return self.container(pos, "array")
        if c in "\"'":
            return _Node("scalar", pos, self.string_end(pos))
        match = _SCALAR.match(self.text, pos)
        if match is None:
            raise self.error(pos, f"unexpected {c!r}")
        return _Node("scalar", pos, match.end())

    def string_end(self, pos: int) -> int:
        pattern = _DOUBLE_QUOTED if self.text[pos] == '"' else _SINGLE_QUOTED
        match = pattern.match(self.text, pos)
        if match is None:
            raise self.error(pos, "unterminated string")
        return match.end()

    def key(self, pos: int) -> tuple[str, int]:
        t = self.text
        if t[pos] in "\"'":
            end = self.string_end(pos)
            raw = t[pos:end]
            if "\\" not in raw:
                return raw[1:-1], end  # the common case; json5 is slow on every key
            return str(json5.loads(raw)), end
        match = _BARE_KEY.match(t, pos)
        if match is None:
            raise self.error(pos, "expected a key")
        return match.group(), match.end()

    def container(self, pos: int, kind: Literal["object", "array"]) -> _Node:
        t, close = self.text, "}" if kind == "object" else "]"
        node = _Node(kind, pos, -1)
        p = self.skip(pos + 1)
        while True:
            if p >= self.n:
                raise self.error(pos, f"unclosed {t[pos]}")
            if t[p] == close:
                node.end = p + 1
                return node
            start, key = p, None
            if kind == "object":
                key, p = self.key(p)
                p = self.skip(p)
                if p >= self.n or t[p] != ":":
                    raise self.error(p, "expected ':' after a key")
                p = self.skip(p + 1)
            element = _Element(key, start, self.value(p))
            node.elements.append(element)
            p = self.skip(element.value.end)
            if p < self.n and t[p] == ",":
                element.comma = p
                p = self.skip(p + 1)
            elif p >= self.n:
                raise self.error(pos, f"unclosed {t[pos]}")
            elif t[p] != close:
                raise self.error(p, f"expected ',' or '{close}'")


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _indent_at(text: str, pos: int) -> str:
    """The run of spaces/tabs that opens the line holding ``pos``."""
    start = end = _line_start(text, pos)
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _starts_line(text: str, pos: int) -> bool:
    return not text[_line_start(text, pos) : pos].strip(" \t\ufeff")


def _fmt_path(path: Sequence[PathStep]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


class _Document:
    """One parse of the text plus the layout facts edits need (newline, indent unit)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = _Scanner(text).document()
        self.nl = "\r\n" if "\r\n" in text else "\n"
        self.unit = self._child_unit(self.root) or "  "

    def _child_unit(self, node: _Node) -> str | None:
        base = _indent_at(self.text, node.start)
        for element in node.elements:
            if _starts_line(self.text, element.start):
                indent = _indent_at(self.text, element.start)
                if indent.startswith(base) and len(indent) > len(base):
                    return indent[len(base) :]
        return None

    def multiline(self, node: _Node) -> bool:
        return "\n" in self.text[node.start : node.end]

    def describe(self, node: _Node) -> str:
        if node.kind != "scalar":
            return f"an {node.kind}"
        first = self.text[node.start]
        if first in "\"'":
            return "a string"
        word = self.text[node.start : node.end]
        return word if word in ("true", "false", "null") else "a number"

    def render(self, value: Any, indent: str, multiline: bool) -> str:
        if multiline and isinstance(value, dict | list | tuple) and value:
            pretty = json.dumps(value, ensure_ascii=False, indent=self.unit)
            # json.dumps escapes newlines inside strings, so every "\n" here is layout.
            return pretty.replace("\n", self.nl + indent)
        return json.dumps(value, ensure_ascii=False)

    def same_line_end(self, pos: int) -> int:
        """Skip spaces and comments that sit on the same line; stop at the line break."""
        t = self.text
        while pos < len(t):
            if t[pos] in " \t":
                pos += 1
            elif t.startswith("//", pos):
                newline = t.find("\n", pos)
                end = len(t) if newline < 0 else newline
                return end - 1 if end > pos and t[end - 1] == "\r" else end
            elif t.startswith("/*", pos):
                close = t.find("*/", pos + 2)
                pos = len(t) if close < 0 else close + 2
            else:
                break
        return pos

    def apply(self, edits: list[tuple[int, int, str]]) -> str:
        """Apply non-overlapping edits; at one position, earlier-listed text comes first."""
        text = self.text
        order = sorted(range(len(edits)), key=lambda i: (edits[i][0], i), reverse=True)
        for i in order:
            start, end, new = edits[i]
            text = text[:start] + new + text[end:]
        return text

    def replace(self, node: _Node, value: Any, indent: str, multiline: bool) -> str:
        return self.apply([(node.start, node.end, self.render(value, indent, multiline))])

    def insert(self, node: _Node, key: str | None, value: Any, parent_multiline: bool) -> str:
        """Add ``key: value`` (or an array item) after the last element of ``node``."""
        t = self.text
        prefix = "" if key is None else json.dumps(key, ensure_ascii=False) + ": "
        close = node.end - 1
        if node.elements:
            last = node.elements[-1]
            if not self.multiline(node):
                body = prefix + self.render(value, "", False)
                if last.comma is None:
                    return self.apply([(last.value.end, last.value.end, ", " + body)])
                return self.apply([(last.comma + 1, last.comma + 1, " " + body + ",")])
            indent = self._element_indent(node)
            body = prefix + self.render(value, indent, True)
            edits: list[tuple[int, int, str]] = []
            if last.comma is None:
                # The comma goes right after the value, before any trailing comment.
                edits.append((last.value.end, last.value.end, ","))
                at, trailing = self.same_line_end(last.value.end), ""
            else:
                # Keep the file's trailing-comma style.
                at, trailing = self.same_line_end(last.comma + 1), ","
            edits.append((at, at, self.nl + indent + body + trailing))
            return self.apply(edits)

        inner = t[node.start + 1 : close]
        base = _indent_at(t, node.start)
        indent = base + self.unit
        if "\n" in inner:
            at = self.same_line_end(node.start + 1)
            body = prefix + self.render(value, indent, True)
            return self.apply([(at, at, self.nl + indent + body)])
        if inner.strip(" \t"):  # only an inline comment inside: keep it, stay on one line
            return self.apply([(close, close, prefix + self.render(value, "", False))])
        if parent_multiline:
            body = prefix + self.render(value, indent, True)
            return self.apply([(node.start + 1, close, self.nl + indent + body + self.nl + base)])
        return self.apply([(node.start + 1, close, prefix + self.render(value, "", False))])

    def _element_indent(self, node: _Node) -> str:
        for element in reversed(node.elements):
            if _starts_line(self.text, element.start):
                return _indent_at(self.text, element.start)
        return _indent_at(self.text, node.start) + self.unit

    def remove(self, node: _Node, index: int) -> str:
        """Drop one element with its comma; a member alone on its line goes with the line."""
        t, elements = self.text, node.elements
        element = elements[index]
        is_last = index == len(elements) - 1
        previous = elements[index - 1] if index > 0 else None
        after = element.value.end if element.comma is None else element.comma + 1
        end = self.same_line_end(after)
        line_based = end < len(t) and t[end] in "\r\n" and _starts_line(t, element.start)
        edits: list[tuple[int, int, str]] = []
        if line_based:
            end += 2 if t.startswith("\r\n", end) else 1
            edits.append((_line_start(t, element.start), end, ""))
            if is_last and element.comma is None and previous is not None:
                assert previous.comma is not None
                edits.append((previous.comma, previous.comma + 1, ""))
        elif is_last and element.comma is None and previous is not None:
            assert previous.comma is not None
            edits.append((previous.comma, element.value.end, ""))
        else:
            # Inline: take the comma and the spaces after it, so the next member moves up.
            followed = not is_last or element.comma is not None
            edits.append((element.start, end if followed else after, ""))
        return self.apply(edits)


def _find(node: _Node, step: PathStep) -> int | None:
    """Index of the element addressed by ``step`` (the last one wins for duplicate keys)."""
    if isinstance(step, str):
        for i in range(len(node.elements) - 1, -1, -1):
            if node.elements[i].key == step:
                return i
        return None
    index = step + len(node.elements) if step < 0 else step
    return index if 0 <= index < len(node.elements) else None


def _check_step(doc: _Document, node: _Node, path: Sequence[PathStep], i: int, verb: str) -> None:
    step = path[i]
    if isinstance(step, bool) or not isinstance(step, str | int):
        raise TypeError(f"path steps must be str or int, got {step!r}")
    wanted = "object" if isinstance(step, str) else "array"
    if node.kind != wanted:
        where = f"'{_fmt_path(path[:i])}'" if i else "the top level"
        raise ValueError(
            f"cannot {verb} '{_fmt_path(path)}': {where} is {doc.describe(node)}, not an {wanted}"
        )


def set_value(text: str, path: Sequence[PathStep], value: Any) -> str:
    """Return ``text`` with the value at ``path`` set to ``value`` (JSON-serialisable).

    Missing keys (and missing intermediate objects) are inserted after the last member of
    their object; an array index equal to the array's length appends. Raises ``ValueError``
    when the text cannot be scanned, when the path goes through a value that is not an
    object (or not an array, for an int step), or when an index is out of range.
    """
    doc = _Document(text)
    node, parent_multiline = doc.root, True
    for i, step in enumerate(path):
        _check_step(doc, node, path, i, "set")
        index = _find(node, step)
        if index is None:
            if isinstance(step, str):
                return doc.insert(node, step, _nest(path, i + 1, value), parent_multiline)
            if step == len(node.elements) and i == len(path) - 1:
                return doc.insert(node, None, value, parent_multiline)
            raise ValueError(
                f"cannot set '{_fmt_path(path)}': index {step} is out of range "
                f"(the array has {len(node.elements)} items)"
            )
        element = node.elements[index]
        parent_multiline = doc.multiline(node)
        if i == len(path) - 1:
            return doc.replace(
                element.value, value, _indent_at(text, element.start), parent_multiline
            )
        node = element.value
    return doc.replace(doc.root, value, _indent_at(text, doc.root.start), True)


def _nest(path: Sequence[PathStep], start: int, value: Any) -> Any:
    for step in reversed(path[start:]):
        if not isinstance(step, str):
            raise ValueError(f"cannot set '{_fmt_path(path)}': cannot create array item {step}")
        value = {step: value}
    return value


def remove_key(text: str, path: Sequence[PathStep]) -> str:
    """Return ``text`` without the member (or array item) at ``path``.

    A path that does not exist leaves the text unchanged. Duplicate keys are all removed,
    so no shadowed value comes back. Raises ``ValueError`` like ``set_value``.
    """
    if not path:
        raise ValueError("cannot remove the top-level value")
    while True:
        doc = _Document(text)
        node = doc.root
        for i, step in enumerate(path):
            _check_step(doc, node, path, i, "remove")
            index = _find(node, step)
            if index is None:
                return text
            if i == len(path) - 1:
                text = doc.remove(node, index)
                break
            node = node.elements[index].value
        if isinstance(path[-1], int):
            return text
