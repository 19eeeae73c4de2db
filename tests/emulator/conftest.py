"""In-process clients for the site emulator: its app behind httpx's ASGI transport.

The transport buffers whole responses, so these tests check what is sent, not when; chunk
timing is the e2e tests' business.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.site_emulator import (
    MINT_PATH,
    TEXT_MODEL_ID,
    EmulatorState,
    create_emulator,
    uuid7,
)
from tests.site_emulator.state import AUTH_COOKIE

ARENA = "https://arena.ai"
CREATE = "/nextjs-api/stream/create-evaluation"


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState(heartbeat_interval=0.05)


@pytest.fixture
async def client(state: EmulatorState) -> AsyncIterator[httpx.AsyncClient]:
    """Logged in as the default user; requests go to https://arena.ai unless a URL says."""
    transport = httpx.ASGITransport(app=create_emulator(state))
    cookies = {AUTH_COOKIE: state.auth_cookie_for(state.default_user.id)}
    async with httpx.AsyncClient(transport=transport, base_url=ARENA, cookies=cookies) as c:
        yield c


async def mint(client: httpx.AsyncClient, state: EmulatorState, action: str = "chat_submit",
               origin: str = ARENA) -> str:
    """A token from the fake grecaptcha's mint endpoint, as the arena.ai page gets it."""
    r = await client.post(f"https://www.google.com{MINT_PATH}", headers={"origin": origin},
                          content=json.dumps({"sitekey": state.recaptcha_sitekey,
                                              "action": action}))
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def create_body(content: str = "hello", **changes: Any) -> dict[str, Any]:
    """A valid create-evaluation body (no token) as the 2026 site builds it."""
    body: dict[str, Any] = {
        "id": uuid7(), "mode": "direct-battle", "modelAId": TEXT_MODEL_ID,
        "userMessageId": uuid7(), "modelAMessageId": uuid7(),
        "userMessage": {"content": content, "experimental_attachments": [], "metadata": {}},
        "modality": "chat",
    }
    body.update(changes)
    return body


def next_turn(body: dict[str, Any], content: str = "next", **changes: Any) -> dict[str, Any]:
    """The post-to-evaluation body of the turn after ``body``: same id, new message ids."""
    turn = copy.deepcopy(body)
    turn.pop("recaptchaV3Token", None)
    turn.update(userMessageId=uuid7(), modelAMessageId=uuid7())
    if "modelBMessageId" in turn:
        turn["modelBMessageId"] = uuid7()
    turn["userMessage"]["content"] = content
    turn.update(changes)
    return turn


async def send(client: httpx.AsyncClient, state: EmulatorState, path: str,
               body: dict[str, Any], action: str = "chat_submit",
               method: str = "POST") -> httpx.Response:
    """``body`` with a freshly minted token, sent as the site sends it (text/plain JSON)."""
    signed = {**body, "recaptchaV3Token": await mint(client, state, action)}
    return await client.request(method, path, content=json.dumps(signed),
                                headers={"content-type": "text/plain;charset=UTF-8"})


def text_of(response: httpx.Response, side: str = "a") -> str:
    """The answer text of one side: its ``<side>0:`` deltas joined."""
    return "".join(json.loads(ln[3:]) for ln in response.text.splitlines()
                   if ln.startswith(f"{side}0:"))
