"""The site's model catalog -> available_models.json entries (docs/site-protocol.md §9).

``GET /nextjs-api/model-catalog`` answers a list of groups ``{arena, models, complete}``,
one per arena (``text``, ``code``, ``document``, ``text-to-image``, ``text-to-video``,
``search``). The same public name has a different id in each arena, so an entry is one
model object of one group, kept whole as the site sent it, plus its ``arena``. Pure.
"""

from __future__ import annotations

from typing import Any

from lmarena_bridge.site.models import extract_models

DEFAULT_ARENA = "text"  # what a model read from the page (no arena given) is used for


def catalog_entries(catalog: Any) -> list[dict[str, Any]]:
    """available_models.json entries from a catalog answer, in the catalog's order.

    Groups that are not objects, models without a string ``id`` and ``publicName``, and a
    model listed twice in one arena are left out; anything else about a model is kept.
    """
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for group in catalog if isinstance(catalog, list) else []:
        if not isinstance(group, dict) or not isinstance(group.get("models"), list):
            continue
        arena = group.get("arena")
        arena = arena if isinstance(arena, str) and arena else DEFAULT_ARENA
        for model in group["models"]:
            if not (
                isinstance(model, dict)
                and isinstance(model.get("id"), str)
                and isinstance(model.get("publicName"), str)
            ):
                continue
            key = (arena, model["id"])
            if key not in seen:
                seen.add(key)
                entries.append({**model, "arena": arena})
    return entries


def entries_from_tab(catalog: Any, html: str | None) -> list[dict[str, Any]]:
    """The entries of a tab's ``models`` answer: the catalog, else the page's
    ``initialModels`` (entries without an arena, as the tools have always written them)."""
    if catalog is not None:
        return catalog_entries(catalog)
    return extract_models(html) if html else []


def arena_of(entry: dict[str, Any]) -> str:
    arena = entry.get("arena")
    return arena if isinstance(arena, str) and arena else DEFAULT_ARENA


def display_name(entry: dict[str, Any]) -> str:
    """The model's real name: ``displayName`` (codename models have one), else ``publicName``."""
    for key in ("displayName", "publicName", "name", "id"):
        value = entry.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def user_selectable(entry: dict[str, Any]) -> bool:
    """Offered to users; lists from before 2026 have no flag, and everything was offered."""
    return entry.get("userSelectable") is not False


def image_input(entry: dict[str, Any]) -> dict[str, Any] | bool:
    """``inputCapabilities.image``: False, True, or ``{requiresUpload?, multipleImages?}``."""
    caps = entry.get("capabilities")
    inputs = caps.get("inputCapabilities") if isinstance(caps, dict) else None
    image = inputs.get("image") if isinstance(inputs, dict) else None
    if isinstance(image, dict):
        return image
    return bool(image)


def requires_upload(entry: dict[str, Any]) -> bool:
    """The model sees images only as files uploaded to the site's store
    (docs/site-protocol.md §10)."""
    image = image_input(entry)
    return isinstance(image, dict) and image.get("requiresUpload") is True


# Arenas whose models a chat or image request can use, the first preferred when one public
# name is in several (video generation has no OpenAI endpoint here).
USABLE_ARENAS = ("text", "search", "text-to-image", "document", "code")


def offered(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per public name for models.json: user-selectable, from a usable arena, the
    most preferred arena when a name is in several. Entries without an arena count as text."""
    best: dict[str, dict[str, Any]] = {}
    for entry in entries:
        arena = arena_of(entry)
        if not user_selectable(entry) or arena not in USABLE_ARENAS:
            continue
        name = str(entry["publicName"])
        kept = best.get(name)
        if kept is None or USABLE_ARENAS.index(arena) < USABLE_ARENAS.index(arena_of(kept)):
            best[name] = entry
    return [e for e in entries if best.get(str(e["publicName"])) is e]


def find_entry(available: Any, model_id: str | None) -> dict[str, Any] | None:
    """The entry with site id ``model_id`` in an available_models.json list."""
    if model_id is None:
        return None
    for entry in available:
        if isinstance(entry, dict) and entry.get("id") == model_id:
            return entry
    return None
