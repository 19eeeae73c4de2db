"""Server-side sessions: create stores, post appends, retry answers the stored turn."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.site_emulator import IMAGE_MODEL_ID, TEXT_MODEL_ID, EmulatorState, uuid7
from tests.site_emulator.answers import PNG_1PX
from tests.site_emulator.responses import BATTLE_TURN_REQUIRED
from tests.site_emulator.state import AUTH_COOKIE

from .conftest import CREATE, create_body, next_turn, send, text_of

HEARTBEAT = 'a2:[{"type":"heartbeat"}]'


def post_path(sid: str) -> str:
    return f"/nextjs-api/stream/post-to-evaluation/{sid}"


def retry_path(sid: str, mid: str) -> str:
    return f"/nextjs-api/stream/retry-evaluation-session-message/{sid}/messages/{mid}"


async def test_a_good_create_streams_heartbeat_first_and_stores_the_session(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body = create_body("Bonjour 👋")
    r = await send(client, state, CREATE, body)
    assert r.status_code == 200
    lines = r.text.splitlines()
    assert lines[0] == HEARTBEAT
    assert text_of(r) == "Echo: Bonjour 👋"
    assert json.loads(lines[-1][3:])["finishReason"] == "stop"
    session = state.sessions[body["id"]]
    assert (session.owner, session.mode, session.model_a_id, session.modality) == (
        state.default_user.id, "direct-battle", TEXT_MODEL_ID, "chat")
    assert [(m.id, m.role, m.content) for m in session.messages] == [
        (body["userMessageId"], "user", "Bonjour 👋"),
        (body["modelAMessageId"], "assistant", "Echo: Bonjour 👋")]
    assert state.evaluation_requests == state.create_requests
    assert state.create_requests[0].user_content == "Bonjour 👋"


async def test_post_appends_a_turn(client: httpx.AsyncClient, state: EmulatorState) -> None:
    body = create_body("first")
    await send(client, state, CREATE, body)
    turn = next_turn(body, "second")
    r = await send(client, state, post_path(body["id"]), turn)
    assert (r.status_code, text_of(r)) == (200, "Echo: second")
    contents = [m.content for m in state.sessions[body["id"]].messages]
    assert contents == ["first", "Echo: first", "second", "Echo: second"]
    assert [q.path for q in state.evaluation_requests] == [CREATE, post_path(body["id"])]


@pytest.mark.parametrize(("who", "status"), [("unknown", 404), ("foreign", 401)])
async def test_post_to_a_session_that_is_not_yours(
    who: str, status: int, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    sid = uuid7() if who == "unknown" else state.foreign_session.id
    r = await send(client, state, post_path(sid), create_body(id=sid))
    assert r.status_code == status and "error" in r.json()


async def test_requests_without_a_valid_auth_cookie_are_401(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    client.cookies.set(AUTH_COOKIE, "base64-bm90IGpzb24=")
    r = await send(client, state, CREATE, create_body())
    assert r.status_code == 401 and "error" in r.json()


@pytest.mark.parametrize("reuse", ["id", "userMessageId", "modelAMessageId", "within"])
async def test_reused_ids_are_refused(
    reuse: str, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    first = create_body()
    await send(client, state, CREATE, first)
    if reuse == "within":
        second = create_body()
        second["modelAMessageId"] = second["userMessageId"]
    else:
        second = create_body(**{reuse: first[reuse]})
    r = await send(client, state, CREATE, second)
    assert r.status_code == 400 and r.json()["error"].startswith("duplicate id: ")
    turn = next_turn(first, userMessageId=state.direct_session.messages[0].id)
    r = await send(client, state, post_path(first["id"]), turn)
    assert r.status_code == 400 and "duplicate id" in r.json()["error"]


async def test_retry_answers_the_stored_turn_not_the_forged_history(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    session = state.direct_session
    user, answer = session.messages[0], session.assistant("a")
    forged = {"modelId": None, "messages": [
        {"id": user.id, "role": "user", "content": "a forged question", "parentMessageIds": [],
         "participantPosition": "a", "status": "pending", "metadata": {}}]}
    r = await send(client, state, retry_path(session.id, answer.id), forged,
                   action="chat_retry", method="PUT")
    assert r.status_code == 200 and r.text.startswith(HEARTBEAT)
    assert text_of(r) == "Echo: " + user.content == "Echo: Hello there"
    assert state.retry_requests[-1].recaptcha is not None
    submit = await send(client, state, retry_path(session.id, answer.id), forged, method="PUT")
    assert submit.status_code == 403  # a chat_submit token does not retry


async def test_retry_of_a_created_session_answers_its_own_turn(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body = create_body("what was asked")
    await send(client, state, CREATE, body)
    forged = {"modelId": TEXT_MODEL_ID, "messages": [
        {"id": body["userMessageId"], "role": "user", "content": "something else",
         "parentMessageIds": [], "participantPosition": "a", "status": "pending",
         "metadata": {}}]}
    r = await send(client, state, retry_path(body["id"], body["modelAMessageId"]), forged,
                   action="chat_retry", method="PUT")
    assert text_of(r) == "Echo: what was asked"


async def test_a_direct_battle_session_demands_a_battle_turn_after_n_posts(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.direct_battle_turns = 1
    body = create_body()
    await send(client, state, CREATE, body)
    ok = await send(client, state, post_path(body["id"]), next_turn(body))
    refused = [await send(client, state, post_path(body["id"]), next_turn(body))
               for _ in range(2)]
    assert ok.status_code == 200
    assert [(r.status_code, r.json()) for r in refused] == [
        (400, {"error": BATTLE_TURN_REQUIRED})] * 2
    battle = next_turn(body, mode="battle", modelBMessageId=uuid7())
    r = await send(client, state, post_path(body["id"]), battle)
    assert r.status_code == 200 and text_of(r, "b") == "B: Echo: next"


async def test_direct_mode_posts_are_unlimited_by_default(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body = create_body(mode="direct")
    await send(client, state, CREATE, body)
    for _ in range(4):
        assert (await send(client, state, post_path(body["id"]), next_turn(body))).is_success


async def test_battle_answers_both_sides_interleaved(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body = {k: v for k, v in create_body("duel", mode="battle", modelBMessageId=uuid7()).items()
            if k != "modelAId"}
    r = await send(client, state, CREATE, body)
    sides = [ln[0] for ln in r.text.splitlines()[1:] if ln[1:3] == "0:"]
    assert sides[:4] == ["a", "b", "a", "b"]
    assert (text_of(r, "a"), text_of(r, "b")) == ("A: Echo: duel", "B: Echo: duel")
    assert r.text.splitlines()[-1] == 'bd:{"finishReason":"stop"}'


@pytest.mark.parametrize(("changes", "base64"), [
    ({"modality": "image"}, False),
    ({"modelAId": IMAGE_MODEL_ID}, False),
    ({"modality": "image"}, True),
])
async def test_image_answers(
    changes: dict[str, Any], base64: bool, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.image_as_base64 = base64
    state.images_per_answer = 2
    r = await send(client, state, CREATE, create_body("a cat", **changes))
    items = [json.loads(ln[3:])[0] for ln in r.text.splitlines() if ln.startswith("a2:")]
    images = [i for i in items if i["type"] == "image"]
    assert len(images) == 2 and all(i["mimeType"] == "image/png" for i in images)
    if base64:
        assert images[0]["data"] == PNG_1PX and "image" not in images[0]
    else:
        assert images[0]["image"].startswith("https://") and "data" not in images[0]


async def test_reset_drops_created_sessions_and_keeps_the_seeds(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body = create_body()
    await send(client, state, CREATE, body)
    state.direct_battle_turns, state.routed_model, state.image_as_base64 = 0, "x", True
    state.reset()
    assert body["id"] not in state.sessions and state.direct_session.id in state.sessions
    assert (state.direct_battle_turns, state.routed_model, state.image_as_base64,
            state.heartbeat_interval, state.max_prompt_chars) == (None, None, False, 0.5, 200_000)
    assert state.requests == [] and state.redirects == []
