"""``lmarena-bridge serve --browser --headless`` as a user runs it: the bridge process starts
its Chromium, and stopping the bridge (SIGTERM, Ctrl-C) leaves no browser process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lmarena_bridge.cli import build_parser, startup_lines
from tests.support.servers import free_socket

CHROMIUM = "/usr/bin/chromium"


def processes_naming(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_flags_and_startup_lines() -> None:
    args = build_parser().parse_args(["serve", "--browser", "--headless"])
    assert args.browser and args.headless
    lines = startup_lines("127.0.0.1", 5102, api_key_set=False, browser="with a window")
    assert any("http://127.0.0.1:5102/extension.zip" in line for line in lines)
    assert any("log in to arena.ai in its window" in line for line in lines)
    assert not any("No browser tab connected" in line for line in lines)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_bridge_leaves_no_browser(tmp_path: Path, stop_signal: int) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    profile = tmp_path / "profile"
    (tmp_path / "config.jsonc").write_text(json.dumps({
        "browser_profile_dir": str(profile),
        # Nothing is reached: every host name goes to a closed port.
        "browser_args": ["--host-resolver-rules=MAP * 127.0.0.1:9", "--disable-gpu"],
    }))
    with free_socket() as sock:
        port = sock.getsockname()[1]
    bridge = subprocess.Popen(
        [sys.executable, "-m", "lmarena_bridge", "--browser", "--headless", "--port", str(port),
         "--config-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "DISPLAY": ""},
    )
    try:
        status = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health/ready").json()["browser"]
            except (httpx.HTTPError, KeyError, ValueError):
                status = None
            if status and status["state"] == "running":
                break
            time.sleep(0.2)
        assert status and status["state"] == "running", status
        assert status["pid"] in processes_naming(str(profile))
        bridge.send_signal(stop_signal)
        out, _ = bridge.communicate(timeout=20)
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()
    assert processes_naming(str(profile)) == []
    assert "Starting the bridge's own browser (headless)" in out
    assert "managed browser closed" in out
