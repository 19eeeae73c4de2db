"""``serve --browser --headless`` end to end: the bridge runs its own Chromium (a plain child
process with the extension built from the userscript) against the site emulator, mapped
onto arena.ai with ``browser_args``. One managed bridge serves the module's first tests;
the later ones stop it and start it again on the same profile (tests run in file order).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from lmarena_bridge.browser.supervisor import BrowserOptions
from lmarena_bridge.http.app import create_app, uvicorn_options
from tests.site_emulator import MAPPED_HOSTS, wait_for
from tests.support.servers import RunningServer, free_socket, start_server

from .conftest import CHROMIUM, Emulator, bridge_files

READY_TIMEOUT = 25.0
PROMPT = "Hello from the managed browser ✓"


@dataclass
class Managed:
    server: RunningServer
    config_dir: Path
    profile: Path

    @property
    def bridge(self) -> Any:
        return self.server.app.state.bridge

    @property
    def url(self) -> str:
        return self.server.url

    async def ready(self, timeout: float = READY_TIMEOUT) -> None:
        await wait_for(lambda: self.bridge.pool.ready_count >= 1, timeout,
                       what="a managed tab ready in the bridge")


def browser_args(emulator: Emulator, probe_extension: Path | None = None) -> list[str]:
    rules = ", ".join(f"MAP {host}:443 127.0.0.1:{emulator.port}" for host in MAPPED_HOSTS)
    args = [f"--host-resolver-rules={rules}", "--ignore-certificate-errors", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    if probe_extension is not None:
        args.append(f"--load-extension={probe_extension}")  # merged with the bridge's own
    return args


async def start_managed(emulator: Emulator, config_dir: Path, profile: Path,
                        **settings: Any) -> Managed:
    files = bridge_files(emulator.state)
    files["config.jsonc"].update({"browser_profile_dir": str(profile),
                                  "browser_headless": True, **settings})
    config_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (config_dir / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
    sock = free_socket()
    port = sock.getsockname()[1]
    app = create_app(config_dir, browser=BrowserOptions(f"http://127.0.0.1:{port}",
                                                        headless=True))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning",
                                           access_log=False, **uvicorn_options()))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_for(lambda: server.started or task.done(), 10, what="the bridge listening")
    return Managed(RunningServer(server=server, task=task, port=port, app=app),
                   config_dir, profile)


def browser_pids(profile: Path) -> list[int]:
    """Processes whose command line names ``profile`` (the browser and its helpers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(profile).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


async def ask(url: str) -> tuple[str, str | None, str]:
    """A streamed and a non-stream answer through the real openai SDK."""
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0,
                                  timeout=30) as client:
        stream = await client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": PROMPT}], stream=True)
        text, finish = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
        done = await client.chat.completions.create(
            model="echo-model", messages=[{"role": "user", "content": PROMPT}])
    return text, finish, done.choices[0].message.content or ""


# -- a probe extension that reports what the page sees ---------------------------------------

PROBE_JS = """
fetch("http://127.0.0.1:%d/probe?webdriver=" + navigator.webdriver +
      "&ua=" + encodeURIComponent(navigator.userAgent), {mode: "no-cors"});
"""


@dataclass
class Probe:
    server: RunningServer
    folder: Path
    seen: list[dict[str, str]]


@pytest.fixture(scope="module")
async def probe(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Probe]:
    seen: list[dict[str, str]] = []

    async def record(request: Request) -> Response:
        seen.append(dict(request.query_params))
        return Response("")

    app = Starlette()
    app.add_route("/probe", record)
    server = await start_server(app, lifespan="off")
    folder = tmp_path_factory.mktemp("probe-extension")
    (folder / "manifest.json").write_text(json.dumps({
        "manifest_version": 3, "name": "probe", "version": "1.0",
        "content_scripts": [{"matches": ["https://arena.ai/*"], "js": ["probe.js"],
                             "world": "MAIN", "run_at": "document_end"}],
    }))
    (folder / "probe.js").write_text(PROBE_JS % server.port)
    yield Probe(server, folder, seen)
    await server.stop()


@pytest.fixture(scope="module")
async def managed(emulator: Emulator, probe: Probe,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Managed]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    emulator.state.reset()
    root = tmp_path_factory.mktemp("managed")
    run = await start_managed(emulator, root / "config", root / "profile",
                              browser_args=browser_args(emulator, probe.folder))
    yield run
    await run.server.stop()
    emulator.state.reset()


# -- the tests --------------------------------------------------------------------------------


async def test_tab_connects_by_itself_and_answers(managed: Managed) -> None:
    await managed.ready()
    status = managed.bridge.browser.status()
    assert status["state"] == "running" and status["pid"] and status["headless"]
    assert status["tabs"] == ["https://arena.ai/"]
    text, finish, whole = await ask(managed.url)
    assert text == whole == f"Echo: {PROMPT}"
    assert finish == "stop"


async def test_page_sees_no_automation(managed: Managed, probe: Probe) -> None:
    await managed.ready()
    await wait_for(lambda: bool(probe.seen), 10, what="the probe's report")
    report = probe.seen[-1]
    assert report["webdriver"] == "false"
    assert "HeadlessChrome" not in report["ua"] and "Chrome/" in report["ua"]
    cmdline = Path(f"/proc/{managed.bridge.browser.status()['pid']}/cmdline").read_bytes()
    assert b"--enable-automation" not in cmdline
    assert b"--remote-debugging" not in cmdline


async def test_monitor_and_health_show_the_browser(managed: Managed) -> None:
    await managed.ready()
    async with httpx.AsyncClient(base_url=managed.url) as http:
        body = (await http.get("/health/ready")).json()
    assert body["browser"]["state"] == "running"
    assert body["browser"]["pid"] == managed.bridge.browser.status()["pid"]
    assert managed.bridge.monitor.snapshot()["browser"]["state"] == "running"


async def test_monitor_page_shows_the_browser(managed: Managed, browser: Any) -> None:
    await managed.ready()
    ctx = await browser.new_context()
    try:
        page = await ctx.new_page()
        await page.goto(f"{managed.url}/monitor")
        panel = page.get_by_test_id("browser")
        await panel.get_by_text("running").wait_for(timeout=5000)
        text = await panel.inner_text()
        pid = managed.bridge.browser.status()["pid"]
        assert f"pid {pid}" in text and "headless" in text and "https://arena.ai/" in text
        assert await page.get_by_test_id("browser-front").count() == 0  # no window to raise
    finally:
        await ctx.close()


async def test_headless_tab_needing_a_person_says_to_run_with_a_window(
    managed: Managed, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    await managed.ready()
    site, pool = emulator.state, managed.bridge.pool
    site.challenge_active = True
    try:
        for worker in list(pool.workers.values()):
            managed.bridge.relay.command(worker, "refresh")
        await wait_for(lambda: bool(pool.needing_human), 10, what="the tab showing the check")
        async with httpx.AsyncClient(base_url=managed.url) as http:
            body = (await http.get("/health/ready")).json()
        [need] = body["needs_human"]
        assert "runs headless" in need["action"] and "without --headless" in need["action"]
        assert any("needs you" in r.message and "runs headless" in r.message
                   for r in caplog.records), "the log says it too"
    finally:
        site.challenge_active = False
        for worker in list(pool.workers.values()):
            managed.bridge.relay.command(worker, "refresh")
    await wait_for(lambda: pool.ready_count >= 1 and not pool.needing_human, 10,
                   what="the tab ready again")


async def test_killed_browser_is_back_and_serving(managed: Managed) -> None:
    await managed.ready()
    supervisor = managed.bridge.browser
    old_pid = supervisor.status()["pid"]
    killed_at = time.monotonic()
    os.kill(old_pid, signal.SIGKILL)
    await wait_for(lambda: supervisor.status()["pid"] not in (None, old_pid), 10,
                   what="a new browser process")
    await wait_for(lambda: managed.bridge.pool.ready_count >= 1
                   and all(w.page for w in managed.bridge.pool.workers.values()), READY_TIMEOUT,
                   what="the new browser's tab ready")
    text, _, whole = await ask(managed.url)
    assert text == whole == f"Echo: {PROMPT}"
    assert time.monotonic() - killed_at < 15
    assert supervisor.status()["restarts"] == 1


async def test_stop_leaves_no_process_and_profile_keeps_login(
    managed: Managed, emulator: Emulator
) -> None:
    await managed.ready()
    site = emulator.state
    assert site.auto_login  # this run was logged in by the page load (a fresh cookie)
    await managed.server.stop()
    assert browser_pids(managed.profile) == []
    # Second run on the same profile, the site signing no one in: the saved cookie must do.
    site.auto_login = False
    second = await start_managed(emulator, managed.config_dir, managed.profile,
                                 browser_args=browser_args(emulator))
    try:
        await second.ready()
        text, _, whole = await ask(second.url)
        assert text == whole == f"Echo: {PROMPT}"
        assert all(r.status == 200 for r in site.create_requests)
    finally:
        await second.server.stop()
    assert browser_pids(managed.profile) == []


# -- start problems: the bridge serves without its browser ------------------------------------


async def test_missing_executable_starts_without_browser(
    emulator: Emulator, tmp_path: Path
) -> None:
    run = await start_managed(emulator, tmp_path / "config", tmp_path / "profile",
                              browser_executable=str(tmp_path / "no-such-chromium"))
    try:
        supervisor = run.bridge.browser
        await wait_for(lambda: supervisor.state == "not_found", 5, what="not_found")
        assert "sudo apt-get install chromium" in supervisor.message
        assert str(tmp_path / "no-such-chromium") in supervisor.message
        async with httpx.AsyncClient(base_url=run.url) as http:
            ready = await http.get("/health/ready")
        assert ready.status_code == 503  # serving, with no tab
        assert ready.json()["browser"]["state"] == "not_found"
        assert any(e["source"] == "browser" for e in run.bridge.monitor.errors)
    finally:
        await run.server.stop()


async def test_locked_profile_is_refused_and_nothing_killed(
    emulator: Emulator, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    profile = tmp_path / "profile"
    other = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", f"--user-data-dir={profile}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        await wait_for(lambda: (profile / "SingletonLock").is_symlink(), 10,
                       what="the other browser's profile lock")
        run = await start_managed(emulator, tmp_path / "config", profile)
        try:
            supervisor = run.bridge.browser
            await wait_for(lambda: supervisor.state == "profile_locked", 5,
                           what="profile_locked")
            assert "in use by another browser" in supervisor.message
            assert str(profile) in supervisor.message
        finally:
            await run.server.stop()
        assert other.poll() is None  # the other browser still runs
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        other.wait(5)
