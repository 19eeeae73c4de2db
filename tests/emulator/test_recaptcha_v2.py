"""The visible reCAPTCHA v2 step: low-score modes and the checks on ``recaptchaV2Token``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.site_emulator import (
    DEFAULT_RECAPTCHA_SITEKEY,
    DEFAULT_RECAPTCHA_V2_SITEKEY,
    MINT_PATH,
    V2_CHECKBOX_ID,
    EmulatorState,
)

from .conftest import ARENA, CREATE, create_body, mint

REFUSED = {"error": "recaptcha validation failed"}


async def mint_v2(client: httpx.AsyncClient, state: EmulatorState, origin: str = ARENA,
                  sitekey: str | None = None) -> httpx.Response:
    """What the fake widget's click does: a v2 token for the v2 sitekey."""
    return await client.post(
        f"https://www.google.com{MINT_PATH}", headers={"origin": origin},
        content=json.dumps({"sitekey": sitekey or state.recaptcha_v2_sitekey, "action": "",
                            "kind": "v2"}))


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(CREATE, content=json.dumps(body))


async def test_low_score_refuses_every_v3_token_and_takes_the_v2_resend(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.recaptcha_mode = "low_score"
    body = create_body("a person is needed")
    for _ in range(2):
        refused = await post(client, {**body, "recaptchaV3Token": await mint(client, state)})
        assert (refused.status_code, refused.json()) == (403, REFUSED)
    minted = await mint_v2(client, state)
    assert minted.status_code == 200
    # The site's page resends the same body (same ids) with the v2 token and no v3 field.
    done = await post(client, {**body, "recaptchaV2Token": minted.json()["token"]})
    assert done.status_code == 200, done.text
    assert [(c.kind, c.reason) for c in state.recaptcha_checks] == [
        ("v3", "low score"), ("v3", "low score"), ("v2", "ok")]
    assert [m.kind for m in state.recaptcha_mints] == ["v3", "v3", "v2"]
    assert state.recaptcha_mints[-1].sitekey == DEFAULT_RECAPTCHA_V2_SITEKEY
    assert body["id"] in state.sessions


async def test_v2_fails_refuses_the_v2_token_too(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.recaptcha_mode = "v2_fails"
    body = create_body()
    assert (await post(client, {**body, "recaptchaV3Token": await mint(client, state)})
            ).status_code == 403
    token = (await mint_v2(client, state)).json()["token"]
    refused = await post(client, {**body, "recaptchaV2Token": token})
    assert (refused.status_code, refused.json()) == (403, REFUSED)
    assert [(c.kind, c.reason) for c in state.recaptcha_checks] == [
        ("v3", "low score"), ("v2", "low score")]


# Each case: the body's token fields for a given state, and the reason logged.
V2Case = Callable[[EmulatorState], dict[str, Any]]
V2_CASES: dict[str, tuple[V2Case, str]] = {
    "null": (lambda s: {"recaptchaV2Token": None}, "null"),
    "empty": (lambda s: {"recaptchaV2Token": ""}, "empty"),
    "forged": (lambda s: {"recaptchaV2Token": "emu.eyJrIjoxfQ.AAAA"}, "bad signature"),
    "a v3 token": (lambda s: {"recaptchaV2Token": s.mint_recaptcha_token("chat_submit")},
                   "not a v2 token"),
    "expired": (lambda s: {"recaptchaV2Token": s.mint_recaptcha_token(
        "", kind="v2", issued_at=time.time() - 121)}, "expired"),
    "v3 sitekey": (lambda s: {"recaptchaV2Token": s.mint_recaptcha_token(
        "", kind="v2", sitekey=DEFAULT_RECAPTCHA_SITEKEY)}, "wrong sitekey"),
    "minted elsewhere": (lambda s: {"recaptchaV2Token": s.mint_recaptcha_token(
        "", kind="v2", origin="https://lmarena.ai")}, "minted elsewhere"),
    "with a v3 token": (lambda s: {"recaptchaV2Token": s.mint_recaptcha_token("", kind="v2"),
                                   "recaptchaV3Token": s.mint_recaptcha_token("chat_submit")},
                        "v3 and v2 together"),
}


@pytest.mark.parametrize("case", V2_CASES)
async def test_bad_v2_tokens_are_refused(
    case: str, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    make, reason = V2_CASES[case]
    r = await post(client, {**create_body(), **make(state)})
    assert (r.status_code, r.json()) == (403, REFUSED)
    (check,) = state.recaptcha_checks
    assert (check.kind, check.ok, check.reason) == ("v2", False, reason)


async def test_a_v2_token_works_once_and_not_as_a_v3_token(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    token = (await mint_v2(client, state)).json()["token"]
    assert (await post(client, {**create_body(), "recaptchaV2Token": token})).status_code == 200
    again = await post(client, {**create_body(), "recaptchaV2Token": token})
    assert again.status_code == 403 and state.recaptcha_checks[-1].reason == "reused"
    other = (await mint_v2(client, state)).json()["token"]
    as_v3 = await post(client, {**create_body(), "recaptchaV3Token": other})
    assert as_v3.status_code == 403 and state.recaptcha_checks[-1].reason == "not a v3 token"


async def test_the_mint_endpoint_gives_v2_tokens_only_for_the_v2_sitekey(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    wrong = await mint_v2(client, state, sitekey=state.recaptcha_sitekey)
    assert wrong.status_code == 400
    state.recaptcha_v2_sitekey = "6Lc-other-v2-key"
    assert (await mint_v2(client, state)).status_code == 200
    assert state.recaptcha_mints[-1].sitekey == "6Lc-other-v2-key"


async def test_the_script_draws_a_clickable_widget_for_the_v2_sitekey(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    js = (await client.get("https://www.google.com/recaptcha/enterprise.js?render=x")).text
    assert DEFAULT_RECAPTCHA_V2_SITEKEY in js and V2_CHECKBOX_ID in js and "render(" in js


def test_reset_restores_the_v2_knobs() -> None:
    state = EmulatorState()
    state.recaptcha_mode = "low_score"
    state.recaptcha_v2_sitekey = "other"
    state.reset()
    assert (state.recaptcha_mode, state.recaptcha_v2_sitekey) == (
        "ok", DEFAULT_RECAPTCHA_V2_SITEKEY)
