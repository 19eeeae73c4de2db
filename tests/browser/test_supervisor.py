"""The supervisor with a stand-in browser (a shell script): restarts with backoff, closes
the whole process group, refuses a start it cannot fix."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from lmarena_bridge.browser import supervisor as sup
from lmarena_bridge.browser.supervisor import BrowserOptions, BrowserSupervisor
from lmarena_bridge.config.model import Settings
from tests.site_emulator import wait_for


def fake_browser(folder: Path, body: str) -> Path:
    path = folder / "fake-chromium"
    version = 'if [ "$1" = --version ]; then echo "Chromium 150.0.7871.100"; exit 0; fi'
    path.write_text(f"#!/bin/sh\n{version}\n{body}\n")
    path.chmod(0o755)
    return path


def supervisor(tmp_path: Path, exe: Path, seen: list[dict[str, object]]) -> BrowserSupervisor:
    settings = Settings(browser_executable=str(exe), browser_profile_dir=str(tmp_path / "prof"))
    return BrowserSupervisor(BrowserOptions("http://127.0.0.1:5102", headless=True),
                             lambda: settings, tmp_path, on_change=seen.append)


def alive(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


async def test_crashing_browser_is_restarted_with_growing_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sup, "BACKOFF_MIN_SECONDS", 0.05)
    seen: list[dict[str, object]] = []
    s = supervisor(tmp_path, fake_browser(tmp_path, "exit 3"), seen)
    s.start()
    try:
        await wait_for(lambda: s.restarts >= 3, 5, what="three restarts")
    finally:
        await s.stop()
    waits = [m["message"] for m in seen if m["state"] == "restarting"]
    assert waits[:3] == [f"The browser exited (code 3); starting it again in {d:g} s."
                         for d in (0.05, 0.1, 0.2)]
    assert seen[-1]["state"] == "stopped"
    # The extension was built into the profile, the page script with the bridge's address.
    script = (tmp_path / "prof" / sup.EXTENSION_FOLDER / "lmarena-bridge.user.js").read_text()
    assert 'const BRIDGE_URL = "http://127.0.0.1:5102"' in script


async def test_stop_closes_the_browser_and_its_helpers(tmp_path: Path) -> None:
    marker = f"7{os.getpid()}"  # sleep's argument: unique to this test run
    exe = fake_browser(tmp_path, f"sleep {marker}0 &\nexec sleep {marker}1")
    seen: list[dict[str, object]] = []
    s = supervisor(tmp_path, exe, seen)
    s.start()
    await wait_for(lambda: s.state == "running" and len(alive(marker)) == 2, 5,
                   what="the fake browser and its helper")
    assert s.status()["pid"] in alive(marker)
    await s.stop()
    assert alive(marker) == []
    assert s.status()["state"] == "stopped" and s.status()["pid"] is None


async def test_missing_browser_is_not_retried(tmp_path: Path) -> None:
    seen: list[dict[str, object]] = []
    s = supervisor(tmp_path, tmp_path / "nothing-here", seen)
    s.start()
    await wait_for(lambda: s.state == "not_found", 5, what="not_found")
    await asyncio.sleep(0.2)
    assert s.restarts == 0 and s.process is None
    assert "sudo apt-get install chromium" in s.message
    await s.stop()
