"""An OpenAI conversation flattened into the one user message the site receives.

Since Nov 2025 the site keeps a conversation's history itself and ignores any history a
client sends (docs/site-protocol.md), so a new site conversation per request must carry
the whole transcript in its text. Pure; the format is configurable (docs/configuration.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

DEFAULT_ROLE_NAMES: Mapping[str, str] = {
    "system": "System",
    "user": "User",
    "assistant": "Assistant",
    "tool": "Tool",
}


@dataclass(frozen=True, slots=True)
class TranscriptFormat:
    """``turn`` holds ``{role}`` and ``{content}``; turns are joined with ``separator``."""

    turn: str = "{role}: {content}"
    separator: str = "\n\n"
    role_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROLE_NAMES))

    def render(self, role: str, content: str) -> str:
        name = self.role_names.get(role) or DEFAULT_ROLE_NAMES.get(role, role.title())
        # Plain replacement, not str.format: the content and a user's template may hold braces.
        return self.turn.replace("{role}", name).replace("{content}", content)


def flatten(turns: Sequence[tuple[str, str]], fmt: TranscriptFormat) -> str:
    """One text for ``(role, content)`` turns: every system turn first, then the rest in order.

    A conversation of exactly one user turn is sent as it is, unlabelled: it reads as what
    the user typed, as on the site itself.
    """
    systems = [content for role, content in turns if role == "system"]
    rest = [(role, content) for role, content in turns if role != "system"]
    if not systems and len(rest) == 1 and rest[0][0] == "user":
        return rest[0][1]
    parts = [fmt.render("system", content) for content in systems if content.strip()]
    parts += [fmt.render(role, content) for role, content in rest]
    return fmt.separator.join(parts)


# (role in the transcript, text, attachment urls): what identifies a turn.
TurnKey = tuple[str, str, tuple[str, ...]]


def conversation_key(model: str, turns: Sequence[TurnKey]) -> str:
    """A digest of a model name and a transcript; equal exactly when both are equal."""
    return hashlib.sha256(orjson.dumps([model, [list(t) for t in turns]])).hexdigest()
