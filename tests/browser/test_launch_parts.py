"""Finding the executable, the profile lock, and the command line (no browser started)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from lmarena_bridge.browser.executable import BrowserNotFound, find_browser
from lmarena_bridge.browser.launcher import LaunchPlan, user_agent_for
from lmarena_bridge.browser.profile import (
    LOCK_NAME,
    ProfileLocked,
    check_profile_free,
    lock_holder,
    profile_dir,
)


def program(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_nothing_found_names_what_was_looked_for_and_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(BrowserNotFound) as exc:
        find_browser("", debian_path=str(tmp_path / "chromium"), path=str(tmp_path))
    message = str(exc.value)
    assert str(tmp_path / "chromium") in message
    for name in ("chromium-browser", "google-chrome"):
        assert name in message
    assert "sudo apt-get install chromium" in message
    assert "browser_executable" in message


def test_debian_chromium_first_then_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    chrome = program(bin_dir, "google-chrome")
    assert find_browser("", debian_path=str(tmp_path / "none"), path=str(bin_dir)) == str(chrome)
    debian = program(tmp_path, "chromium")
    assert find_browser("", debian_path=str(debian), path=str(bin_dir)) == str(debian)


def test_configured_executable_by_path_or_name(tmp_path: Path) -> None:
    mine = program(tmp_path, "my-chrome")
    assert find_browser(str(mine)) == str(mine)
    assert find_browser("my-chrome", path=str(tmp_path)) == str(mine)
    with pytest.raises(BrowserNotFound, match="no program is there"):
        find_browser(str(tmp_path / "missing"))


def test_profile_dir_default_and_relative(tmp_path: Path) -> None:
    assert profile_dir("", tmp_path) == tmp_path / "browser-profile"
    assert profile_dir("p", tmp_path) == tmp_path / "p"
    assert profile_dir(str(tmp_path / "abs"), Path("/elsewhere")) == tmp_path / "abs"


def test_profile_lock_of_a_live_process_is_reported(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        os.symlink(f"{socket.gethostname()}-{sleeper.pid}", tmp_path / LOCK_NAME)
        assert lock_holder(tmp_path) == (socket.gethostname(), sleeper.pid)
        held = f"in use by another browser .process {sleeper.pid}"
        with pytest.raises(ProfileLocked, match=held):
            check_profile_free(tmp_path)
        assert sleeper.poll() is None  # nothing killed
    finally:
        sleeper.kill()
        sleeper.wait()
    # The same lock once its process is gone is stale: Chromium takes the profile over.
    assert lock_holder(tmp_path) is None
    check_profile_free(tmp_path)


def test_no_lock_is_free(tmp_path: Path) -> None:
    assert lock_holder(tmp_path) is None


def plan(**kw: object) -> LaunchPlan:
    base: dict[str, object] = dict(executable="/usr/bin/chromium", profile=Path("/p"),
                                   extension=Path("/p/ext"), url="https://arena.ai/", tabs=2,
                                   headless=False, as_root=False)
    base.update(kw)
    return LaunchPlan(**base)  # type: ignore[arg-type]


def test_command_line_has_no_automation_switches() -> None:
    cmd = plan().command()
    assert cmd[0] == "/usr/bin/chromium"
    assert "--user-data-dir=/p" in cmd and "--load-extension=/p/ext" in cmd
    assert cmd[-2:] == ["https://arena.ai/", "https://arena.ai/"]
    for bad in ("--enable-automation", "--remote-debugging", "--headless", "--no-sandbox"):
        assert not any(a.startswith(bad) for a in cmd), bad


def test_headless_root_and_user_switches_are_merged() -> None:
    cmd = plan(headless=True, as_root=True, user_agent="UA",
               extra_args=("--disable-features=Foo", "--load-extension=/other",
                           "--proxy-server=x")).command()
    assert "--headless=new" in cmd and "--user-agent=UA" in cmd and "--no-sandbox" in cmd
    assert [a for a in cmd if a.startswith("--disable-features=")] == [
        "--disable-features=DisableLoadExtensionCommandLineSwitch,Foo"]
    assert [a for a in cmd if a.startswith("--load-extension=")] == [
        "--load-extension=/p/ext,/other"]
    assert "--proxy-server=x" in cmd
    own_ua = plan(headless=True, user_agent="UA", extra_args=("--user-agent=mine",)).command()
    assert "--user-agent=UA" not in own_ua and "--user-agent=mine" in own_ua


def test_user_agent_of_the_windowed_browser() -> None:
    ua = user_agent_for("Chromium 150.0.7871.100 built on Debian GNU/Linux 12 (bookworm)")
    assert ua is not None and "Chrome/150.0.0.0" in ua and "Headless" not in ua
    assert user_agent_for("") is None
