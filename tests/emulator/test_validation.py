"""Zod-shaped 400s for create, post and retry bodies, and the UUIDv7 rule behind them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.site_emulator import TEXT_MODEL_ID, EmulatorState, uuid7
from tests.site_emulator.ids import uuid7_problem
from tests.site_emulator.validation import evaluation_issues

from .conftest import CREATE, create_body, send

NOW_MS = int(time.time() * 1000)


def at(offset_ms: int) -> Callable[[], str]:
    """An id made when the test runs (collection may happen minutes earlier)."""
    return lambda: uuid7(int(time.time() * 1000) + offset_ms)


@pytest.mark.parametrize(("make", "problem"), [
    (at(0), None),
    (lambda: str(uuid.uuid4()), "Invalid UUIDv7: version 4"),
    (lambda: "not-a-uuid", "uuid"),
    (at(-11 * 60 * 1000), "Invalid UUIDv7: timestamp too far from now"),
    (at(11 * 60 * 1000), "Invalid UUIDv7: timestamp too far from now"),
    (at(-9 * 60 * 1000), None),
    (lambda: uuid7()[:19] + "c" + uuid7()[20:], "Invalid UUIDv7: variant is not RFC 4122"),
])
def test_uuid7_rule(make: Callable[[], str], problem: str | None) -> None:
    assert uuid7_problem(make()) == problem


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def user_message(**changes: Any) -> dict[str, Any]:
    return {"content": "hi", "experimental_attachments": [], "metadata": {}, **changes}


# Each case: the body and the issues as (code, path) pairs.
BAD_BODIES: dict[str, tuple[Any, list[tuple[str, list[Any]]]]] = {
    "null metadata": (create_body(userMessage=user_message(metadata=None)),
                      [("invalid_type", ["userMessage", "metadata"])]),
    "no userMessage": (without(create_body(), "userMessage"),
                       [("invalid_type", ["userMessage"])]),
    "legacy messages body": ({**without(create_body(), "userMessage"), "messages": []},
                             [("invalid_type", ["userMessage"])]),
    "content not a string": (create_body(userMessage=user_message(content=None)),
                             [("invalid_type", ["userMessage", "content"])]),
    "attachments null": (create_body(userMessage=user_message(experimental_attachments=None)),
                         [("invalid_type", ["userMessage", "experimental_attachments"])]),
    "uuid4 ids": (create_body(id=str(uuid.uuid4()), userMessageId=str(uuid.uuid4())),
                  [("custom", ["id"]), ("custom", ["userMessageId"])]),
    "old id": (create_body(modelAMessageId=uuid7(NOW_MS - 3600_000)),
               [("custom", ["modelAMessageId"])]),
    "unknown mode": (create_body(mode="chat"), [("invalid_enum_value", ["mode"])]),
    "unknown modality": (create_body(modality="text"), [("invalid_enum_value", ["modality"])]),
    "no modelAId in direct": (without(create_body(), "modelAId"),
                              [("invalid_type", ["modelAId"])]),
    "modelBId outside side-by-side": (create_body(modelBId=TEXT_MODEL_ID),
                                      [("custom", ["modelBId"])]),
    "side-by-side without model B": (create_body(mode="side-by-side", modelBMessageId=uuid7()),
                                     [("invalid_type", ["modelBId"])]),
    "battle without modelBMessageId": (without(create_body(mode="battle"), "modelAId"),
                                       [("invalid_type", ["modelBMessageId"])]),
    "not an object": ([], [("invalid_type", [])]),
}


@pytest.mark.parametrize("case", BAD_BODIES)
async def test_bad_create_bodies_get_the_zod_error(
    case: str, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body, expected = BAD_BODIES[case]
    r = await send(client, state, CREATE, body) if isinstance(body, dict) else \
        await client.post(CREATE, json=body)
    assert r.status_code == 400
    data = r.json()
    assert data["success"] is False and data["error"]["name"] == "ZodError"
    assert [(i["code"], i["path"]) for i in data["error"]["issues"]] == expected
    assert all(i["message"] for i in data["error"]["issues"])
    assert state.recaptcha_checks == []  # the body is checked before the token


def test_a_null_metadata_issue_reads_like_zod() -> None:
    (issue,) = evaluation_issues(create_body(userMessage=user_message(metadata=None)))
    assert issue == {"code": "invalid_type", "expected": "object", "received": "null",
                     "path": ["userMessage", "metadata"],
                     "message": "Expected object, received null"}
    (missing,) = evaluation_issues(without(create_body(), "userMessage"))
    assert (missing["received"], missing["message"]) == ("undefined", "Required")


@pytest.mark.parametrize("body", [
    create_body(),
    create_body(mode="direct"),
    without(create_body(mode="battle", modelBMessageId=uuid7()), "modelAId"),
    create_body(mode="side-by-side", modelBId=TEXT_MODEL_ID, modelBMessageId=uuid7()),
    create_body(modality="image", featureFlags={"editImageButtonEnabled": True}),
    create_body(userMessage=user_message(experimental_attachments=[
        {"name": "a.png", "contentType": "image/png", "url": "https://x.test/a.png"}])),
], ids=["direct-battle", "direct", "battle", "side-by-side", "extra keys", "attachment"])
def test_good_create_bodies_have_no_issues(body: dict[str, Any]) -> None:
    assert evaluation_issues(body) == []


def test_a_post_may_leave_out_mode_and_keep_an_old_session_id() -> None:
    old_sid = uuid7(NOW_MS - 86_400_000)
    turn = without(create_body(id=old_sid), "mode")
    assert evaluation_issues(turn, session_id=old_sid, session_mode="direct-battle") == []
    other = evaluation_issues(turn, session_id=uuid7(), session_mode="direct-battle")
    assert [(i["code"], i["path"]) for i in other] == [("custom", ["id"])]


async def test_retry_with_null_metadata_is_a_zod_error(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    session = state.direct_session
    user, answer = session.messages[0], session.assistant("a")
    body: dict[str, Any] = {"modelId": None, "messages": [
        {"id": user.id, "role": "user", "content": "hi", "parentMessageIds": [],
         "participantPosition": "a", "status": "pending", "metadata": None}]}
    path = f"/nextjs-api/stream/retry-evaluation-session-message/{session.id}/messages/{answer.id}"
    r = await send(client, state, path, body, action="chat_retry", method="PUT")
    assert r.status_code == 400
    (issue,) = r.json()["error"]["issues"]
    assert (issue["path"], issue["received"]) == (["messages", 0, "metadata"], "null")
