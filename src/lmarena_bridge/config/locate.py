"""Where a key path sits in a config file's text, so that a problem can name its line."""

from __future__ import annotations

from collections.abc import Sequence

# The editor's scanner already records the span of every key and value; reading it here
# keeps one JSONC scanner in the package.
from lmarena_bridge.config.editor import _find, _Node, _Scanner


class KeyLines:
    """Line numbers (1-based) of key paths in one JSONC text; scanned once, on first use."""

    def __init__(self, text: str | None) -> None:
        self._text = text
        self._root: _Node | None = None
        self._scanned = False

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest element of ``path`` found (the key itself when present,
        else its closest parent: the object that lacks a required key); None when the text
        is missing, does not scan, or holds none of the path."""
        root = self._scan()
        if root is None or self._text is None:
            return None
        node, start = root, None
        for step in path:
            if node.kind != ("object" if isinstance(step, str) else "array"):
                break
            index = _find(node, step)
            if index is None:
                break
            element = node.elements[index]
            node, start = element.value, element.start
        return None if start is None else self._text.count("\n", 0, start) + 1

    def _scan(self) -> _Node | None:
        if not self._scanned:
            self._scanned = True
            if self._text is not None:
                try:
                    self._root = _Scanner(self._text).document()
                except ValueError:
                    self._root = None
        return self._root
