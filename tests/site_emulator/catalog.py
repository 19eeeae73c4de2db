"""The emulator's models: the page's ``initialModels`` and the ``/nextjs-api/model-catalog``
answer built from the same objects, with stable ids tests and models.json can name.

The catalog (SITE_2026.md §5) groups models by arena: every model of the page list sits in
the arena its outputs suggest, and a few models exist only in the catalog: ``echo-1`` again
under another id in the code arena (one public name, two ids), a retired model that is not
``userSelectable``, a document model and a video model.
"""

from __future__ import annotations

import copy
from typing import Any

TEXT_MODEL_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"
IMAGE_MODEL_ID = "51ad1d79-61e2-414c-99e3-faeb64bb6b1b"
SEARCH_MODEL_ID = "7a0c9a2e-3f5b-4c1d-9e8f-1b2c3d4e5f60"
VISION_MODEL_ID = "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f"
STEALTH_MODEL_ID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
CODE_MODEL_ID = "019e86fe-5125-7c3a-9d11-4b5e6f708192"  # echo-1 in the code arena
RETIRED_MODEL_ID = "4c3b2a19-0817-4f6e-9d5c-3b2a19080716"
DOCUMENT_MODEL_ID = "019e86fe-6a6b-7c6d-8e6f-707172737475"
VIDEO_MODEL_ID = "019e86fe-7b7c-7d7e-8f80-818283848586"

ARENAS = ("text", "code", "document", "text-to-image", "text-to-video", "search")
STEALTH_DISPLAY_NAME = "qwen-ultra-preview"  # the codename model's real name
TEXT_IN = {"text": True}


def _model(mid: str, name: str, caps: dict[str, Any], org: str | None, rank: int,
           display: str | None = None, selectable: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": mid, "publicName": name, "name": name,
                             "displayName": display or name, "capabilities": caps,
                             "userSelectable": selectable}
    if org is not None:  # stealth models carry neither organization nor provider
        entry["organization"] = org
        entry["provider"] = org
    entry["rank"] = rank
    return entry


def default_models() -> list[dict[str, Any]]:
    """The model list in the page (shapes: docs/site-protocol.md §3)."""
    return [
        _model(TEXT_MODEL_ID, "echo-1", {"inputCapabilities": TEXT_IN,
               "outputCapabilities": {"text": True}}, "emulator", 1),
        _model(IMAGE_MODEL_ID, "echo-image-1", {"inputCapabilities": TEXT_IN,
               "outputCapabilities": {"image": {"aspectRatios": ["1:1", "16:9"]}}},
               "emulator", 2),
        _model(SEARCH_MODEL_ID, "echo-search-1", {"inputCapabilities": TEXT_IN,
               "outputCapabilities": {"text": True, "search": True}}, "emulator", 3),
        _model(VISION_MODEL_ID, "echo-vision-1", {
            "inputCapabilities": {"text": True, "image": {"requiresUpload": True,
                                                          "multipleImages": True}},
            "outputCapabilities": {"text": True}}, "emulator", 4),
        _model(STEALTH_MODEL_ID, "mystery-model", {"inputCapabilities": TEXT_IN,
               "outputCapabilities": {"text": True}}, None, 9007199254740991,
               display=STEALTH_DISPLAY_NAME),
    ]


def catalog_only_models() -> list[tuple[str, dict[str, Any]]]:
    """(arena, model) pairs the catalog lists besides the page's models."""
    return [
        ("code", _model(CODE_MODEL_ID, "echo-1", {"inputCapabilities": TEXT_IN,
                        "outputCapabilities": {"web": True}}, "emulator", 1)),
        ("text", _model(RETIRED_MODEL_ID, "echo-0", {"inputCapabilities": TEXT_IN,
                        "outputCapabilities": {"text": True}}, "emulator", 50,
                        selectable=False)),
        ("document", _model(DOCUMENT_MODEL_ID, "echo-docs-1", {
            "inputCapabilities": {"text": True, "file": True},
            "outputCapabilities": {"text": True}}, "emulator", 1)),
        ("text-to-video", _model(VIDEO_MODEL_ID, "echo-video-1", {
            "inputCapabilities": {"text": True, "image": True},
            "outputCapabilities": {"video": True}}, "emulator", 1)),
    ]


def arena_of(model: dict[str, Any]) -> str:
    """The arena a page model belongs to, from its outputs (image > video > search > text)."""
    outputs = model.get("capabilities", {}).get("outputCapabilities", {})
    if outputs.get("image"):
        return "text-to-image"
    if outputs.get("video"):
        return "text-to-video"
    if outputs.get("search"):
        return "search"
    return "text"


def model_catalog(models: list[dict[str, Any]],
                  extra: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The ``GET /nextjs-api/model-catalog`` answer: ``[{arena, models, complete}]``, one
    group per arena, the page's models (copied) and then ``extra``."""
    groups: dict[str, list[dict[str, Any]]] = {arena: [] for arena in ARENAS}
    for model in models:
        groups.setdefault(arena_of(model), []).append(copy.deepcopy(model))
    for arena, model in extra:
        groups.setdefault(arena, []).append(copy.deepcopy(model))
    return [{"arena": arena, "models": found, "complete": True}
            for arena, found in groups.items()]


def requires_upload(model: dict[str, Any] | None) -> bool:
    """The model only sees images uploaded to the site's store (SITE_2026.md §4)."""
    if model is None:
        return False
    image = model.get("capabilities", {}).get("inputCapabilities", {}).get("image")
    return isinstance(image, dict) and image.get("requiresUpload") is True
