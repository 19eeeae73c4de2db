"""Uploads through server actions, the presigned file store and what the site accepts."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.site_emulator import ACTION_IDS, UPLOADS_ORIGIN, VISION_MODEL_ID, EmulatorState
from tests.site_emulator.answers import PNG_1PX
from tests.site_emulator.state import AUTH_COOKIE
from tests.site_emulator.uploads import ACTIONS_CHUNK, CHUNKS, RSC_TYPE

from .conftest import ARENA, CREATE, create_body, send

PNG = base64.b64decode(PNG_1PX)
REFERENCE = re.compile(r'createServerReference\)\("([0-9a-f]{42})"[^()]*?"(\w+)"\)')


async def action(client: httpx.AsyncClient, name: str, *args: Any,
                 page: str = "/c/new") -> tuple[int, Any]:
    """Call a server action as the page does; (status, the value on the ``1:`` row)."""
    r = await client.post(page, content=json.dumps(list(args)), headers={
        "next-action": ACTION_IDS[name], "accept": RSC_TYPE,
        "content-type": "text/plain;charset=UTF-8"})
    if r.status_code != 200:
        return r.status_code, r.text
    assert r.headers["content-type"].startswith(RSC_TYPE)
    row = next(ln for ln in r.text.splitlines() if ln.startswith("1:"))
    return 200, json.loads(row[2:])


async def upload(client: httpx.AsyncClient, data: bytes = PNG, mime: str = "image/png",
                 name: str = "cat.png") -> tuple[str, str]:
    """(key, signed GET url) of a file uploaded the way the site's page does it."""
    status, answer = await action(client, "generateUploadUrl", name, mime)
    assert status == 200 and answer["success"], answer
    put = await client.put(answer["data"]["uploadUrl"], content=data,
                           headers={"content-type": mime, "origin": ARENA})
    assert put.status_code == 200, put.text
    assert put.headers["access-control-allow-origin"] == ARENA
    status, signed = await action(client, "getSignedUrl", answer["data"]["key"])
    assert status == 200, signed
    return answer["data"]["key"], signed["data"]["url"]


def vision_body(url: str, name: str = "cat.png") -> dict[str, Any]:
    body = create_body("what is this?", modelAId=VISION_MODEL_ID)
    body["userMessage"]["experimental_attachments"] = [
        {"name": name, "contentType": "image/png", "url": url}]
    return body


async def test_the_page_loads_a_chunk_naming_the_upload_actions(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    page = (await client.get("/")).text
    assert all(f'<script src="{src}" async></script>' in page for src in CHUNKS)
    chunk = await client.get(ACTIONS_CHUNK)
    assert chunk.headers["content-type"].startswith("application/javascript")
    found = dict((name, aid) for aid, name in REFERENCE.findall(chunk.text))
    assert found["generateUploadUrl"] == ACTION_IDS["generateUploadUrl"]
    assert found["getSignedUrl"] == ACTION_IDS["getSignedUrl"]
    assert state.asset_requests[-1].path == ACTIONS_CHUNK

    state.upload_actions_advertised = False
    hidden = (await client.get(ACTIONS_CHUNK)).text
    assert "generateUploadUrl" not in hidden and ACTION_IDS["getSignedUrl"] not in hidden
    assert "createServerReference" in hidden  # other actions are still there


async def test_upload_round_trip(client: httpx.AsyncClient, state: EmulatorState) -> None:
    key, url = await upload(client)
    assert key.endswith("/cat.png") and not key.startswith("/")
    assert url.startswith(f"{UPLOADS_ORIGIN}/{key}?") and "X-Amz-Expires=3600" in url
    got = await client.get(url, headers={"origin": ARENA})
    assert (got.status_code, got.content) == (200, PNG)
    assert got.headers["content-type"] == "image/png"
    assert got.headers["access-control-allow-origin"] == ARENA
    stored = state.store.objects[key]
    assert stored.owner == state.default_user.id
    assert [r.headers["next-action"] for r in state.action_requests] == [
        ACTION_IDS["generateUploadUrl"], ACTION_IDS["getSignedUrl"]]


async def test_store_cors_allows_only_the_site(client: httpx.AsyncClient,
                                               state: EmulatorState) -> None:
    _, answer = await action(client, "generateUploadUrl", "a.png", "image/png")
    url = answer["data"]["uploadUrl"]
    headers = {"access-control-request-method": "PUT",
               "access-control-request-headers": "content-type"}
    ok = await client.options(url, headers={**headers, "origin": ARENA})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ARENA
    assert "PUT" in ok.headers["access-control-allow-methods"]
    other = await client.options(url, headers={**headers, "origin": "https://evil.example"})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(("change", "status", "code"), [
    ("expired", 403, "Request has expired"),
    ("forged", 403, "SignatureDoesNotMatch"),
    ("unsigned", 403, "AccessDenied"),
    ("wrong_type", 403, "Content-Type must be image/png"),
    ("too_large", 413, "EntityTooLarge"),
])
async def test_store_refuses_bad_puts(change: str, status: int, code: str,
                                      client: httpx.AsyncClient, state: EmulatorState) -> None:
    _, answer = await action(client, "generateUploadUrl", "a.png", "image/png")
    key, url = answer["data"]["key"], answer["data"]["uploadUrl"]
    data, mime = PNG, "image/png"
    if change == "expired":
        url = state.store.presign("PUT", key, 600, issued_at=time.time() - 601)
    elif change == "forged":
        url = re.sub(r"X-Amz-Signature=\w+", "X-Amz-Signature=" + "0" * 64, url)
    elif change == "unsigned":
        url = url.split("?")[0]
    elif change == "wrong_type":
        mime = "image/jpeg"
    else:
        data = b"\0" * (15 * 1024 * 1024 + 1)
    r = await client.put(url, content=data, headers={"content-type": mime})
    assert r.status_code == status and code in r.text
    assert key not in state.store.objects


async def test_signed_urls_expire(client: httpx.AsyncClient, state: EmulatorState) -> None:
    key, _ = await upload(client)
    old = state.store.presign("GET", key, 60, issued_at=time.time() - 61)
    r = await client.get(old)
    assert r.status_code == 403 and "Request has expired" in r.text
    assert state.store.readable(old) is None
    assert (await client.get(state.store.presign("GET", key, 60))).status_code == 200


async def test_actions_refuse_what_the_site_would(client: httpx.AsyncClient,
                                                  state: EmulatorState) -> None:
    status, answer = await action(client, "generateUploadUrl", "a.gif", "image/gif")
    assert status == 200 and answer["success"] is False and "image/gif" in answer["error"]
    status, answer = await action(client, "getSignedUrl", "no/such/key.png")
    assert status == 200 and answer["success"] is False
    r = await client.post("/", content="[]", headers={"next-action": "ab" * 21})
    assert r.status_code == 404 and r.headers["x-nextjs-action-not-found"] == "1"
    r = await client.post("/", content="[]")
    assert r.status_code == 405
    client.cookies.delete(AUTH_COOKIE)
    status, answer = await action(client, "generateUploadUrl", "a.png", "image/png")
    assert answer == {"success": False, "error": "Unauthorized"}


async def test_a_model_that_requires_uploads_sees_only_uploaded_files(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    inline = vision_body(f"data:image/png;base64,{PNG_1PX}")
    r = await send(client, state, CREATE, inline)
    assert r.status_code == 400 and "must be uploaded" in r.json()["error"]

    key, url = await upload(client)
    r = await send(client, state, CREATE, vision_body(url, name=key))
    assert r.status_code == 200

    expired = state.store.presign("GET", key, 60, issued_at=time.time() - 61)
    r = await send(client, state, CREATE, vision_body(expired, name=key))
    assert r.status_code == 400


@pytest.mark.parametrize("where", ["store", "site"])
async def test_image_answers_as_fetchable_urls(where: str, client: httpx.AsyncClient,
                                               state: EmulatorState) -> None:
    state.image_urls = where  # type: ignore[assignment]
    r = await send(client, state, CREATE, create_body("a cat", modality="image"))
    (item,) = [json.loads(ln[3:])[0] for ln in r.text.splitlines()
               if ln.startswith("a2:") and "image" in ln]
    url = item["image"]
    assert url.startswith(UPLOADS_ORIGIN if where == "store" else f"{ARENA}/nextjs-api/images/")
    got = await client.get(url)
    assert (got.status_code, got.content) == (200, PNG)
    if where == "site":
        client.cookies.delete(AUTH_COOKIE)
        assert (await client.get(url)).status_code == 401
