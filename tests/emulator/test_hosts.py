"""Routing by Host: arena.ai serves, lmarena.ai redirects, Google's hosts serve reCAPTCHA."""

from __future__ import annotations

import httpx
import pytest

from tests.site_emulator import MAPPED_HOSTS, MINT_PATH, EmulatorState, create_emulator
from tests.site_emulator.tls import SITE_HOSTS

from .conftest import CREATE, create_body, send


@pytest.mark.parametrize(("url", "location"), [
    ("https://lmarena.ai/nextjs-api/stream/create-evaluation?x=1",
     "https://arena.ai/nextjs-api/stream/create-evaluation?x=1"),
    ("https://lmarena.ai/c/abc", "https://arena.ai/c/abc"),
    ("https://beta.lmarena.ai/", "https://arena.ai/"),
])
async def test_lmarena_answers_301_to_arena(
    url: str, location: str, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    r = await client.post(url, content=b"{}")
    assert (r.status_code, r.headers["location"]) == (301, location)
    assert state.redirects[-1].status == 301
    assert state.requests == []  # the app itself never saw it


async def test_a_followed_301_turns_the_post_into_a_get_which_the_endpoint_refuses(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    r = await client.post(f"https://lmarena.ai{CREATE}", json=create_body(),
                          follow_redirects=True)
    assert r.status_code == 405
    assert [(q.method, q.status) for q in state.create_requests] == [("GET", 405)]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_wrong_method_on_a_stream_endpoint_is_405(
    method: str, client: httpx.AsyncClient
) -> None:
    r = await client.request(method, CREATE)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"


async def test_an_unlisted_host_is_served_as_arena(state: EmulatorState) -> None:
    transport = httpx.ASGITransport(app=create_emulator(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        r = await c.get("/")
    assert r.status_code == 200 and "__next_f" in r.text  # the chat page


@pytest.mark.parametrize("host", ["www.google.com", "www.recaptcha.net"])
async def test_recaptcha_hosts_serve_the_script_and_mint_with_cors(
    host: str, client: httpx.AsyncClient, state: EmulatorState
) -> None:
    js = await client.get(f"https://{host}/recaptcha/enterprise.js",
                          params={"render": state.recaptcha_sitekey})
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "enterprise" in js.text and f"https://{host}{MINT_PATH}" in js.text
    minted = await client.post(f"https://{host}{MINT_PATH}",
                               headers={"origin": "https://arena.ai"},
                               content=f'{{"sitekey":"{state.recaptcha_sitekey}",'
                                       '"action":"chat_submit"}')
    assert minted.status_code == 200
    assert minted.headers["access-control-allow-origin"] == "https://arena.ai"
    assert state.recaptcha_mints[-1].action == "chat_submit"


async def test_mint_refuses_another_sitekey(client: httpx.AsyncClient) -> None:
    r = await client.post(f"https://www.google.com{MINT_PATH}",
                          content='{"sitekey":"6Led_uYrAAAAAKjxDIF58fgFtX3t8loNAK85bW9I",'
                                  '"action":"chat_submit"}')
    assert r.status_code == 400


async def test_unavailable_recaptcha_defines_nothing(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    state.recaptcha_mode = "unavailable"
    js = await client.get("https://www.google.com/recaptcha/enterprise.js")
    assert js.status_code == 200 and "enterprise =" not in js.text and "{" not in js.text


async def test_page_loads_the_recaptcha_script_unless_told_not_to(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    tag = ('<script src="https://www.google.com/recaptcha/enterprise.js?render='
           f'{state.recaptcha_sitekey}"')
    for path in ("/", "/text/direct", f"/c/{state.direct_session.id}"):
        page = await client.get(path)
        assert page.status_code == 200 and tag in page.text, path
    state.page_has_recaptcha_script = False
    assert "recaptcha/enterprise.js" not in (await client.get("/")).text
    assert len(state.page_loads) == 4


def test_the_certificate_names_every_mapped_host() -> None:
    assert set(MAPPED_HOSTS) <= set(SITE_HOSTS)


async def test_a_good_create_through_the_mapped_host(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    r = await send(client, state, CREATE, create_body())
    assert r.status_code == 200
    assert state.create_requests[-1].host == "arena.ai"
