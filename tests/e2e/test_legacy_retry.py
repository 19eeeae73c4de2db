"""End to end, legacy ``"site_strategy": "retry"``: the seed-era payload, as the 2026 site
still accepts it (object ``metadata``, a ``chat_retry`` token minted in the tab).

The site answers its *stored* conversation on a retry, never the history the bridge sends
(SITE_2026 §1), so answers here are the echo of the captured session's stored user turn.
"""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest

from tests.site_emulator import IMAGE_MODEL_ID, TEXT_MODEL_ID, EmulatorState

from .conftest import SITE, Tabs

pytestmark = pytest.mark.usefixtures("legacy_retry")

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TEXT = 'quote " backslash \\ newline\nemoji 😀 CJK 你好'


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def test_retry_body_as_the_site_accepts_it(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": TEXT},
    ]
    done = await client.chat.completions.create(model="echo-model", messages=messages)
    direct = site.direct_session
    # The site ignores the sent history and answers the stored turn.
    assert done.choices[0].message.content == "Echo: " + direct.messages[0].content

    (req,) = site.retry_requests
    assert req.method == "PUT" and req.status == 200
    assert req.path == (f"/nextjs-api/stream/retry-evaluation-session-message/{direct.id}"
                        f"/messages/{direct.assistant('a').id}")
    assert req.host == "arena.ai" and req.headers["origin"] == SITE
    assert req.headers["content-type"] == "text/plain;charset=UTF-8"
    assert "arena-auth-prod-v1" in req.cookies
    assert req.body["modelId"] == TEXT_MODEL_ID
    # A fresh chat_retry token minted in the page, accepted.
    assert req.recaptcha is not None and req.recaptcha.ok
    assert req.recaptcha.action == "chat_retry"
    assert req.body["recaptchaV3Token"] == req.recaptcha.token
    assert [(m.action, m.origin) for m in site.recaptcha_mints] == [("chat_retry", SITE)]

    sent = req.messages
    # Tavern mode merged the system prompts in front; bypass appended a blank user turn.
    assert [(m["role"], m["content"]) for m in sent] == [
        ("system", "Be terse.\n\nBe kind."),
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", TEXT),
        ("user", " "),
    ]
    assert all(m["metadata"] == {} for m in sent)  # an object: the site refuses null
    assert [m["participantPosition"] for m in sent] == ["b", "a", "a", "a", "a"]
    assert [m["status"] for m in sent] == ["success"] * 4 + ["pending"]
    ids = [m["id"] for m in sent]
    assert all(UUID.match(i) for i in ids) and len(set(ids)) == len(ids)
    assert [m["parentMessageIds"] for m in sent] == [[], *([i] for i in ids[:-1])]
    assert {m["evaluationSessionId"] for m in sent} == {direct.id}

    # The next request gets fresh ids and a fresh token; a rejected token is retried once.
    site.fail_recaptcha(1)
    text = ""
    stream = await client.chat.completions.create(model="echo-model", messages=user("again"),
                                                  stream=True)
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    assert text == "Echo: " + direct.messages[0].content
    rejected, accepted = site.retry_requests[1:]
    assert (rejected.status, accepted.status) == (403, 200)
    tokens = {r.body["recaptchaV3Token"] for r in (req, rejected, accepted)}
    assert len(tokens) == 3
    assert not set(ids) & {m["id"] for m in accepted.messages}


async def test_image_model_through_retry(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    done = await client.chat.completions.create(model="image-model", messages=user("a cat"))
    assert "https://images.emulator.test/" in (done.choices[0].message.content or "")
    req = site.retry_requests[-1]
    assert req.body["modelId"] == IMAGE_MODEL_ID
    # Image requests: every message done, no bypass turn.
    assert [(m["content"], m["status"], m["metadata"]) for m in req.messages] == [
        ("a cat", "success", {})]


async def test_battle_mode_target_b(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    done = await client.chat.completions.create(
        model="battle-model", messages=[{"role": "system", "content": "sys"}, *user("who?")])
    battle = site.battle_session
    # Side b only, though the stream interleaves a/b.
    assert done.choices[0].message.content == "B: Echo: " + battle.messages[0].content
    req = site.retry_requests[-1]
    assert req.path.endswith(f"/{battle.id}/messages/{battle.assistant('b').id}")
    assert {m["participantPosition"] for m in req.messages} == {"b"}


async def test_session_of_another_account_is_refused(
    site: EmulatorState, tabs: Tabs, client: openai.AsyncOpenAI
) -> None:
    await tabs.ensure(1)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="foreign-model", messages=user("hi"))
    assert caught.value.status_code == 403
    assert caught.value.code == "site_session_rejected"
    assert site.retry_requests[-1].status == 401
