"""The site's model catalog -> available_models.json entries (site/catalog.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lmarena_bridge.site.catalog import (
    catalog_entries,
    display_name,
    entries_from_tab,
    find_entry,
    image_input,
    offered,
    requires_upload,
    user_selectable,
)
from lmarena_bridge.site.models import models_json_value
from tests.site_emulator import EmulatorState, model_catalog
from tests.site_emulator.page import chat_page


def model(mid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": mid, "publicName": name, **extra}


def test_entries_keep_the_model_and_name_its_arena() -> None:
    catalog = [
        {"arena": "text", "models": [model("t1", "qwen", displayName="Qwen", rank=3)],
         "complete": True},
        {"arena": "code", "models": [model("c1", "qwen")], "complete": True},
    ]
    assert catalog_entries(catalog) == [
        {"id": "t1", "publicName": "qwen", "displayName": "Qwen", "rank": 3, "arena": "text"},
        {"id": "c1", "publicName": "qwen", "arena": "code"},
    ]


@pytest.mark.parametrize("catalog", [None, {}, "x", [1, {"arena": "text"}, {"models": "no"}]])
def test_nothing_usable_gives_no_entries(catalog: Any) -> None:
    assert catalog_entries(catalog) == []


def test_broken_models_and_repeats_are_left_out() -> None:
    catalog = [{"arena": "text", "models": [
        model("a", "one"), model("a", "one again"), {"id": 5, "publicName": "x"},
        {"id": "b"}, "junk", model("c", "three")]},
        {"models": [model("d", "no arena")]}]
    entries = catalog_entries(catalog)
    assert [(e["arena"], e["id"]) for e in entries] == [("text", "a"), ("text", "c"),
                                                        ("text", "d")]


def test_the_emulators_catalog() -> None:
    state = EmulatorState()
    entries = catalog_entries(model_catalog(state.models, list(state.catalog_extra)))
    by_name: dict[str, list[str]] = {}
    for e in entries:
        by_name.setdefault(e["publicName"], []).append(e["arena"])
    assert by_name["echo-1"] == ["text", "code"]
    assert {e["arena"] for e in entries} == {"text", "code", "document", "text-to-image",
                                             "text-to-video", "search"}
    assert [e["publicName"] for e in entries if not user_selectable(e)] == ["echo-0"]
    stealth = next(e for e in entries if e["publicName"] == "mystery-model")
    assert display_name(stealth) == "qwen-ultra-preview"
    vision = next(e for e in entries if e["publicName"] == "echo-vision-1")
    assert requires_upload(vision) and image_input(vision) == {"requiresUpload": True,
                                                               "multipleImages": True}


def test_a_tab_answer_without_catalog_falls_back_to_the_page() -> None:
    state = EmulatorState()
    html = chat_page(state, None, logged_in=True)
    assert entries_from_tab(None, html) == state.models
    assert entries_from_tab(None, None) == []
    assert entries_from_tab([], html) == []  # an empty catalog is an answer too


@pytest.mark.parametrize(("entry", "selectable", "name", "image", "upload"), [
    ({"id": "x", "publicName": "p"}, True, "p", False, False),
    ({"id": "x", "publicName": "p", "displayName": "D", "userSelectable": False}, False, "D",
     False, False),
    ({"id": "x", "capabilities": {"inputCapabilities": {"image": True}}}, True, "x", True,
     False),
    ({"id": "x", "capabilities": {"inputCapabilities": {"image": {"requiresUpload": True}}}},
     True, "x", {"requiresUpload": True}, True),
    ({"id": "x", "capabilities": "broken"}, True, "x", False, False),
])
def test_flags(entry: dict[str, Any], selectable: bool, name: str, image: Any,
               upload: bool) -> None:
    assert user_selectable(entry) is selectable
    assert display_name(entry) == name
    assert image_input(entry) == image
    assert requires_upload(entry) is upload


def test_find_entry() -> None:
    entries = [{"id": "a"}, "junk", {"id": "b", "arena": "code"}]
    assert find_entry(entries, "b") == {"id": "b", "arena": "code"}
    assert find_entry(entries, "z") is None and find_entry(entries, None) is None


def test_offered_one_usable_selectable_entry_per_name() -> None:
    entries = [
        {"id": "c", "publicName": "m", "arena": "code"},
        {"id": "t", "publicName": "m", "arena": "text"},
        {"id": "r", "publicName": "retired", "arena": "text", "userSelectable": False},
        {"id": "v", "publicName": "vid", "arena": "text-to-video"},
        {"id": "i", "publicName": "pic", "arena": "text-to-image"},
        {"id": "p", "publicName": "page-model"},  # from the page: no arena
    ]
    assert [e["id"] for e in offered(entries)] == ["t", "i", "p"]
    values = [models_json_value(e) for e in offered(entries)]
    assert values == ["text:t", "text-to-image:i", "p"]
