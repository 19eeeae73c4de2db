"""A trailing slash reaches the same handler: no 404 for a model named "", no 307."""

from __future__ import annotations

import httpx
import pytest


async def test_models_list_with_a_trailing_slash(bridge) -> None:
    async with httpx.AsyncClient(base_url=bridge.url) as http:
        plain = await http.get("/v1/models")
        slashed = await http.get("/v1/models/")
        one = await http.get("/v1/models/echo-model/")
    assert slashed.status_code == 200
    assert slashed.json() == plain.json()
    assert one.status_code == 200 and one.json()["id"] == "echo-model"


@pytest.mark.parametrize("path", ["/v1/chat/completions/", "/api/v1/chat/completions/",
                                  "/chat/completions/", "/v1/images/generations/"])
async def test_posts_with_a_trailing_slash_reach_the_handler(bridge, path: str) -> None:
    async with httpx.AsyncClient(base_url=bridge.url) as http:
        r = await http.post(path, json={"messages": []})
    # The handler's own validation answers (no redirect, no unknown path).
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "location" not in r.headers
