"""End-to-end fixtures: the site emulator over TLS as https://arena.ai (and every other host
of ``MAPPED_HOSTS``: lmarena.ai's redirects, the fake reCAPTCHA on www.google.com), the
bridge, and real headless Chromium running our userscript (TEST_ENV.md §3).

Everything runs in the pytest-asyncio session loop; the expensive parts (servers, browser)
are session-scoped and tabs are reused between tests. The bridge runs with the default
``site_strategy`` ("create"); tests of the legacy strategy use the ``legacy_retry`` fixture.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import json5
import openai
import pytest

from tests.site_emulator import (
    IMAGE_MODEL_ID,
    MAPPED_HOSTS,
    STEALTH_MODEL_ID,
    TEXT_MODEL_ID,
    EmulatorState,
    create_emulator,
    make_cert,
    wait_for,
)
from tests.support.servers import RunningServer, start_server

CHROMIUM = "/usr/bin/chromium"
SITE = "https://arena.ai"
LEGACY_SITE = "https://lmarena.ai"  # the old name: everything there is a 301 to SITE
USERSCRIPT = (
    Path(__file__).resolve().parents[2]
    / "src/lmarena_bridge/userscript/lmarena-bridge.user.js"
)
DEFAULT_BRIDGE_URL = "http://127.0.0.1:5102"
CONNECTED = "✅"
HEARTBEAT_SECONDS = 0.5

# Proven flags (TEST_ENV.md "Launch that worked"); the host rule is added per session.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@dataclass
class Emulator:
    state: EmulatorState
    server: RunningServer

    @property
    def port(self) -> int:
        return self.server.port


@dataclass
class Bridge:
    server: RunningServer
    config_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def app(self) -> Any:
        return self.server.app

    def ready_workers(self) -> int | None:
        """Ready tabs as the bridge's pool sees them (None if the pool is not reachable)."""
        try:
            return int(self.app.state.bridge.pool.ready_count)
        except AttributeError:
            return None


@pytest.fixture(scope="session")
async def emulator(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Emulator]:
    try:
        cert, key = make_cert(tmp_path_factory.mktemp("tls"))
    except RuntimeError as exc:
        pytest.skip(str(exc))
    state = EmulatorState()
    # A stalled answer must not hold up shutdown: give open streams one second.
    server = await start_server(
        create_emulator(state), lifespan="off", ssl_certfile=str(cert), ssl_keyfile=str(key),
        timeout_graceful_shutdown=1,
        date_header=False,  # the emulator sends its own Date: the site's clock (limits.py)
    )
    yield Emulator(state=state, server=server)
    await server.stop()


def bridge_files(state: EmulatorState) -> dict[str, Any]:
    """Config for the e2e bridge: the default strategy ("create"); for the legacy "retry"
    strategy the emulator's ids, tavern + bypass on; short waits."""
    direct, battle, foreign = state.direct_session, state.battle_session, state.foreign_session
    settings = {
        "session_id": direct.id,
        "message_id": direct.assistant("a").id,
        "id_updater_last_mode": "direct_chat",
        "id_updater_battle_target": "A",
        "bypass_enabled": True,
        "tavern_mode_enabled": True,
        "enable_auto_update": False,
        "queue_timeout_seconds": 2,
        "no_worker_timeout_seconds": 5,
        "first_byte_timeout_seconds": 15,
        # Short heartbeats: every test also checks that tabs answer pings (a tab that did
        # not would be closed after three intervals) and that pings keep the tab's watchdog quiet.
        "heartbeat_interval_seconds": HEARTBEAT_SECONDS,
    }
    models = {
        "echo-model": TEXT_MODEL_ID,
        "image-model": f"{IMAGE_MODEL_ID}:image",
        "battle-model": TEXT_MODEL_ID,
        "stealth-model": STEALTH_MODEL_ID,
        "foreign-model": TEXT_MODEL_ID,
    }
    endpoint_map = {
        "battle-model": {"session_id": battle.id, "message_id": battle.assistant("b").id,
                         "mode": "battle", "battle_target": "B"},
        # A session of another user: the site answers 401 for it.
        "foreign-model": {"session_id": foreign.id, "message_id": foreign.assistant("a").id,
                          "mode": "direct_chat"},
    }
    return {"config.jsonc": settings, "models.json": models,
            "model_endpoint_map.json": endpoint_map, "available_models.json": []}


@pytest.fixture(scope="session")
async def bridge(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Bridge]:
    try:
        from lmarena_bridge.http.app import create_app
    except ImportError as exc:  # the bridge core is developed in parallel
        pytest.skip(f"bridge not available: {exc}")
    config_dir = tmp_path_factory.mktemp("bridge-config")
    for name, content in bridge_files(emulator.state).items():
        # Plain JSON is valid JSONC.
        (config_dir / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
    server = await start_server(create_app(config_dir))
    yield Bridge(server=server, config_dir=config_dir)
    await server.stop()


def userscript_for(bridge_url: str) -> str:
    """The userscript as the bridge serves it: every default address replaced by ours."""
    return USERSCRIPT.read_text(encoding="utf-8").replace(DEFAULT_BRIDGE_URL, bridge_url)


@pytest.fixture(scope="session")
async def browser(emulator: Emulator) -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    rules = ", ".join(f"MAP {host}:443 127.0.0.1:{emulator.port}" for host in MAPPED_HOSTS)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"],
        )
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
async def context(browser: Any, bridge: Bridge) -> AsyncIterator[Any]:
    ctx = await browser.new_context(ignore_https_errors=True)
    # As Tampermonkey would; the script's own guard keeps it off about:blank and iframes.
    await ctx.add_init_script(script=userscript_for(bridge.url))
    yield ctx
    await ctx.close()


class Tabs:
    """Site tabs with the userscript, reused across tests.

    Tab ``i`` is opened at ``/?tab=i`` so the emulator can tell tabs apart by ``Referer``.
    """

    def __init__(self, context: Any, bridge: Bridge) -> None:
        self.context = context
        self.bridge = bridge
        self.pages: list[Any] = []
        self._opened = 0

    @staticmethod
    def tab_of(referer: str | None) -> str | None:
        return referer.split("tab=")[-1] if referer and "tab=" in referer else None

    async def ensure(self, n: int, timeout: float = 10.0) -> list[Any]:
        """Exactly ``n`` open, connected, ready tabs (closing extras, opening missing ones)."""
        self.pages = [p for p in self.pages if not p.is_closed()]
        while len(self.pages) > n:
            await self.pages.pop().close()
        while len(self.pages) < n:
            page = await self.context.new_page()
            self._opened += 1
            await page.goto(f"{SITE}/?tab={self._opened}")
            self.pages.append(page)
        await self.wait_ready(timeout)
        return list(self.pages)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        for page in self.pages:
            await page.wait_for_function(
                f"document.title.includes({json.dumps(CONNECTED)})", timeout=timeout * 1000
            )
        # The badge means "hello acknowledged"; the pool must also have the status report.
        if self.bridge.ready_workers() is not None:
            await wait_for(lambda: self.bridge.ready_workers() == len(self.pages), timeout,
                           what=f"{len(self.pages)} ready workers in the bridge")

    @staticmethod
    def name_of(page: Any) -> str:
        return page.url.split("tab=")[-1]


@pytest.fixture(scope="session")
async def tabs(context: Any, bridge: Bridge) -> Tabs:
    return Tabs(context, bridge)


@pytest.fixture(autouse=True)
async def _fresh_accounts(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Cooldowns, budgets and the site clock a test left in the bridge do not reach the next."""
    yield
    if "bridge" in request.fixturenames:
        pool = request.getfixturevalue("bridge").app.state.bridge.pool
        pool.clear_accounts()
        pool.clock.offset = None


@pytest.fixture
async def site(emulator: Emulator) -> AsyncIterator[EmulatorState]:
    """The emulator state, back to defaults before and after each test."""
    emulator.state.reset()
    yield emulator.state
    emulator.state.reset()


def edit_settings(bridge: Bridge, **values: Any) -> None:
    """Change config.jsonc of the running bridge the way a user would (the bridge reloads
    it; the reload is done here at once rather than left to the file watcher)."""
    path = bridge.config_dir / "config.jsonc"
    data = json5.loads(path.read_text(encoding="utf-8"))
    data.update(values)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    store = bridge.app.state.bridge.config_store
    store.reload()
    assert not store.problems, store.problems
    for key, value in values.items():
        assert getattr(store.current.settings, key) == value, key


@pytest.fixture
async def settings(bridge: Bridge) -> AsyncIterator[Callable[..., None]]:
    """``settings(key=value, ...)`` edits config.jsonc for one test; restored afterwards."""
    path = bridge.config_dir / "config.jsonc"
    saved = path.read_bytes()
    yield lambda **values: edit_settings(bridge, **values)
    if path.read_bytes() != saved:
        path.write_bytes(saved)
        bridge.app.state.bridge.config_store.reload()


@pytest.fixture
async def legacy_retry(settings: Callable[..., None]) -> None:
    """The bridge on the legacy ``"site_strategy": "retry"`` for one test."""
    settings(site_strategy="retry")


@pytest.fixture
async def client(bridge: Bridge) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{bridge.url}/v1", api_key="x", max_retries=0, timeout=30
    ) as c:
        yield c


def scripted(site: EmulatorState, *answers: str) -> list[str]:
    """The site answers these texts in turn; returns the list of prompts it was sent."""
    queue = list(answers)
    prompts: list[str] = []

    def answer_for(body: dict[str, Any]) -> str:
        prompts.append(str(body.get("userMessage", {}).get("content", "")))
        return queue.pop(0)

    site.answer_for = answer_for
    return prompts
