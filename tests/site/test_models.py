"""Model list extraction from page HTML (docs/site-protocol.md §3), capabilities and diffs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lmarena_bridge.site.models import (
    ModelDiff,
    diff_models,
    extract_models,
    is_image_model,
    model_capabilities,
    models_json_value,
)

GEMINI = {
    "id": "e2d9d353-6dbe-4414-bf87-bd289d523726",
    "publicName": "gemini-2.5-pro",
    "name": "gemini-2.5-pro",
    "organization": "google",
    "provider": "google",
    "capabilities": {
        "inputCapabilities": {"text": True, "image": True},
        "outputCapabilities": {"text": True},
    },
    "rank": 1,
    "rankByModality": {"chat": 1, "image": 9007199254740991},
}
# Key order varied on purpose: the seed required {"id" first (§7 #25).
BANANA = {
    "capabilities": {
        "outputCapabilities": {"image": {"aspectRatios": ["1:1", "16:9"]}},
        "inputCapabilities": {
            "text": True,
            "image": {"requiresUpload": True, "multipleImages": True},
        },
    },
    "publicName": "gemini-3-pro-image-preview (nano-banana-pro)",
    "id": "019a0000-aaaa-7bbb-8ccc-000000000001",
    "provider": "fal",
}
WEIRD = {
    "publicName": 'weird "quoted" \\ name {with} ]brackets[ \\"nested\\"',
    "id": "019a0000-aaaa-7bbb-8ccc-000000000002",
    # A nested JSON document inside a string: escaped twice in the flight literal.
    "description": json.dumps({"note": 'say "hi"', "path": "C:\\tmp"}),
    "capabilities": {"outputCapabilities": {"search": True, "text": True}},
}
STEALTH = {
    "id": "019a0000-aaaa-7bbb-8ccc-000000000003",
    "publicName": "autumn 🍂 stealth",
    "capabilities": {"outputCapabilities": {"text": True}},
}
HUGE = {
    "id": "019a0000-aaaa-7bbb-8ccc-000000000004",
    "publicName": "huge-model",
    "capabilities": {"outputCapabilities": {"video": True, "web": True}},
    "description": "}{" * 15_000,
    "extra": [{"k": i, "v": "x" * 20} for i in range(800)],
}
MODELS = [GEMINI, BANANA, WEIRD, STEALTH, HUGE]


def push(text: str, ensure_ascii: bool = True) -> str:
    return f"<script>self.__next_f.push([1,{json.dumps(text, ensure_ascii=ensure_ascii)}])</script>"


def page(*scripts: str) -> str:
    return (
        "<!DOCTYPE html><html><head><title>LMArena</title></head><body>"
        "<script>(self.__next_f=self.__next_f||[]).push([0])</script>"
        + "".join(scripts)
        + "</body></html>"
    )


def flight(models: list[dict[str, Any]], key: str = "initialModels") -> str:
    props = {key: models, "initialModelAId": models[0]["id"] if models else None}
    rows = [
        '0:{"P":null,"b":"build-1","c":["",""]}',
        "1a:" + json.dumps(["$", "$L20", None, {"children": ["$", "$L21", None, props]}]),
        "1b:"
        + json.dumps(
            [
                "$",
                "$L22",
                None,
                {"initialState": "$undefined", "data-sentry-element": "EvaluationStoreProvider"},
            ]
        ),
    ]
    return "\n".join(rows) + "\n"


def split_pushes(text: str, pieces: int, ensure_ascii: bool = True) -> list[str]:
    size = len(text) // pieces + 1
    return [push(text[i : i + size], ensure_ascii) for i in range(0, len(text), size)]


def ids(models: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in models]


@pytest.mark.parametrize("pieces", [1, 2, 7, 50])
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_initial_models_from_split_pushes(pieces: int, ensure_ascii: bool) -> None:
    html = page(*split_pushes(flight(MODELS), pieces, ensure_ascii))
    assert extract_models(html) == MODELS


def test_escaping_is_the_sites() -> None:
    html = page(push(flight(MODELS)))
    assert '\\"initialModels\\":' in html  # the flight JSON is escaped once in the literal
    assert '\\\\\\"' in html  # nested strings are escaped again
    got = {m["id"]: m for m in extract_models(html)}
    assert got[WEIRD["id"]]["publicName"] == WEIRD["publicName"]
    assert json.loads(got[WEIRD["id"]]["description"]) == {"note": 'say "hi"', "path": "C:\\tmp"}
    assert got[HUGE["id"]] == HUGE
    assert len(json.dumps(HUGE)) > 10_000


def test_initial_state_array_form() -> None:
    html = page(push(flight([GEMINI, STEALTH], key="initialState")))
    assert extract_models(html) == [GEMINI, STEALTH]


def test_both_forms_and_dedupe_keep_first_order() -> None:
    html = page(
        push(flight([GEMINI, BANANA])),
        push(
            "2:"
            + json.dumps({"initialState": [BANANA, STEALTH, {**GEMINI, "publicName": "dup"}]})
            + "\n"
        ),
    )
    got = extract_models(html)
    assert ids(got) == ids([GEMINI, BANANA, STEALTH])
    assert got[0]["publicName"] == "gemini-2.5-pro"


def test_objects_without_public_name_or_id_are_skipped() -> None:
    junk = [{"id": "x"}, {"publicName": "no id"}, "$L5", 7, {"id": 5, "publicName": "numeric id"}]
    html = page(push(flight([*junk, GEMINI])))  # type: ignore[list-item]
    assert extract_models(html) == [GEMINI]


def test_js_only_escapes_in_literal() -> None:
    literal = json.dumps(flight([GEMINI]))
    literal = literal.replace("gemini-2.5-pro", "gemini\\x2d2.5\\'pro", 1)
    html = page(f"<script>self.__next_f.push([1,{literal}])</script>")
    got = extract_models(html)
    assert got[0]["publicName"] == "gemini-2.5'pro"


def test_whitespace_in_push_call() -> None:
    html = page(f"<script>self.__next_f.push( [ 1 , {json.dumps(flight([GEMINI]))} ] )</script>")
    assert extract_models(html) == [GEMINI]


def test_raw_html_fallback_escaped_once() -> None:
    # No push scripts (another wrapper), the flight text still escaped once in a literal.
    literal = json.dumps(flight([GEMINI, WEIRD]))
    html = f"<html><script>window.__flight = {literal};</script></html>"
    assert extract_models(html) == [GEMINI, WEIRD]


def test_raw_html_fallback_plain_json() -> None:
    html = (
        "<script id='data' type='application/json'>"
        + json.dumps({"initialModels": [BANANA]})
        + "</script>"
    )
    assert extract_models(html) == [BANANA]


def test_models_escaped_inside_flight_string() -> None:
    # The whole props object shipped as a JSON string inside the flight row.
    inner = json.dumps({"initialModels": [STEALTH]})
    html = page(push("3:" + json.dumps(["$", "div", None, {"data": inner}]) + "\n"))
    assert extract_models(html) == [STEALTH]


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
        page(push(flight([]))),
        page(push('1:{"initialModels":[{"id":"a","publicName":"cut off')),
        page('<script>self.__next_f.push([1,"unterminated])</script>'),
    ],
)
def test_no_models(html: str) -> None:
    assert extract_models(html) == []


@pytest.mark.parametrize(
    ("model", "flags"),
    [
        (
            GEMINI,
            {
                "text": True,
                "image": False,
                "video": False,
                "search": False,
                "webdev": False,
                "vision": True,
            },
        ),
        (
            BANANA,
            {
                "text": False,
                "image": True,
                "video": False,
                "search": False,
                "webdev": False,
                "vision": True,
            },
        ),
        (
            WEIRD,
            {
                "text": True,
                "image": False,
                "video": False,
                "search": True,
                "webdev": False,
                "vision": False,
            },
        ),
        (
            HUGE,
            {
                "text": False,
                "image": False,
                "video": True,
                "search": False,
                "webdev": True,
                "vision": False,
            },
        ),
        (
            {"id": "x", "publicName": "bare"},
            dict.fromkeys(("text", "image", "video", "search", "webdev", "vision"), False),
        ),
        (
            {"id": "x", "capabilities": "broken"},
            dict.fromkeys(("text", "image", "video", "search", "webdev", "vision"), False),
        ),
    ],
)
def test_capabilities(model: dict[str, Any], flags: dict[str, bool]) -> None:
    assert model_capabilities(model) == flags
    assert is_image_model(model) is flags["image"]


@pytest.mark.parametrize(
    ("model", "value"),
    [(GEMINI, GEMINI["id"]), (BANANA, f"{BANANA['id']}:image"), (STEALTH, STEALTH["id"])],
)
def test_models_json_value(model: dict[str, Any], value: str) -> None:
    assert models_json_value(model) == value


def test_diff_models() -> None:
    old = [
        GEMINI,
        BANANA,
        {"id": "gone-2", "publicName": "b-gone"},
        {"id": "gone-1", "publicName": "a-gone"},
    ]
    new = [
        {**GEMINI, "publicName": "gemini-2.5-pro-v2"},
        BANANA,
        {"id": "new-2", "publicName": "z-new"},
        {"id": "new-1", "publicName": "m-new"},
    ]
    diff = diff_models(old, new)
    assert diff == ModelDiff(
        added=["m-new", "z-new"],
        removed=["a-gone", "b-gone"],
        renamed=[("gemini-2.5-pro", "gemini-2.5-pro-v2")],
    )
    assert diff.changed
    assert not diff_models(new, new).changed
    assert diff_models([], new).added == sorted(m["publicName"] for m in new)
    assert diff_models(new, []).removed == sorted(m["publicName"] for m in new)


@pytest.mark.parametrize(
    "page",
    [
        '\\"initialModels\\":[' * 200_000,  # escaped keys (the hostile page)
        '"initialModels":[' * 200_000,  # plain keys
        '"initialModels":[{"a":1}x' * 100_000,  # arrays that fail late
        "<script>self.__next_f.push([1,\"" + '\\"initialState\\":[' * 200_000 + '\"])</script>',
        '"initialModels":' + "[" * 1_000_000,  # nested past any real page
    ],
)
def test_hostile_pages_are_scanned_in_linear_time(page: str) -> None:
    """Megabytes of repeated keys: the quadratic scan took ~5 s for 150 kB of them."""
    import time

    started = time.perf_counter()
    assert extract_models(page) == []
    assert time.perf_counter() - started < 10.0  # seconds for MBs; hours when quadratic


def test_a_list_after_hostile_noise_is_still_found() -> None:
    html = '\\"initialModels\\":[' * 1000 + "<script>self.__next_f.push([1,"
    html += json.dumps(json.dumps({"initialModels": [GEMINI]})[1:-1]) + "])</script>"
    assert extract_models(html) == [GEMINI]
