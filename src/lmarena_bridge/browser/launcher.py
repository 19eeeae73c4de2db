"""Starting and closing one Chromium: its command line, the child process, a graceful close.

Chromium runs as a plain child in its own process group: no ``--enable-automation``, no
remote-debugging port or pipe (``--remote-debugging-pipe`` alone turns
``navigator.webdriver`` on), so the site sees an ordinary browser. The close is SIGINT to
the browser process: on SIGINT Chromium shuts down as when its last window closes and
writes its cookies; a SIGTERM'd headless Chromium loses the ones set in its last seconds
(tests/e2e/test_managed_browser.py checks the login cookie survives). Whatever is left
after the close (or a crash) is killed with its process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOSE_TIMEOUT_SECONDS = 8.0
LOG_NAME = "bridge-browser.log"  # Chromium's own output, in the profile folder
_LOAD_EXTENSION_FEATURE = "DisableLoadExtensionCommandLineSwitch"  # Chrome 137+ needs it off
_PR_SET_PDEATHSIG = 1
_PLATFORM_UA = {
    "linux": "X11; Linux x86_64",
    "darwin": "Macintosh; Intel Mac OS X 10_15_7",
    "win32": "Windows NT 10.0; Win64; x64",
}


@dataclass(frozen=True)
class LaunchPlan:
    """Everything one launch needs; ``command()`` is the command line."""

    executable: str
    profile: Path
    extension: Path
    url: str
    tabs: int
    headless: bool
    extra_args: Sequence[str] = ()
    user_agent: str | None = None  # only headless: its default one says "HeadlessChrome"
    as_root: bool = field(default_factory=lambda: hasattr(os, "geteuid") and os.geteuid() == 0)

    def command(self) -> list[str]:
        extra = list(self.extra_args)
        # Chromium reads only the last of a repeated switch: merge the user's into ours.
        features = [_LOAD_EXTENSION_FEATURE, *_take(extra, "--disable-features=")]
        extensions = [str(self.extension), *_take(extra, "--load-extension=")]
        args = [
            self.executable,
            f"--user-data-dir={self.profile}",
            f"--load-extension={','.join(extensions)}",
            "--no-first-run",
            "--no-default-browser-check",
            f"--disable-features={','.join(features)}",
        ]
        if self.headless:
            args.append("--headless=new")
            if self.user_agent and not any(a.startswith("--user-agent=") for a in extra):
                args.append(f"--user-agent={self.user_agent}")
        if self.as_root and "--no-sandbox" not in extra:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        return [*args, *extra, *([self.url] * self.tabs)]


def _take(args: list[str], prefix: str) -> list[str]:
    """Remove the ``prefix…`` switches from ``args``; their values."""
    values = [a[len(prefix):] for a in args if a.startswith(prefix)]
    args[:] = [a for a in args if not a.startswith(prefix)]
    return values


def user_agent_for(version_text: str) -> str | None:
    """The user agent of the same browser with a window (``Chrome/150.0.0.0``), from the
    output of ``--version``; None when it names no version."""
    m = re.search(r"(\d+)\.\d+\.\d+", version_text)
    if m is None:
        return None
    platform = _PLATFORM_UA.get(sys.platform, _PLATFORM_UA["linux"])
    return (f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{m[1]}.0.0.0 Safari/537.36")


async def browser_version(executable: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        executable, "--version", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return ""
    return out.decode(errors="replace")


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function that makes the browser get SIGINT (a graceful close) when the
    bridge dies without closing it (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGINT))

    return preexec


class BrowserProcess:
    """One running browser (its process group)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pid = proc.pid

    @classmethod
    async def spawn(cls, plan: LaunchPlan) -> BrowserProcess:
        plan.profile.mkdir(parents=True, exist_ok=True)
        with open(plan.profile / LOG_NAME, "wb") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *plan.command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,  # its own group: killed as one, no terminal Ctrl-C
                preexec_fn=_die_with_parent(),
            )
        return cls(proc)

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    async def wait(self) -> int:
        return await self.proc.wait()

    async def kill_leftovers(self, timeout: float = 3.0) -> None:
        """Kill whatever is left of the process group (helpers of a closed or crashed
        browser) and wait until they are gone."""
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            os.killpg(self.pid, signal.SIGKILL)
            while asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
                os.killpg(self.pid, 0)  # raises once no process of the group is left
        except (ProcessLookupError, PermissionError):
            pass

    async def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> int | None:
        """SIGINT, wait up to ``timeout`` for the browser to save and exit, then kill."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), timeout)
        await self.kill_leftovers()
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 2)
        return self.proc.returncode


async def bring_to_front(plan: LaunchPlan, pid: int) -> str:
    """Raise the browser's window; returns what was done, in a sentence.

    With ``xdotool`` installed its windows are activated; otherwise the browser is started
    again on the same profile, which hands the site's address to the running browser: it
    raises its window and opens the site in one more tab.
    """
    xdotool = shutil.which("xdotool")
    if xdotool:
        proc = await asyncio.create_subprocess_exec(
            xdotool, "search", "--onlyvisible", "--pid", str(pid), "windowactivate",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        if await proc.wait() == 0:
            return "The browser's window is in front."
    proc = await asyncio.create_subprocess_exec(
        plan.executable, f"--user-data-dir={plan.profile}",
        *(["--no-sandbox"] if plan.as_root else []), plan.url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), 10)
    return "Asked the browser to come to the front (it opened the site in one more tab)."
