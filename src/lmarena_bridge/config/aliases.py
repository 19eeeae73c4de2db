"""``model_aliases``: the model a client's name stands for (config.jsonc)."""

from __future__ import annotations

from collections.abc import Container, Mapping
from fnmatch import fnmatchcase


def resolve_model(name: str, aliases: Mapping[str, str], known: Container[str]) -> str:
    """The configured model ``name`` means: itself when known, else its exact alias, else
    the first matching pattern's target (in file order); unmatched names come back as is,
    for the caller's 404."""
    if name in known or not aliases:
        return name
    exact = aliases.get(name)
    if exact is not None:
        return exact
    for pattern, target in aliases.items():
        if any(c in pattern for c in "*?[") and fnmatchcase(name, pattern):
            return target
    return name
