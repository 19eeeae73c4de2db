"""Server-side token checks: fresh, single use, right action, sitekey and origin."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.site_emulator import EmulatorState

from .conftest import CREATE, create_body, mint, send

OLD_SITEKEY = "6Led_uYrAAAAAKjxDIF58fgFtX3t8loNAK85bW9I"
REFUSED = {"error": "recaptcha validation failed"}


async def post_with(client: httpx.AsyncClient, fields: dict[str, Any]) -> httpx.Response:
    return await client.post(CREATE, content=json.dumps({**create_body(), **fields}))


async def test_a_minted_token_passes_once(client: httpx.AsyncClient, state: EmulatorState) -> None:
    token = await mint(client, state)
    first = await post_with(client, {"recaptchaV3Token": token})
    again = await post_with(client, {"recaptchaV3Token": token})
    assert (first.status_code, again.status_code) == (200, 403)
    assert again.json() == REFUSED
    assert [(c.ok, c.reason, c.action) for c in state.recaptcha_checks] == [
        (True, "ok", "chat_submit"), (False, "reused", "chat_submit")]
    assert state.create_requests[0].recaptcha is state.recaptcha_checks[0]


# Each case: how to get the token field (None: leave it out), and the logged reason.
TokenCase = Callable[[EmulatorState], Any]
CASES: dict[str, tuple[TokenCase | None, str]] = {
    "missing": (None, "missing"),
    "null": (lambda s: None, "null"),
    "empty": (lambda s: "", "empty"),
    "number": (lambda s: 12, "malformed"),
    "forged": (lambda s: "emu.eyJrIjoxfQ.AAAA", "bad signature"),
    "expired": (lambda s: s.mint_recaptcha_token("chat_submit", issued_at=time.time() - 121),
                "expired"),
    "wrong action": (lambda s: s.mint_recaptcha_token("chat_retry"), "wrong action"),
    "wrong sitekey": (lambda s: s.mint_recaptcha_token("chat_submit", sitekey=OLD_SITEKEY),
                      "wrong sitekey"),
    "other secret": (lambda s: EmulatorState().mint_recaptcha_token("chat_submit"),
                     "bad signature"),
}


@pytest.mark.parametrize("case", CASES)
async def test_bad_tokens_are_refused(
    case: str, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    make, reason = CASES[case]
    fields = {} if make is None else {"recaptchaV3Token": make(state)}
    r = await post_with(client, fields)
    assert (r.status_code, r.json()) == (403, REFUSED)
    (check,) = state.recaptcha_checks
    assert (check.ok, check.reason, check.path) == (False, reason, CREATE)
    assert state.sessions.get(state.create_requests[0].body["id"]) is None


async def test_a_token_minted_outside_the_arena_page_is_refused(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    token = await mint(client, state, origin="https://lmarena.ai")
    r = await post_with(client, {"recaptchaV3Token": token})
    assert r.status_code == 403 and state.recaptcha_checks[-1].reason == "minted elsewhere"


async def test_fail_recaptcha_refuses_good_tokens_and_spends_them(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.fail_recaptcha(count=2)
    tokens = [await mint(client, state) for _ in range(3)]
    statuses = [(await post_with(client, {"recaptchaV3Token": t})).status_code for t in tokens]
    assert statuses == [403, 403, 200]
    assert [c.reason for c in state.recaptcha_checks] == ["forced failure"] * 2 + ["ok"]
    reused = await post_with(client, {"recaptchaV3Token": tokens[0]})
    assert reused.status_code == 403 and state.recaptcha_checks[-1].reason == "reused"


async def test_the_v2_resend_of_the_same_body_is_accepted_after_a_403(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    body = create_body()  # the site resends the same ids after a reCAPTCHA refusal
    assert (await post_with(client, {**body, "recaptchaV3Token": None})).status_code == 403
    assert (await send(client, state, CREATE, body)).status_code == 200


async def test_reset_restores_the_recaptcha_knobs_but_never_revives_a_token(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    token = await mint(client, state)
    assert (await post_with(client, {"recaptchaV3Token": token})).status_code == 200
    state.recaptcha_mode = "unavailable"
    state.recaptcha_token_max_age = 1
    state.fail_recaptcha()
    state.page_has_recaptcha_script = False
    state.reset()
    assert (state.recaptcha_mode, state.recaptcha_token_max_age,
            state.recaptcha_forced_failures, state.page_has_recaptcha_script) == (
        "ok", 120.0, 0, True)
    assert state.recaptcha_checks == [] and state.recaptcha_mints == []
    assert (await post_with(client, {"recaptchaV3Token": token})).status_code == 403
