"""The model catalog (SITE_2026.md §5) and its agreement with the page's initialModels."""

from __future__ import annotations

import httpx

from lmarena_bridge.site.models import extract_models
from tests.site_emulator import (
    CODE_MODEL_ID,
    RETIRED_MODEL_ID,
    STEALTH_MODEL_ID,
    TEXT_MODEL_ID,
    EmulatorState,
)
from tests.site_emulator.catalog import ARENAS, STEALTH_DISPLAY_NAME

CATALOG = "/nextjs-api/model-catalog"


async def test_catalog_groups_models_by_arena(client: httpx.AsyncClient,
                                              state: EmulatorState) -> None:
    r = await client.get(CATALOG)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    groups = r.json()
    assert [g["arena"] for g in groups] == list(ARENAS)
    assert all(g["complete"] is True and g["models"] for g in groups)
    by_arena = {g["arena"]: {m["id"]: m for m in g["models"]} for g in groups}
    # One public name, two ids in two arenas.
    assert by_arena["text"][TEXT_MODEL_ID]["publicName"] == "echo-1"
    assert by_arena["code"][CODE_MODEL_ID]["publicName"] == "echo-1"
    assert by_arena["code"][CODE_MODEL_ID]["capabilities"]["outputCapabilities"] == {"web": True}
    assert by_arena["text"][RETIRED_MODEL_ID]["userSelectable"] is False
    stealth = by_arena["text"][STEALTH_MODEL_ID]
    assert (stealth["publicName"], stealth["displayName"]) == ("mystery-model",
                                                             STEALTH_DISPLAY_NAME)
    assert "organization" not in stealth
    image = next(iter(by_arena["text-to-image"].values()))
    assert image["capabilities"]["outputCapabilities"]["image"]["aspectRatios"]
    vision = next(m for m in by_arena["text"].values() if m["publicName"] == "echo-vision-1")
    assert vision["capabilities"]["inputCapabilities"]["image"]["requiresUpload"] is True
    assert by_arena["document"] and by_arena["text-to-video"] and by_arena["search"]


async def test_catalog_agrees_with_the_page(client: httpx.AsyncClient,
                                            state: EmulatorState) -> None:
    page = (await client.get("/")).text
    in_page = extract_models(page)
    assert in_page == state.models
    catalog = {m["id"]: m for g in (await client.get(CATALOG)).json() for m in g["models"]}
    assert all(catalog[m["id"]] == m for m in in_page)


async def test_catalog_can_be_missing(client: httpx.AsyncClient, state: EmulatorState) -> None:
    state.catalog_available = False
    r = await client.get(CATALOG)
    assert r.status_code == 404
    assert state.requests[-1].path == CATALOG and state.requests[-1].status == 404
    state.reset()
    assert state.catalog_available and state.catalog_extra
