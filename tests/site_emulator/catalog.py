"""The emulator's model list: stable ids tests and the bridge's models.json can name."""

from __future__ import annotations

from typing import Any

TEXT_MODEL_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"
IMAGE_MODEL_ID = "51ad1d79-61e2-414c-99e3-faeb64bb6b1b"
SEARCH_MODEL_ID = "7a0c9a2e-3f5b-4c1d-9e8f-1b2c3d4e5f60"
VISION_MODEL_ID = "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f"
STEALTH_MODEL_ID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def default_models() -> list[dict[str, Any]]:
    """The model registry shown in the page (shapes: docs/site-protocol.md §3)."""

    def model(mid: str, name: str, caps: dict[str, Any], org: str | None, rank: int) -> dict:
        entry: dict[str, Any] = {"id": mid, "publicName": name, "name": name, "capabilities": caps}
        if org is not None:  # stealth models carry neither organization nor provider
            entry["organization"] = org
            entry["provider"] = org
        entry["rank"] = rank
        return entry

    text_in = {"text": True}
    return [
        model(TEXT_MODEL_ID, "echo-1", {"inputCapabilities": text_in,
              "outputCapabilities": {"text": True}}, "emulator", 1),
        model(IMAGE_MODEL_ID, "echo-image-1", {"inputCapabilities": text_in,
              "outputCapabilities": {"image": {"aspectRatios": ["1:1", "16:9"]}}}, "emulator", 2),
        model(SEARCH_MODEL_ID, "echo-search-1", {"inputCapabilities": text_in,
              "outputCapabilities": {"text": True, "search": True}}, "emulator", 3),
        model(VISION_MODEL_ID, "echo-vision-1", {
            "inputCapabilities": {"text": True, "image": {"requiresUpload": True,
                                                          "multipleImages": True}},
            "outputCapabilities": {"text": True}}, "emulator", 4),
        model(STEALTH_MODEL_ID, "mystery-model", {"inputCapabilities": text_in,
              "outputCapabilities": {"text": True}}, None, 9007199254740991),
    ]
